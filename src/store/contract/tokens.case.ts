/** Store contract cases for tokens (`TokenStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { anHourAgo, inAnHour, rejectsWithCode } from './fixtures.case.js';
import type { ContractContext } from './harness.case.js';

export function tokenCases(ctx: ContractContext): void {
  describe('tokens', () => {
    beforeEach(async () => {
      const store = ctx.store();
      await store.createUser('ada');
      await store.createUser('bob');
    });

    test('createToken returns a record that findToken finds by hash', async () => {
      const store = ctx.store();
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
      const store = ctx.store();
      const a = await store.createToken({ userName: 'ada', hash: 'h-a', scopes: [] });
      const b = await store.createToken({ userName: 'ada', hash: 'h-b', scopes: ['launch'] });
      assert.equal(a.note, '');
      assert.deepEqual(a.scopes, []);
      assert.notEqual(a.id, b.id);
    });

    test('findToken of an unknown hash is null', async () => {
      const store = ctx.store();
      await store.createToken({ userName: 'ada', hash: 'hash-1', scopes: ['servers'] });
      assert.equal(await store.findToken('hash-2'), null);
    });

    test('findToken honours expiry', async () => {
      const store = ctx.store();
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
      const store = ctx.store();
      await store.createToken({ userName: 'ada', hash: 'same', scopes: ['servers'] });
      await assert.rejects(store.createToken({ userName: 'bob', hash: 'same', scopes: ['admin'] }));
      assert.equal((await store.findToken('same'))?.userName, 'ada');
    });

    test('createToken for an unknown user throws SIFU_ERR_USER_NOT_FOUND', async () => {
      const store = ctx.store();
      await assert.rejects(
        store.createToken({ userName: 'nobody', hash: 'h', scopes: [] }),
        rejectsWithCode('SIFU_ERR_USER_NOT_FOUND'),
      );
    });

    test("listTokens returns the user's live tokens only", async () => {
      const store = ctx.store();
      const first = await store.createToken({ userName: 'ada', hash: 'a1', scopes: ['servers'] });
      const second = await store.createToken({ userName: 'ada', hash: 'a2', scopes: ['tokens'] });
      await store.createToken({ userName: 'ada', hash: 'a3', scopes: ['tokens'], expiresAt: anHourAgo() });
      await store.createToken({ userName: 'bob', hash: 'b1', scopes: ['servers'] });
      const listed = await store.listTokens('ada');
      assert.deepEqual(listed.map((t) => t.id).sort(), [first.id, second.id].sort());
      assert.deepEqual(await store.listTokens('nobody'), []);
    });

    test("deleteToken deletes by id, only the owner's, and reports whether it did", async () => {
      const store = ctx.store();
      const token = await store.createToken({ userName: 'ada', hash: 'a1', scopes: ['servers'] });
      assert.equal(await store.deleteToken('bob', token.id), false);
      assert.notEqual(await store.findToken('a1'), null);
      assert.equal(await store.deleteToken('ada', token.id), true);
      assert.equal(await store.findToken('a1'), null);
      assert.equal(await store.deleteToken('ada', token.id), false);
    });

    test('touchToken records the last activity', async () => {
      const store = ctx.store();
      const token = await store.createToken({ userName: 'ada', hash: 'a1', scopes: ['servers'] });
      const at = new Date('2025-03-04T05:06:07.089Z');
      await store.touchToken(token.id, at);
      assert.deepEqual((await store.findToken('a1'))?.lastActivity, at);
      assert.deepEqual((await store.listTokens('ada'))[0]?.lastActivity, at);
    });
  });
}
