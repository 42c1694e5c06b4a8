/** Store contract cases for server uids (`UidStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContractContext } from './harness.case.js';

const RANGE = { base: 200_000, count: 3 };

export function userUidCases(ctx: ContractContext): void {
  describe('user uids', () => {
    test('allocates the lowest free uid of the range once per user, and keeps it', async () => {
      const store = ctx.store();
      assert.equal(await store.uidOf('ada', RANGE), 200_000);
      assert.equal(await store.uidOf('bob', RANGE), 200_001);
      assert.equal(await store.uidOf('ada', RANGE), 200_000, 'the same uid again');
      assert.equal(await store.uidOf('ada', { base: 300_000, count: 10 }), 200_000, 'even in a new range');
    });

    test('is null, recording nothing, when the range is used up', async () => {
      const store = ctx.store();
      for (const name of ['a', 'b', 'c']) assert.ok(await store.uidOf(name, RANGE));
      assert.equal(await store.uidOf('d', RANGE), null);
      assert.equal(await store.uidOf('d', { base: 200_000, count: 4 }), 200_003, 'nothing was recorded');
    });

    test('outlives its user: a deleted user keeps the uid, which no other user gets', async () => {
      const store = ctx.store();
      await store.createUser('ada');
      const uid = await store.uidOf('ada', RANGE);
      await store.deleteUser('ada');
      assert.notEqual(await store.uidOf('bob', RANGE), uid);
      assert.equal(await store.uidOf('ada', RANGE), uid);
    });

    test('concurrent allocations give one uid per user and never one uid to two users', async () => {
      const store = ctx.store();
      const names = Array.from({ length: 8 }, (_, i) => `u${i}`);
      const range = { base: 500, count: 100 };
      const uids = await Promise.all(names.flatMap((n) => [store.uidOf(n, range), store.uidOf(n, range)]));
      for (let i = 0; i < names.length; i += 1) assert.equal(uids[2 * i], uids[2 * i + 1]);
      assert.equal(new Set(uids).size, names.length);
    });

    test('two handles allocating at once agree', { skip: ctx.secondHandleSkip }, async () => {
      await ctx.withSecondHandle(async (other) => {
        const store = ctx.store();
        const range = { base: 1_000, count: 100 };
        const [a, b, c, d] = await Promise.all([
          store.uidOf('ada', range),
          other.uidOf('ada', range),
          store.uidOf('bob', range),
          other.uidOf('cy', range),
        ]);
        assert.equal(a, b);
        assert.equal(new Set([a, c, d]).size, 3);
      });
    });
  });
}
