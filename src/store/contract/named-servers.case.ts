/** Store contract cases for named servers that outlive their stop (`NamedServerStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rejectsWithCode } from './fixtures.case.js';
import type { ContractContext } from './harness.case.js';

export function namedServerCases(ctx: ContractContext): void {
  describe('named servers', () => {
    test('remembered with their options, replaced by a later start, listed by user then name', async () => {
      const store = ctx.store();
      await store.createUser('ada');
      await store.createUser('bob');
      await store.rememberNamedServer('bob', 'gpu', {});
      await store.rememberNamedServer('ada', 'gpu', { size: 1 });
      await store.rememberNamedServer('ada', 'cpu', {});
      await store.rememberNamedServer('ada', 'gpu', { size: 2 });
      const all = await store.listNamedServers();
      assert.deepEqual(
        all.map((s) => [s.userName, s.name, s.userOptions]),
        [
          ['ada', 'cpu', {}],
          ['ada', 'gpu', { size: 2 }],
          ['bob', 'gpu', {}],
        ],
      );
      assert.ok(all[0]?.createdAt instanceof Date);
      assert.equal(all[0]?.lastActivity, null);
      assert.deepEqual(
        (await store.listNamedServers('bob')).map((s) => s.name),
        ['gpu'],
      );
    });

    test('touch sets lastActivity; forget removes one, false when absent', async () => {
      const store = ctx.store();
      await store.createUser('ada');
      await store.rememberNamedServer('ada', 'gpu', {});
      const at = new Date('2024-05-06T07:08:09.123Z');
      await store.touchNamedServer('ada', 'gpu', at);
      await store.touchNamedServer('ada', 'absent', at);
      assert.deepEqual((await store.listNamedServers('ada'))[0]?.lastActivity, at);
      assert.equal(await store.forgetNamedServer('ada', 'gpu'), true);
      assert.equal(await store.forgetNamedServer('ada', 'gpu'), false);
      assert.deepEqual(await store.listNamedServers(), []);
    });

    test('an unknown user is SIFU_ERR_USER_NOT_FOUND; a deleted user takes theirs along', async () => {
      const store = ctx.store();
      await assert.rejects(
        store.rememberNamedServer('nobody', 'x', {}),
        rejectsWithCode('SIFU_ERR_USER_NOT_FOUND'),
      );
      await store.createUser('ada');
      await store.rememberNamedServer('ada', 'x', {});
      await store.deleteUser('ada');
      assert.deepEqual(await store.listNamedServers(), []);
    });
  });
}
