/** Store contract cases for users (`UserStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rejectsWithCode, serverRecord, sessionRecord } from './fixtures.case.js';
import type { ContractContext } from './harness.case.js';

export function userCases(ctx: ContractContext): void {
  describe('users', () => {
    test('createUser returns the record that getUser finds, with Dates', async () => {
      const store = ctx.store();
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
      const store = ctx.store();
      await store.createUser('root', { admin: true });
      assert.equal((await store.getUser('root'))?.admin, true);
    });

    test('createUser on a taken name throws SIFU_ERR_USER_EXISTS and changes nothing', async () => {
      const store = ctx.store();
      const first = await store.createUser('ada', { admin: true });
      await assert.rejects(store.createUser('ada'), rejectsWithCode('SIFU_ERR_USER_EXISTS'));
      assert.deepEqual(await store.getUser('ada'), first);
    });

    test('getUser of an unknown name is null', async () => {
      const store = ctx.store();
      assert.equal(await store.getUser('nobody'), null);
    });

    test('ensureUser creates a user once, then returns it unchanged', async () => {
      const store = ctx.store();
      const created = await store.ensureUser('ada');
      assert.equal(created.admin, false);
      await store.setAdmin('ada', true);
      const again = await store.ensureUser('ada');
      assert.deepEqual(again, { ...created, admin: true });
      assert.equal((await store.listUsers()).length, 1);
    });

    test('ensureUser called concurrently for one name creates one user', async () => {
      const store = ctx.store();
      const users = await Promise.all(Array.from({ length: 10 }, () => store.ensureUser('ada')));
      for (const user of users) assert.deepEqual(user, users[0]);
      assert.deepEqual(
        (await store.listUsers()).map((u) => u.name),
        ['ada'],
      );
    });

    test('listUsers returns every user, by name', async () => {
      const store = ctx.store();
      for (const name of ['carol', 'ada', 'bob']) await store.createUser(name);
      assert.deepEqual(
        (await store.listUsers()).map((u) => u.name),
        ['ada', 'bob', 'carol'],
      );
    });

    test('setAdmin grants and revokes; unknown user throws SIFU_ERR_USER_NOT_FOUND', async () => {
      const store = ctx.store();
      await store.createUser('ada');
      await store.setAdmin('ada', true);
      assert.equal((await store.getUser('ada'))?.admin, true);
      await store.setAdmin('ada', false);
      assert.equal((await store.getUser('ada'))?.admin, false);
      await assert.rejects(store.setAdmin('nobody', true), rejectsWithCode('SIFU_ERR_USER_NOT_FOUND'));
    });

    test('touchUser records the last activity', async () => {
      const store = ctx.store();
      await store.createUser('ada');
      const at = new Date('2025-01-02T03:04:05.678Z');
      await store.touchUser('ada', at);
      assert.deepEqual((await store.getUser('ada'))?.lastActivity, at);
    });

    test('deleteUser removes the user with their servers, tokens and sessions, and only theirs', async () => {
      const store = ctx.store();
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
      const store = ctx.store();
      assert.equal(await store.deleteUser('nobody'), false);
    });
  });
}
