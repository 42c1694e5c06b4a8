/** Store contract cases for the audit log (`EventStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContractContext } from './harness.case.js';

export function eventCases(ctx: ContractContext): void {
  describe('events', () => {
    test('listEvents returns events newest first, with their data and Dates', async () => {
      const store = ctx.store();
      const before = Date.now();
      await store.addEvent('user.signin', 'ada', { ip: '127.0.0.1', nested: { n: [1, 2] } });
      await store.addEvent('server.start', 'ada');
      await store.addEvent('token.create', null, { by: 'bootstrap' });
      const events = await store.listEvents();
      assert.deepEqual(
        events.map((e) => [e.type, e.userName, e.data]),
        [
          ['token.create', null, { by: 'bootstrap' }],
          ['server.start', 'ada', {}],
          ['user.signin', 'ada', { ip: '127.0.0.1', nested: { n: [1, 2] } }],
        ],
      );
      for (const event of events) {
        assert.equal(typeof event.id, 'number');
        assert.ok(event.at instanceof Date);
        assert.ok(event.at.getTime() >= before - 1000);
      }
      const ids = events.map((e) => e.id);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => b - a),
      );
      assert.equal(new Set(ids).size, 3);
    });

    test('listEvents filters by user and type, and limits to the newest', async () => {
      const store = ctx.store();
      for (let i = 0; i < 5; i++) await store.addEvent('server.start', 'ada', { i });
      await store.addEvent('server.stop', 'ada', { i: 5 });
      await store.addEvent('server.start', 'bob', { i: 6 });

      assert.deepEqual(
        (await store.listEvents({ userName: 'ada' })).map((e) => e.data.i),
        [5, 4, 3, 2, 1, 0],
      );
      assert.deepEqual(
        (await store.listEvents({ type: 'server.start' })).map((e) => e.data.i),
        [6, 4, 3, 2, 1, 0],
      );
      assert.deepEqual(
        (await store.listEvents({ userName: 'ada', type: 'server.start', limit: 2 })).map((e) => e.data.i),
        [4, 3],
      );
      assert.deepEqual(
        (await store.listEvents({ limit: 1 })).map((e) => e.data.i),
        [6],
      );
      assert.deepEqual(await store.listEvents({ userName: 'nobody' }), []);
      // The next page: older than the last one shown, with the same filters.
      const [, second] = await store.listEvents({ userName: 'ada', type: 'server.start', limit: 2 });
      assert.ok(second);
      assert.deepEqual(
        (
          await store.listEvents({ userName: 'ada', type: 'server.start', limit: 2, beforeId: second.id })
        ).map((e) => e.data.i),
        [2, 1],
      );
      const [oldest] = await store.listEvents({ userName: 'ada', limit: 1, beforeId: second.id - 2 });
      assert.equal(oldest?.data.i, 0);
      assert.deepEqual(await store.listEvents({ beforeId: 1 }), []);
    });
  });
}
