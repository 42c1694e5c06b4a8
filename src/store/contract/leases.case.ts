/** Store contract cases for the single-writer leases on homes (`LeaseStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { at } from './fixtures.case.js';
import type { ContractContext } from './harness.case.js';

export function leaseCases(ctx: ContractContext): void {
  describe('leases', () => {
    const now = at('2025-01-01T00:00:00.000Z');
    const later = at('2025-01-01T00:05:00.000Z');

    test('acquire an absent lease; another holder is refused while it lasts', async () => {
      const store = ctx.store();
      assert.equal(await store.acquireLease('ada', 'server-a', now, later), true);
      assert.equal(await store.acquireLease('ada', 'server-b', now, later), false);
      assert.deepEqual(await store.getLease('ada'), {
        userName: 'ada',
        holder: 'server-a',
        acquiredAt: now,
        expiresAt: later,
      });
      // Leases are per home: bob's is independent.
      assert.equal(await store.acquireLease('bob', 'server-b', now, later), true);
      assert.equal(await store.getLease('carol'), null);
    });

    test('the holder re-acquires (extends) its own lease, keeping acquiredAt', async () => {
      const store = ctx.store();
      await store.acquireLease('ada', 'server-a', now, later);
      const muchLater = at('2025-01-01T01:00:00.000Z');
      assert.equal(await store.acquireLease('ada', 'server-a', later, muchLater), true);
      assert.deepEqual(await store.getLease('ada'), {
        userName: 'ada',
        holder: 'server-a',
        acquiredAt: now,
        expiresAt: muchLater,
      });
    });

    test('an expired lease is taken over by the next holder', async () => {
      const store = ctx.store();
      await store.acquireLease('ada', 'crashed', now, later);
      assert.equal(await store.acquireLease('ada', 'server-b', later, at('2025-01-01T00:10:00.000Z')), true);
      assert.equal((await store.getLease('ada'))?.holder, 'server-b');
      assert.equal((await store.getLease('ada'))?.acquiredAt.getTime(), later.getTime());
      // The old holder can no longer renew or release it.
      assert.equal(await store.renewLease('ada', 'crashed', at('2030-01-01T00:00:00.000Z')), false);
      assert.equal(await store.releaseLease('ada', 'crashed'), false);
      assert.equal((await store.getLease('ada'))?.holder, 'server-b');
    });

    test('renew extends only for the holder; release frees it only for the holder', async () => {
      const store = ctx.store();
      await store.acquireLease('ada', 'server-a', now, later);
      const extended = at('2025-01-01T00:30:00.000Z');
      assert.equal(await store.renewLease('ada', 'server-a', extended), true);
      assert.deepEqual((await store.getLease('ada'))?.expiresAt, extended);
      assert.equal(await store.renewLease('ada', 'server-b', at('2031-01-01T00:00:00.000Z')), false);
      assert.equal(await store.releaseLease('ada', 'server-b'), false);
      assert.equal(await store.releaseLease('ada', 'server-a'), true);
      assert.equal(await store.getLease('ada'), null);
      assert.equal(await store.renewLease('ada', 'server-a', extended), false);
      assert.equal(await store.acquireLease('ada', 'server-b', now, later), true);
    });

    test('many concurrent acquires for one home: exactly one wins', async () => {
      const store = ctx.store();
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) => store.acquireLease('ada', `holder-${i}`, now, later)),
      );
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await store.getLease('ada'))?.holder, `holder-${results.indexOf(true)}`);
    });

    test('concurrent takeovers of an expired lease from two handles: exactly one wins', {
      skip: ctx.secondHandleSkip,
    }, async () => {
      const store = ctx.store();
      await store.acquireLease('ada', 'crashed', now, later);
      await ctx.withSecondHandle(async (other) => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 === 0 ? store : other).acquireLease(
              'ada',
              `holder-${i}`,
              later,
              at('2025-01-01T00:10:00.000Z'),
            ),
          ),
        );
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal((await other.getLease('ada'))?.holder, `holder-${results.indexOf(true)}`);
      });
    });
  });
}
