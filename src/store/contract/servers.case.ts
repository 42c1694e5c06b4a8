/** Store contract cases for servers (`ServerStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { rejectsWithCode, serverRecord } from './fixtures.case.js';
import type { ContractContext } from './harness.case.js';

export function serverCases(ctx: ContractContext): void {
  describe('servers', () => {
    beforeEach(async () => {
      const store = ctx.store();
      await store.createUser('ada');
      await store.createUser('bob');
    });

    test('claimServer stores the record; getServer returns it with Dates and its state JSON', async () => {
      const store = ctx.store();
      const record = serverRecord({
        state: { pid: 4242, nested: { list: [1, 'two', null, true], text: 'café ✓ "quoted"' }, empty: {} },
        lastActivity: new Date('2024-05-06T07:10:00.000Z'),
      });
      assert.equal(await store.claimServer(record), true);
      const found = await store.getServer('ada', '');
      assert.ok(found?.startedAt instanceof Date);
      assert.ok(found?.lastActivity instanceof Date);
      assert.deepEqual(found, record);
    });

    test('getServer of an unknown server is null', async () => {
      const store = ctx.store();
      assert.equal(await store.getServer('ada', ''), null);
      assert.equal(await store.getServer('nobody', ''), null);
    });

    test('a second claim for the same (user, name) is false and leaves the first row alone', async () => {
      const store = ctx.store();
      const first = serverRecord({ secret: 'first' });
      assert.equal(await store.claimServer(first), true);
      assert.equal(await store.claimServer(serverRecord({ secret: 'second', backend: 'docker' })), false);
      assert.deepEqual(await store.getServer('ada', ''), first);
    });

    test('many concurrent claims for one key: exactly one wins, and its record is stored', async () => {
      const store = ctx.store();
      const claims = Array.from({ length: 25 }, (_, i) => serverRecord({ secret: `secret-${i}` }));
      const results = await Promise.all(claims.map((c) => store.claimServer(c)));
      assert.equal(results.filter(Boolean).length, 1);
      const winner = claims[results.indexOf(true)];
      assert.deepEqual(await store.getServer('ada', ''), winner);
    });

    test('concurrent claims from two handles on one database: exactly one wins', {
      skip: ctx.secondHandleSkip,
    }, async () => {
      const store = ctx.store();
      await ctx.withSecondHandle(async (other) => {
        const claims = Array.from({ length: 20 }, (_, i) => serverRecord({ name: 'race', secret: `s-${i}` }));
        const results = await Promise.all(claims.map((c, i) => (i % 2 === 0 ? store : other).claimServer(c)));
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal((await other.getServer('ada', 'race'))?.secret, claims[results.indexOf(true)]?.secret);
      });
    });

    test('servers are keyed by user and name', async () => {
      const store = ctx.store();
      assert.equal(await store.claimServer(serverRecord()), true);
      assert.equal(await store.claimServer(serverRecord({ name: 'gpu' })), true);
      assert.equal(await store.claimServer(serverRecord({ userName: 'bob' })), true);
      assert.deepEqual(
        (await store.listServers()).map((s) => [s.userName, s.name]),
        [
          ['ada', ''],
          ['ada', 'gpu'],
          ['bob', ''],
        ],
      );
    });

    test('claimServer for an unknown user throws SIFU_ERR_USER_NOT_FOUND', async () => {
      const store = ctx.store();
      await assert.rejects(
        store.claimServer(serverRecord({ userName: 'nobody' })),
        rejectsWithCode('SIFU_ERR_USER_NOT_FOUND'),
      );
    });

    test('updateServer replaces state, url, status and lastActivity only', async () => {
      const store = ctx.store();
      const claimed = serverRecord({ state: { phase: 'starting' } });
      await store.claimServer(claimed);
      const lastActivity = new Date('2024-05-06T08:00:00.500Z');
      await store.updateServer({
        ...claimed,
        state: { containerId: 'abc123', ports: [8888] },
        url: 'http://127.0.0.1:45678',
        status: 'running',
        lastActivity,
        // Not mutable: these must be ignored.
        backend: 'docker',
        startedAt: new Date('2030-01-01T00:00:00.000Z'),
        host: 'elsewhere',
      });
      assert.deepEqual(await store.getServer('ada', ''), {
        ...claimed,
        state: { containerId: 'abc123', ports: [8888] },
        url: 'http://127.0.0.1:45678',
        status: 'running',
        lastActivity,
      });
    });

    test('updateServer after deleteServer does not bring the row back', async () => {
      const store = ctx.store();
      const claimed = serverRecord();
      await store.claimServer(claimed);
      await store.deleteServer('ada', '');
      await store.updateServer({ ...claimed, status: 'running', url: 'http://127.0.0.1:1' });
      assert.equal(await store.getServer('ada', ''), null);
    });

    test('updateServer changes nothing when the row is another start’s (another secret)', async () => {
      const store = ctx.store();
      const lost = serverRecord({ secret: 'first-start', host: 'h1' });
      await store.claimServer(lost);
      await store.deleteServer('ada', '');
      const next = serverRecord({ secret: 'second-start', host: 'h2' });
      await store.claimServer(next);
      await store.updateServer({
        ...lost,
        status: 'running',
        url: 'http://127.0.0.1:1',
        state: { stale: true },
      });
      assert.deepEqual(await store.getServer('ada', ''), next);
    });

    test('deleteServer with a secret deletes only that start’s row', async () => {
      const store = ctx.store();
      const next = serverRecord({ secret: 'second-start' });
      await store.claimServer(next);
      await store.deleteServer('ada', '', 'first-start');
      assert.deepEqual(await store.getServer('ada', ''), next);
      await store.deleteServer('ada', '', 'second-start');
      assert.equal(await store.getServer('ada', ''), null);
    });

    test('host round-trips through claim, get and list', async () => {
      const store = ctx.store();
      const onH1 = serverRecord({ host: 'h1' });
      const single = serverRecord({ userName: 'bob', host: null });
      await store.claimServer(onH1);
      await store.claimServer(single);
      assert.equal((await store.getServer('ada', ''))?.host, 'h1');
      assert.deepEqual(await store.listServers(), [onH1, single]);
      await store.updateServer({ ...onH1, status: 'running' });
      assert.equal((await store.getServer('ada', ''))?.host, 'h1');
    });

    test('touchServer records the last activity', async () => {
      const store = ctx.store();
      await store.claimServer(serverRecord());
      const at = new Date('2025-02-03T04:05:06.789Z');
      await store.touchServer('ada', '', at);
      assert.deepEqual((await store.getServer('ada', ''))?.lastActivity, at);
    });

    test('deleteServer removes only that server, and the key can be claimed again', async () => {
      const store = ctx.store();
      await store.claimServer(serverRecord());
      await store.claimServer(serverRecord({ name: 'gpu' }));
      await store.deleteServer('ada', '');
      assert.equal(await store.getServer('ada', ''), null);
      assert.notEqual(await store.getServer('ada', 'gpu'), null);
      assert.equal(await store.claimServer(serverRecord({ secret: 'again' })), true);
      assert.equal((await store.getServer('ada', ''))?.secret, 'again');
    });
  });
}
