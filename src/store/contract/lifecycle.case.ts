/** Store contract cases for migrating and closing a store. Part of `storeContract`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContractContext } from './harness.case.js';

export function lifecycleCases(ctx: ContractContext): void {
  describe('migrate and close', () => {
    test('migrate() again keeps the data and the schema working', async () => {
      const store = ctx.store();
      await store.createUser('ada');
      await store.migrate();
      await store.migrate();
      assert.deepEqual(
        (await store.listUsers()).map((u) => u.name),
        ['ada'],
      );
      await store.createUser('bob');
      assert.equal((await store.listUsers()).length, 2);
    });

    test('migrate() called concurrently on an empty database', async () => {
      const fresh = await ctx.makeStore();
      try {
        await Promise.all([fresh.store.migrate(), fresh.store.migrate()]);
        await fresh.store.createUser('ada');
        assert.equal((await fresh.store.getUser('ada'))?.name, 'ada');
      } finally {
        await fresh.cleanup();
      }
    });

    test('migrate() from several handles at once on an empty database', {
      skip: ctx.secondHandleSkip,
    }, async () => {
      const fresh = await ctx.makeStore();
      try {
        const others = await Promise.all([ctx.reopen(fresh), ctx.reopen(fresh)]);
        try {
          await Promise.all([fresh.store.migrate(), ...others.map((o) => o.migrate())]);
          await others[0]?.createUser('ada');
        } finally {
          await Promise.all(others.map((o) => o.close()));
        }
        assert.equal((await fresh.store.getUser('ada'))?.name, 'ada');
      } finally {
        await fresh.cleanup();
      }
    });

    test('close() twice is harmless', async () => {
      const store = ctx.store();
      await store.close();
      await store.close();
    });
  });
}
