/**
 * The shared suite every `Store` implementation runs (as undici's `cacheStoreTests`): call
 * `storeContract('sqlite', makeStore)` from the implementation's test file.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isSifuError } from '../errors.js';
import { storageContractCases } from './storage-contract.js';
import type { ServerRecord, SessionRecord, Store } from './store.js';

export interface StoreHarness {
  /** A store on a fresh, empty database: not migrated yet. */
  store: Store;
  /** Closes the store and removes its database. */
  cleanup(): Promise<void>;
  /**
   * Opens a second store on the same database, as a second Sifu process or replica would; the suite
   * closes it. Required with `{ secondHandle: true }`.
   */
  reopen?: () => Promise<Store>;
}

export interface StoreContractOptions {
  /**
   * Run the tests that use two handles on one database (`reopen`) in this process. Leave it off where that
   * cannot work (SQLite's synchronous driver would block the event loop on the other handle's lock) and
   * test several processes in the implementation's own test file instead.
   */
  secondHandle?: boolean;
}

const HOUR = 3600_000;
const inAnHour = () => new Date(Date.now() + HOUR);
const anHourAgo = () => new Date(Date.now() - HOUR);

function rejectsWithCode(code: string) {
  return (err: unknown) => {
    assert.ok(isSifuError(err), `expected a SifuError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

function serverRecord(overrides: Partial<ServerRecord> = {}): ServerRecord {
  return {
    userName: 'ada',
    name: '',
    backend: 'local',
    state: {},
    url: null,
    secret: 'secret-0',
    status: 'pending',
    startedAt: new Date('2024-05-06T07:08:09.123Z'),
    lastActivity: null,
    ...overrides,
  };
}

function sessionRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    userName: 'ada',
    createdAt: new Date('2024-05-06T07:08:09.010Z'),
    expiresAt: inAnHour(),
    parentHash: null,
    ...overrides,
  };
}

export function storeContract(
  name: string,
  makeStore: () => Promise<StoreHarness>,
  options: StoreContractOptions = {},
): void {
  const secondHandleSkip = options.secondHandle
    ? false
    : 'no second handle in this process (see StoreContractOptions)';

  describe(`Store contract: ${name}`, () => {
    let harness: StoreHarness;
    let store: Store;

    beforeEach(async () => {
      harness = await makeStore();
      store = harness.store;
      await store.migrate();
    });

    afterEach(async () => {
      await harness.cleanup();
    });

    function reopen(h: StoreHarness): Promise<Store> {
      assert.ok(h.reopen, 'secondHandle: true needs makeStore to return reopen()');
      return h.reopen();
    }

    async function withSecondHandle(body: (other: Store) => Promise<void>): Promise<void> {
      const other = await reopen(harness);
      try {
        await body(other);
      } finally {
        await other.close();
      }
    }

    describe('migrate and close', () => {
      test('migrate() again keeps the data and the schema working', async () => {
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
        const fresh = await makeStore();
        try {
          await Promise.all([fresh.store.migrate(), fresh.store.migrate()]);
          await fresh.store.createUser('ada');
          assert.equal((await fresh.store.getUser('ada'))?.name, 'ada');
        } finally {
          await fresh.cleanup();
        }
      });

      test('migrate() from several handles at once on an empty database', {
        skip: secondHandleSkip,
      }, async () => {
        const fresh = await makeStore();
        try {
          const others = await Promise.all([reopen(fresh), reopen(fresh)]);
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
        await store.close();
        await store.close();
      });
    });

    describe('users', () => {
      test('createUser returns the record that getUser finds, with Dates', async () => {
        const before = Date.now();
        const created = await store.createUser('ada');
        assert.equal(created.name, 'ada');
        assert.equal(created.admin, false);
        assert.equal(created.lastActivity, null);
        assert.ok(created.createdAt instanceof Date);
        assert.ok(created.createdAt.getTime() >= before - 1000);
        const found = await store.getUser('ada');
        assert.ok(found?.createdAt instanceof Date);
        assert.deepEqual(found, created);
      });

      test('createUser with admin: true', async () => {
        await store.createUser('root', { admin: true });
        assert.equal((await store.getUser('root'))?.admin, true);
      });

      test('createUser on a taken name throws SIFU_ERR_USER_EXISTS and changes nothing', async () => {
        const first = await store.createUser('ada', { admin: true });
        await assert.rejects(store.createUser('ada'), rejectsWithCode('SIFU_ERR_USER_EXISTS'));
        assert.deepEqual(await store.getUser('ada'), first);
      });

      test('getUser of an unknown name is null', async () => {
        assert.equal(await store.getUser('nobody'), null);
      });

      test('ensureUser creates a user once, then returns it unchanged', async () => {
        const created = await store.ensureUser('ada');
        assert.equal(created.admin, false);
        await store.setAdmin('ada', true);
        const again = await store.ensureUser('ada');
        assert.deepEqual(again, { ...created, admin: true });
        assert.equal((await store.listUsers()).length, 1);
      });

      test('ensureUser called concurrently for one name creates one user', async () => {
        const users = await Promise.all(Array.from({ length: 10 }, () => store.ensureUser('ada')));
        for (const user of users) assert.deepEqual(user, users[0]);
        assert.deepEqual(
          (await store.listUsers()).map((u) => u.name),
          ['ada'],
        );
      });

      test('listUsers returns every user, by name', async () => {
        for (const name of ['carol', 'ada', 'bob']) await store.createUser(name);
        assert.deepEqual(
          (await store.listUsers()).map((u) => u.name),
          ['ada', 'bob', 'carol'],
        );
      });

      test('setAdmin grants and revokes; unknown user throws SIFU_ERR_USER_NOT_FOUND', async () => {
        await store.createUser('ada');
        await store.setAdmin('ada', true);
        assert.equal((await store.getUser('ada'))?.admin, true);
        await store.setAdmin('ada', false);
        assert.equal((await store.getUser('ada'))?.admin, false);
        await assert.rejects(store.setAdmin('nobody', true), rejectsWithCode('SIFU_ERR_USER_NOT_FOUND'));
      });

      test('touchUser records the last activity', async () => {
        await store.createUser('ada');
        const at = new Date('2025-01-02T03:04:05.678Z');
        await store.touchUser('ada', at);
        assert.deepEqual((await store.getUser('ada'))?.lastActivity, at);
      });

      test('deleteUser removes the user with their servers, tokens and sessions, and only theirs', async () => {
        await store.createUser('ada');
        await store.createUser('bob');
        for (const userName of ['ada', 'bob']) {
          assert.equal(await store.claimServer(serverRecord({ userName })), true);
          assert.equal(await store.claimServer(serverRecord({ userName, name: 'gpu' })), true);
          await store.createToken({ userName, hash: `token-${userName}`, scopes: ['servers'] });
          await store.createSession(`session-${userName}`, sessionRecord({ userName }));
        }
        await store.addEvent('user.signin', 'ada');

        assert.equal(await store.deleteUser('ada'), true);

        assert.equal(await store.getUser('ada'), null);
        assert.equal(await store.getServer('ada', ''), null);
        assert.equal(await store.getServer('ada', 'gpu'), null);
        assert.equal(await store.findToken('token-ada'), null);
        assert.deepEqual(await store.listTokens('ada'), []);
        assert.equal(await store.getSession('session-ada'), null);
        assert.deepEqual(
          (await store.listServers()).map((s) => [s.userName, s.name]),
          [
            ['bob', ''],
            ['bob', 'gpu'],
          ],
        );
        assert.equal((await store.findToken('token-bob'))?.userName, 'bob');
        assert.equal((await store.getSession('session-bob'))?.userName, 'bob');
        // The audit log outlives the user.
        assert.equal((await store.listEvents({ userName: 'ada' })).length, 1);
        // The name is free again, with nothing attached.
        await store.createUser('ada');
        assert.equal(await store.claimServer(serverRecord({ userName: 'ada' })), true);
      });

      test('deleteUser of an unknown name is false', async () => {
        assert.equal(await store.deleteUser('nobody'), false);
      });
    });

    describe('servers', () => {
      beforeEach(async () => {
        await store.createUser('ada');
        await store.createUser('bob');
      });

      test('claimServer stores the record; getServer returns it with Dates and its state JSON', async () => {
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
        assert.equal(await store.getServer('ada', ''), null);
        assert.equal(await store.getServer('nobody', ''), null);
      });

      test('a second claim for the same (user, name) is false and leaves the first row alone', async () => {
        const first = serverRecord({ secret: 'first' });
        assert.equal(await store.claimServer(first), true);
        assert.equal(await store.claimServer(serverRecord({ secret: 'second', backend: 'docker' })), false);
        assert.deepEqual(await store.getServer('ada', ''), first);
      });

      test('many concurrent claims for one key: exactly one wins, and its record is stored', async () => {
        const claims = Array.from({ length: 25 }, (_, i) => serverRecord({ secret: `secret-${i}` }));
        const results = await Promise.all(claims.map((c) => store.claimServer(c)));
        assert.equal(results.filter(Boolean).length, 1);
        const winner = claims[results.indexOf(true)];
        assert.deepEqual(await store.getServer('ada', ''), winner);
      });

      test('concurrent claims from two handles on one database: exactly one wins', {
        skip: secondHandleSkip,
      }, async () => {
        await withSecondHandle(async (other) => {
          const claims = Array.from({ length: 20 }, (_, i) =>
            serverRecord({ name: 'race', secret: `s-${i}` }),
          );
          const results = await Promise.all(
            claims.map((c, i) => (i % 2 === 0 ? store : other).claimServer(c)),
          );
          assert.equal(results.filter(Boolean).length, 1);
          assert.equal((await other.getServer('ada', 'race'))?.secret, claims[results.indexOf(true)]?.secret);
        });
      });

      test('servers are keyed by user and name', async () => {
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
        await assert.rejects(
          store.claimServer(serverRecord({ userName: 'nobody' })),
          rejectsWithCode('SIFU_ERR_USER_NOT_FOUND'),
        );
      });

      test('updateServer replaces state, url, status and lastActivity only', async () => {
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
          secret: 'changed',
          backend: 'docker',
          startedAt: new Date('2030-01-01T00:00:00.000Z'),
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
        const claimed = serverRecord();
        await store.claimServer(claimed);
        await store.deleteServer('ada', '');
        await store.updateServer({ ...claimed, status: 'running', url: 'http://127.0.0.1:1' });
        assert.equal(await store.getServer('ada', ''), null);
      });

      test('touchServer records the last activity', async () => {
        await store.claimServer(serverRecord());
        const at = new Date('2025-02-03T04:05:06.789Z');
        await store.touchServer('ada', '', at);
        assert.deepEqual((await store.getServer('ada', ''))?.lastActivity, at);
      });

      test('deleteServer removes only that server, and the key can be claimed again', async () => {
        await store.claimServer(serverRecord());
        await store.claimServer(serverRecord({ name: 'gpu' }));
        await store.deleteServer('ada', '');
        assert.equal(await store.getServer('ada', ''), null);
        assert.notEqual(await store.getServer('ada', 'gpu'), null);
        assert.equal(await store.claimServer(serverRecord({ secret: 'again' })), true);
        assert.equal((await store.getServer('ada', ''))?.secret, 'again');
      });
    });

    describe('tokens', () => {
      beforeEach(async () => {
        await store.createUser('ada');
        await store.createUser('bob');
      });

      test('createToken returns a record that findToken finds by hash', async () => {
        const created = await store.createToken({
          userName: 'ada',
          hash: 'hash-1',
          scopes: ['servers', 'read:users'],
          note: 'for the CLI',
        });
        assert.equal(typeof created.id, 'string');
        assert.ok(created.id.length > 0);
        assert.equal(created.userName, 'ada');
        assert.deepEqual(created.scopes, ['servers', 'read:users']);
        assert.equal(created.note, 'for the CLI');
        assert.ok(created.createdAt instanceof Date);
        assert.equal(created.expiresAt, null);
        assert.equal(created.lastActivity, null);
        assert.deepEqual(await store.findToken('hash-1'), created);
      });

      test('note defaults to an empty string; ids are unique', async () => {
        const a = await store.createToken({ userName: 'ada', hash: 'h-a', scopes: [] });
        const b = await store.createToken({ userName: 'ada', hash: 'h-b', scopes: ['launch'] });
        assert.equal(a.note, '');
        assert.deepEqual(a.scopes, []);
        assert.notEqual(a.id, b.id);
      });

      test('findToken of an unknown hash is null', async () => {
        await store.createToken({ userName: 'ada', hash: 'hash-1', scopes: ['servers'] });
        assert.equal(await store.findToken('hash-2'), null);
      });

      test('findToken honours expiry', async () => {
        const expiresAt = inAnHour();
        const live = await store.createToken({
          userName: 'ada',
          hash: 'live',
          scopes: ['servers'],
          expiresAt,
        });
        await store.createToken({
          userName: 'ada',
          hash: 'dead',
          scopes: ['servers'],
          expiresAt: anHourAgo(),
        });
        const found = await store.findToken('live');
        assert.ok(found?.expiresAt instanceof Date);
        assert.deepEqual(found, live);
        assert.deepEqual(found?.expiresAt, expiresAt);
        assert.equal(await store.findToken('dead'), null);
      });

      test('a second token with the same hash is refused', async () => {
        await store.createToken({ userName: 'ada', hash: 'same', scopes: ['servers'] });
        await assert.rejects(store.createToken({ userName: 'bob', hash: 'same', scopes: ['admin'] }));
        assert.equal((await store.findToken('same'))?.userName, 'ada');
      });

      test('createToken for an unknown user throws SIFU_ERR_USER_NOT_FOUND', async () => {
        await assert.rejects(
          store.createToken({ userName: 'nobody', hash: 'h', scopes: [] }),
          rejectsWithCode('SIFU_ERR_USER_NOT_FOUND'),
        );
      });

      test("listTokens returns the user's live tokens only", async () => {
        const first = await store.createToken({ userName: 'ada', hash: 'a1', scopes: ['servers'] });
        const second = await store.createToken({ userName: 'ada', hash: 'a2', scopes: ['tokens'] });
        await store.createToken({ userName: 'ada', hash: 'a3', scopes: ['tokens'], expiresAt: anHourAgo() });
        await store.createToken({ userName: 'bob', hash: 'b1', scopes: ['servers'] });
        const listed = await store.listTokens('ada');
        assert.deepEqual(listed.map((t) => t.id).sort(), [first.id, second.id].sort());
        assert.deepEqual(await store.listTokens('nobody'), []);
      });

      test("deleteToken deletes by id, only the owner's, and reports whether it did", async () => {
        const token = await store.createToken({ userName: 'ada', hash: 'a1', scopes: ['servers'] });
        assert.equal(await store.deleteToken('bob', token.id), false);
        assert.notEqual(await store.findToken('a1'), null);
        assert.equal(await store.deleteToken('ada', token.id), true);
        assert.equal(await store.findToken('a1'), null);
        assert.equal(await store.deleteToken('ada', token.id), false);
      });

      test('touchToken records the last activity', async () => {
        const token = await store.createToken({ userName: 'ada', hash: 'a1', scopes: ['servers'] });
        const at = new Date('2025-03-04T05:06:07.089Z');
        await store.touchToken(token.id, at);
        assert.deepEqual((await store.findToken('a1'))?.lastActivity, at);
        assert.deepEqual((await store.listTokens('ada'))[0]?.lastActivity, at);
      });
    });

    describe('sessions', () => {
      beforeEach(async () => {
        await store.createUser('ada');
        await store.createUser('bob');
      });

      test('createSession then getSession round-trips the record, with Dates', async () => {
        const hub = sessionRecord();
        const notebook = sessionRecord({ parentHash: 'hub' });
        await store.createSession('hub', hub);
        await store.createSession('notebook', notebook);
        const found = await store.getSession('hub');
        assert.ok(found?.createdAt instanceof Date);
        assert.ok(found?.expiresAt instanceof Date);
        assert.deepEqual(found, hub);
        assert.deepEqual(await store.getSession('notebook'), notebook);
      });

      test('getSession of an unknown or expired session is null', async () => {
        await store.createSession('old', sessionRecord({ expiresAt: anHourAgo() }));
        assert.equal(await store.getSession('old'), null);
        assert.equal(await store.getSession('unknown'), null);
      });

      test('createSession for an unknown user throws SIFU_ERR_USER_NOT_FOUND', async () => {
        await assert.rejects(
          store.createSession('s', sessionRecord({ userName: 'nobody' })),
          rejectsWithCode('SIFU_ERR_USER_NOT_FOUND'),
        );
      });

      test('deleteSession deletes the session and the sessions derived from it, nothing else', async () => {
        await store.createSession('hub', sessionRecord());
        await store.createSession('nb-1', sessionRecord({ parentHash: 'hub' }));
        await store.createSession('nb-2', sessionRecord({ parentHash: 'hub' }));
        await store.createSession('other-hub', sessionRecord());
        await store.createSession('other-nb', sessionRecord({ parentHash: 'other-hub' }));
        await store.createSession('bob-hub', sessionRecord({ userName: 'bob' }));

        await store.deleteSession('hub');

        for (const gone of ['hub', 'nb-1', 'nb-2']) assert.equal(await store.getSession(gone), null, gone);
        for (const kept of ['other-hub', 'other-nb', 'bob-hub']) {
          assert.notEqual(await store.getSession(kept), null, kept);
        }
      });

      test('deleting a derived session leaves its parent', async () => {
        await store.createSession('hub', sessionRecord());
        await store.createSession('nb', sessionRecord({ parentHash: 'hub' }));
        await store.deleteSession('nb');
        assert.equal(await store.getSession('nb'), null);
        assert.notEqual(await store.getSession('hub'), null);
        await store.deleteSession('never-existed');
        assert.notEqual(await store.getSession('hub'), null);
      });

      test('deleteExpiredSessions deletes the sessions expired at `now` and counts them', async () => {
        const now = new Date();
        await store.createSession('expired', sessionRecord({ expiresAt: new Date(now.getTime() - 1) }));
        await store.createSession('expiring-now', sessionRecord({ expiresAt: now }));
        await store.createSession('live', sessionRecord({ expiresAt: inAnHour() }));
        assert.equal(await store.deleteExpiredSessions(now), 2);
        assert.equal(await store.deleteExpiredSessions(now), 0);
        assert.notEqual(await store.getSession('live'), null);
      });
    });

    describe('tickets', () => {
      const soon = () => new Date(Date.now() + 60_000);
      test('a ticket is taken once, by its own kind only, with its data', async () => {
        await store.createTicket('t1', {
          kind: 'launch',
          userName: 'ada',
          data: { unit: 'u1' },
          expiresAt: soon(),
        });
        assert.equal(
          await store.consumeTicket('t1', 'lti-state', new Date()),
          null,
          'another kind never takes it',
        );
        const taken = await store.consumeTicket('t1', 'launch', new Date());
        assert.equal(taken?.userName, 'ada');
        assert.deepEqual(taken?.data, { unit: 'u1' });
        assert.ok(taken?.expiresAt instanceof Date);
        assert.equal(await store.consumeTicket('t1', 'launch', new Date()), null, 'single use');
        assert.equal(await store.consumeTicket('unknown', 'launch', new Date()), null);
      });

      test('an expired ticket is never returned', async () => {
        await store.createTicket('old', {
          kind: 'launch',
          userName: null,
          data: {},
          expiresAt: new Date(Date.now() - 1),
        });
        assert.equal(await store.consumeTicket('old', 'launch', new Date()), null);
      });

      test('concurrent takers: exactly one wins', async () => {
        await store.createTicket('race', { kind: 'launch', userName: 'ada', data: {}, expiresAt: soon() });
        const results = await Promise.all(
          Array.from({ length: 10 }, () => store.consumeTicket('race', 'launch', new Date())),
        );
        assert.equal(results.filter((r) => r !== null).length, 1);
      });

      test('deleteExpiredTickets removes expired ones and counts them', async () => {
        await store.createTicket('a', {
          kind: 'k',
          userName: null,
          data: {},
          expiresAt: new Date(Date.now() - 10),
        });
        await store.createTicket('b', { kind: 'k', userName: null, data: {}, expiresAt: soon() });
        assert.equal(await store.deleteExpiredTickets(new Date()), 1);
        assert.ok(await store.consumeTicket('b', 'k', new Date()));
      });
    });

    storageContractCases({ store: () => store, withSecondHandle, secondHandleSkip });

    describe('events', () => {
      test('listEvents returns events newest first, with their data and Dates', async () => {
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
      });
    });
  });
}
