/** Store contract cases for hosts (`HostStore`): registration, fencing, draining, declaring gone. */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import type { HostLoad, ServerRecord, Store } from '../store.js';
import { at, serverRecord } from './fixtures.case.js';
import type { ContractContext } from './harness.case.js';

const load = (servers: number): HostLoad => ({
  servers,
  maxServers: 40,
  memAvailable: 8 * 2 ** 30,
  memPerServer: 2 ** 30,
});
const t0 = at('2025-03-01T10:00:00.000Z');
const t1 = at('2025-03-01T10:00:10.000Z');
const t2 = at('2025-03-01T10:01:00.000Z');
/** The lease holder of a server, as the core names it: by its secret, so each start holds its own. */
const holderOf = (server: ServerRecord) => `server:${server.secret}`;

export function hostCases(ctx: ContractContext): void {
  describe('hosts', () => {
    test('registerHost inserts a host at epoch 1 and getHost returns it', async () => {
      const store = ctx.store();
      const record = await store.registerHost({ id: 'h1', relayUrl: 'https://h1:3336', load: load(0) }, t0);
      const expected = {
        id: 'h1',
        relayUrl: 'https://h1:3336',
        epoch: 1,
        startedAt: t0,
        lastSeen: t0,
        draining: false,
        gone: false,
        load: load(0),
      };
      assert.deepEqual(record, expected);
      assert.deepEqual(await store.getHost('h1'), expected);
      assert.equal(await store.getHost('nowhere'), null);
    });

    test('heartbeat at the current epoch records lastSeen and load; an old epoch is fenced', async () => {
      const store = ctx.store();
      const first = await store.registerHost({ id: 'h1', relayUrl: null, load: load(0) }, t0);
      assert.equal(await store.heartbeat('h1', first.epoch, load(3), t1), true);
      assert.deepEqual((await store.getHost('h1'))?.lastSeen, t1);
      assert.deepEqual((await store.getHost('h1'))?.load, load(3));

      const second = await store.registerHost({ id: 'h1', relayUrl: 'https://h1', load: load(0) }, t2);
      assert.equal(second.epoch, first.epoch + 1);
      assert.equal(second.relayUrl, 'https://h1');
      assert.equal(await store.heartbeat('h1', first.epoch, load(9), at('2025-03-01T10:02:00.000Z')), false);
      const host = await store.getHost('h1');
      assert.deepEqual(host?.lastSeen, t2);
      assert.deepEqual(host?.load, load(0));
      assert.equal(await store.heartbeat('h1', second.epoch, load(1), t2), true);
      assert.equal(await store.heartbeat('nowhere', 1, load(1), t2), false);
    });

    test('listHosts returns every host by id', async () => {
      const store = ctx.store();
      assert.deepEqual(await store.listHosts(), []);
      await store.registerHost({ id: 'h2', relayUrl: null, load: load(2) }, t0);
      await store.registerHost({ id: 'h1', relayUrl: null, load: load(1) }, t1);
      const hosts = await store.listHosts();
      assert.deepEqual(
        hosts.map((h) => [h.id, h.load.servers, h.lastSeen.getTime()]),
        [
          ['h1', 1, t1.getTime()],
          ['h2', 2, t0.getTime()],
        ],
      );
    });

    test('setDraining sets and clears draining, which a new registration keeps', async () => {
      const store = ctx.store();
      assert.equal(await store.setDraining('h1', true), false);
      await store.registerHost({ id: 'h1', relayUrl: null, load: load(0) }, t0);
      assert.equal(await store.setDraining('h1', true), true);
      assert.equal((await store.getHost('h1'))?.draining, true);
      const again = await store.registerHost({ id: 'h1', relayUrl: null, load: load(0) }, t1);
      assert.equal(again.draining, true);
      assert.equal(await store.setDraining('h1', false), true);
      assert.equal((await store.getHost('h1'))?.draining, false);
    });

    test('forgetHost removes a gone host only', async () => {
      const store = ctx.store();
      const host = await store.registerHost({ id: 'h1', relayUrl: null, load: load(0) }, t0);
      assert.equal(await store.forgetHost('h1'), false);
      assert.ok(await store.declareHostGone('h1', host.epoch, t1, holderOf));
      assert.equal(await store.forgetHost('h1'), true);
      assert.equal(await store.getHost('h1'), null);
      assert.equal(await store.forgetHost('h1'), false);
    });

    describe('declareHostGone', () => {
      beforeEach(async () => {
        const store = ctx.store();
        for (const name of ['ada', 'bob', 'carol']) await store.createUser(name);
      });

      /** h1 runs ada's two servers and bob's; h2 runs carol's; one of ada's has no host. */
      async function twoHostsWithServers(store: Store) {
        const h1 = await store.registerHost({ id: 'h1', relayUrl: null, load: load(3) }, t0);
        const h2 = await store.registerHost({ id: 'h2', relayUrl: null, load: load(1) }, t0);
        const onH1 = [
          serverRecord({ userName: 'ada', name: '', secret: 'ada-0', host: 'h1' }),
          serverRecord({ userName: 'ada', name: 'gpu', secret: 'ada-gpu', host: 'h1', status: 'running' }),
          serverRecord({ userName: 'bob', name: '', secret: 'bob-0', host: 'h1' }),
        ];
        const others = [
          serverRecord({ userName: 'carol', name: '', secret: 'carol-0', host: 'h2' }),
          serverRecord({ userName: 'ada', name: 'old', secret: 'ada-old', host: null }),
        ];
        for (const server of [...onH1, ...others]) assert.equal(await store.claimServer(server), true);
        // Each home's lease, held by one of its servers (ada's by her default server).
        for (const server of [onH1[0], onH1[2], others[0]] as ServerRecord[]) {
          assert.equal(await store.acquireLease(server.userName, holderOf(server), t0, t2), true);
        }
        return { h1, h2, onH1, others };
      }

      test('forgets only that host’s servers, releases exactly their leases, returns them', async () => {
        const store = ctx.store();
        const { h1, onH1, others } = await twoHostsWithServers(store);
        // A lease of a home none of h1's servers holds stays.
        await store.acquireLease('dan', 'server:other', t0, t2);

        const forgotten = await store.declareHostGone('h1', h1.epoch, t1, holderOf);
        assert.deepEqual(forgotten, onH1);
        assert.deepEqual(await store.listServers(), [others[1], others[0]]);
        assert.equal((await store.getHost('h1'))?.gone, true);
        assert.equal((await store.getHost('h2'))?.gone, false);
        assert.equal(await store.getLease('ada'), null);
        assert.equal(await store.getLease('bob'), null);
        assert.equal((await store.getLease('carol'))?.holder, 'server:carol-0');
        assert.equal((await store.getLease('dan'))?.holder, 'server:other');
      });

      test('releases a lease only when its holder is the forgotten server', async () => {
        const store = ctx.store();
        const h1 = await store.registerHost({ id: 'h1', relayUrl: null, load: load(1) }, t0);
        const ada = serverRecord({ userName: 'ada', secret: 'ada-0', host: 'h1' });
        const bob = serverRecord({ userName: 'bob', secret: 'bob-0', host: 'h1' });
        await store.claimServer(ada);
        await store.claimServer(bob);
        await store.acquireLease('ada', holderOf(ada), t0, t2);
        await store.acquireLease('bob', 'server:on-another-host', t0, t2);
        assert.deepEqual(await store.declareHostGone('h1', h1.epoch, t1, holderOf), [ada, bob]);
        assert.equal(await store.getLease('ada'), null);
        assert.equal((await store.getLease('bob'))?.holder, 'server:on-another-host');
      });

      test('null, changing nothing, unless the host is stale, at that epoch and not gone', async () => {
        const store = ctx.store();
        const { h1, onH1 } = await twoHostsWithServers(store);
        const before = await store.listServers();
        // It spoke at t1: not silent since t0 + 5 s.
        assert.equal(await store.heartbeat('h1', h1.epoch, load(3), t1), true);
        assert.equal(
          await store.declareHostGone('h1', h1.epoch, at('2025-03-01T10:00:05.000Z'), holderOf),
          null,
        );
        // Another epoch.
        assert.equal(await store.declareHostGone('h1', h1.epoch + 1, t2, holderOf), null);
        assert.equal(await store.declareHostGone('nowhere', 1, t2, holderOf), null);
        assert.deepEqual(await store.listServers(), before);
        assert.equal((await store.getHost('h1'))?.gone, false);
        assert.equal((await store.getLease('bob'))?.holder, holderOf(onH1[2] as ServerRecord));

        // Stale exactly at staleBefore counts; a second declaration finds it gone.
        assert.deepEqual(await store.declareHostGone('h1', h1.epoch, t1, holderOf), onH1);
        assert.equal(await store.declareHostGone('h1', h1.epoch, t2, holderOf), null);
      });

      test('a host declared gone is fenced until it registers again with a new epoch', async () => {
        const store = ctx.store();
        const { h1 } = await twoHostsWithServers(store);
        assert.ok(await store.declareHostGone('h1', h1.epoch, t1, holderOf));
        assert.equal(await store.heartbeat('h1', h1.epoch, load(3), t2), false);
        assert.equal((await store.getHost('h1'))?.gone, true);
        const back = await store.registerHost({ id: 'h1', relayUrl: null, load: load(0) }, t2);
        assert.equal(back.epoch, h1.epoch + 1);
        assert.equal(back.gone, false);
        assert.equal(await store.heartbeat('h1', back.epoch, load(0), t2), true);
        // The old epoch's declaration no longer applies to the new registration.
        assert.equal(await store.declareHostGone('h1', h1.epoch, t2, holderOf), null);
      });

      test('concurrent declarations from one handle: exactly one gets the servers', async () => {
        const store = ctx.store();
        const { h1, onH1 } = await twoHostsWithServers(store);
        const results = await Promise.all(
          Array.from({ length: 10 }, () => store.declareHostGone('h1', h1.epoch, t1, holderOf)),
        );
        assert.equal(results.filter((r) => r !== null).length, 1);
        assert.deepEqual(
          results.find((r) => r !== null),
          onH1,
        );
      });

      test('concurrent declarations from two handles: exactly one gets the servers', {
        skip: ctx.secondHandleSkip,
      }, async () => {
        const store = ctx.store();
        const { h1, onH1, others } = await twoHostsWithServers(store);
        await ctx.withSecondHandle(async (other) => {
          const results = await Promise.all(
            Array.from({ length: 10 }, (_, i) =>
              (i % 2 === 0 ? store : other).declareHostGone('h1', h1.epoch, t1, holderOf),
            ),
          );
          assert.equal(results.filter((r) => r !== null).length, 1);
          assert.deepEqual(
            results.find((r) => r !== null),
            onH1,
          );
          assert.deepEqual(await other.listServers(), [others[1], others[0]]);
        });
      });
    });
  });
}
