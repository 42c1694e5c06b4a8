/** Store contract cases for groups (`GroupStore`) and a server's `userOptions`. Part of `storeContract`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rejectsWithCode, serverRecord } from './fixtures.case.js';
import type { ContractContext } from './harness.case.js';

export function groupCases(ctx: ContractContext): void {
  describe('groups', () => {
    async function withUsers(...names: string[]) {
      const store = ctx.store();
      for (const name of names) await store.createUser(name);
      return store;
    }

    test('createGroup returns what getGroup finds: sorted members, properties, a Date', async () => {
      const store = await withUsers('ada', 'bob');
      const created = await store.createGroup('course-101', {
        users: ['bob', 'ada', 'bob'],
        properties: { course: '101', nested: { a: [1, 2] } },
      });
      assert.deepEqual(created.users, ['ada', 'bob']);
      assert.deepEqual(created.properties, { course: '101', nested: { a: [1, 2] } });
      assert.ok(created.createdAt instanceof Date);
      assert.deepEqual(await store.getGroup('course-101'), created);
    });

    test('an empty group has no members and {} as properties', async () => {
      const store = ctx.store();
      const group = await store.createGroup('empty');
      assert.deepEqual(group.users, []);
      assert.deepEqual(group.properties, {});
    });

    test('createGroup on a taken name throws SIFU_ERR_GROUP_EXISTS and changes nothing', async () => {
      const store = await withUsers('ada', 'bob');
      const first = await store.createGroup('g', { users: ['ada'], properties: { k: 1 } });
      await assert.rejects(
        store.createGroup('g', { users: ['bob'], properties: { k: 2 } }),
        rejectsWithCode('SIFU_ERR_GROUP_EXISTS'),
      );
      assert.deepEqual(await store.getGroup('g'), first);
    });

    test('createGroup with an unknown member throws SIFU_ERR_USER_NOT_FOUND and creates nothing', async () => {
      const store = await withUsers('ada');
      await assert.rejects(
        store.createGroup('g', { users: ['ada', 'nobody'] }),
        rejectsWithCode('SIFU_ERR_USER_NOT_FOUND'),
      );
      assert.equal(await store.getGroup('g'), null);
      assert.deepEqual(await store.listGroups(), []);
    });

    test('listGroups is by name, each with its own members; filtered by member', async () => {
      const store = await withUsers('ada', 'bob', 'carol');
      await store.createGroup('b-group', { users: ['bob'] });
      await store.createGroup('a-group', { users: ['ada', 'bob'] });
      await store.createGroup('c-group');
      const all = await store.listGroups();
      assert.deepEqual(
        all.map((g) => [g.name, g.users]),
        [
          ['a-group', ['ada', 'bob']],
          ['b-group', ['bob']],
          ['c-group', []],
        ],
      );
      assert.deepEqual(
        (await store.listGroups({ userName: 'bob' })).map((g) => [g.name, g.users]),
        [
          ['a-group', ['ada', 'bob']],
          ['b-group', ['bob']],
        ],
      );
      assert.deepEqual(await store.listGroups({ userName: 'carol' }), []);
    });

    test('addGroupMembers adds, keeps existing members once, and returns the group after', async () => {
      const store = await withUsers('ada', 'bob', 'carol');
      await store.createGroup('g', { users: ['ada'] });
      const after = await store.addGroupMembers('g', ['carol', 'ada', 'bob']);
      assert.deepEqual(after.users, ['ada', 'bob', 'carol']);
      assert.deepEqual((await store.getGroup('g'))?.users, ['ada', 'bob', 'carol']);
    });

    test('addGroupMembers with one unknown user adds none', async () => {
      const store = await withUsers('ada', 'bob');
      await store.createGroup('g', { users: ['ada'] });
      await assert.rejects(
        store.addGroupMembers('g', ['bob', 'ghost']),
        rejectsWithCode('SIFU_ERR_USER_NOT_FOUND'),
      );
      assert.deepEqual((await store.getGroup('g'))?.users, ['ada']);
    });

    test('member and property changes on an unknown group throw SIFU_ERR_GROUP_NOT_FOUND', async () => {
      const store = await withUsers('ada');
      await assert.rejects(
        store.addGroupMembers('nope', ['ada']),
        rejectsWithCode('SIFU_ERR_GROUP_NOT_FOUND'),
      );
      await assert.rejects(
        store.removeGroupMembers('nope', ['ada']),
        rejectsWithCode('SIFU_ERR_GROUP_NOT_FOUND'),
      );
      await assert.rejects(
        store.setGroupProperties('nope', { a: 1 }),
        rejectsWithCode('SIFU_ERR_GROUP_NOT_FOUND'),
      );
      assert.deepEqual(await store.listGroups(), []);
    });

    test('removeGroupMembers removes the named members and ignores others', async () => {
      const store = await withUsers('ada', 'bob', 'carol');
      await store.createGroup('g', { users: ['ada', 'bob', 'carol'] });
      const after = await store.removeGroupMembers('g', ['bob', 'nobody', 'carol']);
      assert.deepEqual(after.users, ['ada']);
      assert.deepEqual((await store.getGroup('g'))?.users, ['ada']);
      assert.ok(await store.getUser('bob'), 'leaving a group never deletes the user');
    });

    test('setGroupProperties replaces the properties, not the members', async () => {
      const store = await withUsers('ada');
      await store.createGroup('g', { users: ['ada'], properties: { old: true, keep: 'no' } });
      const after = await store.setGroupProperties('g', { fresh: [1, 'two'] });
      assert.deepEqual(after.properties, { fresh: [1, 'two'] });
      assert.deepEqual((await store.getGroup('g'))?.properties, { fresh: [1, 'two'] });
      assert.deepEqual(after.users, ['ada']);
    });

    test('deleteGroup removes the group and its memberships, never the users; false when absent', async () => {
      const store = await withUsers('ada');
      await store.createGroup('g', { users: ['ada'] });
      assert.equal(await store.deleteGroup('g'), true);
      assert.equal(await store.getGroup('g'), null);
      assert.ok(await store.getUser('ada'));
      assert.equal(await store.deleteGroup('g'), false);
      // A group of the same name later starts empty: no membership survived.
      assert.deepEqual((await store.createGroup('g')).users, []);
    });

    test('deleting a user takes them out of every group', async () => {
      const store = await withUsers('ada', 'bob');
      await store.createGroup('g1', { users: ['ada', 'bob'] });
      await store.createGroup('g2', { users: ['ada'] });
      await store.deleteUser('ada');
      assert.deepEqual((await store.getGroup('g1'))?.users, ['bob']);
      assert.deepEqual((await store.getGroup('g2'))?.users, []);
    });

    test('a server keeps the userOptions it was claimed with; {} when none were given', async () => {
      const store = await withUsers('ada', 'bob');
      const options = { profile: 'gpu', cpus: 2, nested: { a: null } };
      assert.ok(await store.claimServer(serverRecord({ userName: 'ada', userOptions: options })));
      const { userOptions: _, ...withoutOptions } = serverRecord({ userName: 'bob' });
      assert.ok(await store.claimServer(withoutOptions));
      assert.deepEqual((await store.getServer('ada', ''))?.userOptions, options);
      assert.deepEqual((await store.getServer('bob', ''))?.userOptions, {});
      const listed = await store.listServers();
      assert.deepEqual(listed.find((s) => s.userName === 'ada')?.userOptions, options);
    });
  });
}
