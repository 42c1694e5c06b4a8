/** Store contract cases for settings made once (`SettingStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContractContext } from './harness.case.js';

export function settingCases(ctx: ContractContext): void {
  describe('settings', () => {
    test('the first value is stored and returned; later calls get it, whatever they offer', async () => {
      const store = ctx.store();
      assert.equal(await store.settingOrInit('relay-key', 'first'), 'first');
      assert.equal(await store.settingOrInit('relay-key', 'second'), 'first');
      assert.equal(await store.settingOrInit('storage-id', 'other'), 'other');
      assert.equal(await store.settingOrInit('relay-key', 'third'), 'first');
    });

    test('concurrent callers agree on one of their values', async () => {
      const store = ctx.store();
      const offered = Array.from({ length: 20 }, (_, i) => `value-${i}`);
      const results = await Promise.all(offered.map((v) => store.settingOrInit('key', v)));
      assert.equal(new Set(results).size, 1);
      assert.ok(offered.includes(results[0] as string));
    });

    test('concurrent callers on two handles agree', { skip: ctx.secondHandleSkip }, async () => {
      const store = ctx.store();
      await ctx.withSecondHandle(async (other) => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).settingOrInit('key', `v-${i}`)),
        );
        assert.equal(new Set(results).size, 1);
        assert.equal(await other.settingOrInit('key', 'late'), results[0]);
      });
    });
  });
}
