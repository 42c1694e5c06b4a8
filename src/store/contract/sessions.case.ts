/** Store contract cases for sessions (`SessionStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { anHourAgo, inAnHour, rejectsWithCode, sessionRecord } from './fixtures.case.js';
import type { ContractContext } from './harness.case.js';

export function sessionCases(ctx: ContractContext): void {
  describe('sessions', () => {
    beforeEach(async () => {
      const store = ctx.store();
      await store.createUser('ada');
      await store.createUser('bob');
    });

    test('createSession then getSession round-trips the record, with Dates', async () => {
      const store = ctx.store();
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
      const store = ctx.store();
      await store.createSession('old', sessionRecord({ expiresAt: anHourAgo() }));
      assert.equal(await store.getSession('old'), null);
      assert.equal(await store.getSession('unknown'), null);
    });

    test('createSession for an unknown user throws SIFU_ERR_USER_NOT_FOUND', async () => {
      const store = ctx.store();
      await assert.rejects(
        store.createSession('s', sessionRecord({ userName: 'nobody' })),
        rejectsWithCode('SIFU_ERR_USER_NOT_FOUND'),
      );
    });

    test('deleteSession deletes the session and the sessions derived from it, nothing else', async () => {
      const store = ctx.store();
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
      const store = ctx.store();
      await store.createSession('hub', sessionRecord());
      await store.createSession('nb', sessionRecord({ parentHash: 'hub' }));
      await store.deleteSession('nb');
      assert.equal(await store.getSession('nb'), null);
      assert.notEqual(await store.getSession('hub'), null);
      await store.deleteSession('never-existed');
      assert.notEqual(await store.getSession('hub'), null);
    });

    test('deleteExpiredSessions deletes the sessions expired at `now` and counts them', async () => {
      const store = ctx.store();
      const now = new Date();
      await store.createSession('expired', sessionRecord({ expiresAt: new Date(now.getTime() - 1) }));
      await store.createSession('expiring-now', sessionRecord({ expiresAt: now }));
      await store.createSession('live', sessionRecord({ expiresAt: inAnHour() }));
      assert.equal(await store.deleteExpiredSessions(now), 2);
      assert.equal(await store.deleteExpiredSessions(now), 0);
      assert.notEqual(await store.getSession('live'), null);
    });
  });
}
