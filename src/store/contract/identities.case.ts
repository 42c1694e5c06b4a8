/** Store contract cases for platform identities (`IdentityStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContractContext } from './harness.case.js';

const LMS = 'https://lms.example.org';
const OTHER = 'https://other.example.org';

export function identityCases(ctx: ContractContext): void {
  describe('identities', () => {
    test('an identity never seen is null', async () => {
      const store = ctx.store();
      assert.equal(await store.getIdentity(LMS, 'sub-1'), null);
      assert.deepEqual(await store.listIdentities('ada'), []);
    });

    test('createLinkedUser makes a user that is not an admin and links the identity to it', async () => {
      const store = ctx.store();
      const before = Date.now();
      const result = await store.createLinkedUser(LMS, 'sub-1', 'ada');
      assert.ok(result);
      assert.equal(result.created, true);
      assert.deepEqual(
        { ...result.identity, createdAt: null },
        {
          issuer: LMS,
          subject: 'sub-1',
          userName: 'ada',
          createdAt: null,
        },
      );
      assert.ok(result.identity.createdAt.getTime() >= before - 1000);
      assert.deepEqual(await store.getIdentity(LMS, 'sub-1'), result.identity);
      assert.deepEqual(await store.listIdentities('ada'), [result.identity]);
      assert.equal((await store.getUser('ada'))?.admin, false);
    });

    test('issuer and subject are matched exactly (case and issuer count)', async () => {
      const store = ctx.store();
      await store.createLinkedUser(LMS, 'Sub-1', 'ada');
      assert.equal(await store.getIdentity(LMS, 'sub-1'), null);
      assert.equal(await store.getIdentity(OTHER, 'Sub-1'), null);
      assert.equal(await store.getIdentity(`${LMS}/`, 'Sub-1'), null);
    });

    test('createLinkedUser on a taken name is null and changes nothing, admin or not', async () => {
      const store = ctx.store();
      const admin = await store.createUser('carol', { admin: true });
      const plain = await store.createUser('bob');
      assert.equal(await store.createLinkedUser(LMS, 'sub-1', 'carol'), null);
      assert.equal(await store.createLinkedUser(LMS, 'sub-1', 'bob'), null);
      assert.equal(await store.getIdentity(LMS, 'sub-1'), null);
      assert.deepEqual(await store.getUser('carol'), admin);
      assert.deepEqual(await store.getUser('bob'), plain);
      assert.deepEqual(await store.listIdentities('carol'), []);
    });

    test('createLinkedUser for an identity already linked returns that link and creates nothing', async () => {
      const store = ctx.store();
      const first = await store.createLinkedUser(LMS, 'sub-1', 'ada');
      const again = await store.createLinkedUser(LMS, 'sub-1', 'ada-2');
      assert.deepEqual(again, { identity: first?.identity, created: false });
      assert.equal(await store.getUser('ada-2'), null, 'the second name was rolled back');
      // The name taken by the very same identity: its link, too.
      assert.deepEqual(await store.createLinkedUser(LMS, 'sub-1', 'ada'), {
        identity: first?.identity,
        created: false,
      });
    });

    test('the same name for another identity is refused: names are not identities', async () => {
      const store = ctx.store();
      await store.createLinkedUser(LMS, 'sub-1', 'ada');
      assert.equal(await store.createLinkedUser(OTHER, 'sub-1', 'ada'), null);
      assert.ok(await store.createLinkedUser(OTHER, 'sub-1', 'ada-x'));
      assert.equal((await store.getIdentity(OTHER, 'sub-1'))?.userName, 'ada-x');
    });

    test('concurrent first sign-ins of one identity make one user', async () => {
      const store = ctx.store();
      const names = Array.from({ length: 8 }, (_, i) => `ada-${i}`);
      const results = await Promise.all(names.map((name) => store.createLinkedUser(LMS, 'sub-1', name)));
      const winner = (await store.getIdentity(LMS, 'sub-1'))?.userName;
      assert.ok(winner);
      for (const result of results) assert.equal(result?.identity.userName, winner);
      assert.equal(results.filter((r) => r?.created).length, 1);
      assert.deepEqual(
        (await store.listUsers()).map((u) => u.name),
        [winner],
      );
    });

    test('two handles: concurrent first sign-ins of one identity make one user', {
      skip: ctx.secondHandleSkip,
    }, async () => {
      const store = ctx.store();
      await ctx.withSecondHandle(async (other) => {
        const results = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 ? other : store).createLinkedUser(LMS, 'sub-1', `ada-${i % 3}`),
          ),
        );
        const winner = (await other.getIdentity(LMS, 'sub-1'))?.userName;
        for (const result of results) assert.equal(result?.identity.userName, winner);
        assert.equal((await store.listUsers()).length, 1);
      });
    });

    test('linkExistingUser links a user that is neither an admin nor linked', async () => {
      const store = ctx.store();
      await store.createUser('old');
      const link = await store.linkExistingUser(LMS, 'sub-1', 'old');
      assert.equal(link?.userName, 'old');
      assert.ok(link?.createdAt instanceof Date);
      assert.deepEqual(await store.getIdentity(LMS, 'sub-1'), link);
      assert.deepEqual(await store.linkExistingUser(LMS, 'sub-1', 'old'), link, 'idempotent');
    });

    test('linkExistingUser never links an admin, another identity’s user, or nobody', async () => {
      const store = ctx.store();
      await store.createUser('root', { admin: true });
      await store.createLinkedUser(OTHER, 'sub-9', 'taken');
      assert.equal(await store.linkExistingUser(LMS, 'sub-1', 'root'), null);
      assert.equal(await store.linkExistingUser(LMS, 'sub-1', 'taken'), null);
      assert.equal(await store.linkExistingUser(LMS, 'sub-1', 'nobody'), null);
      assert.equal(await store.getIdentity(LMS, 'sub-1'), null);
      assert.deepEqual(
        (await store.listIdentities('taken')).map((i) => i.issuer),
        [OTHER],
      );
    });

    test('linkExistingUser for an identity linked elsewhere returns that link and changes nothing', async () => {
      const store = ctx.store();
      const first = await store.createLinkedUser(LMS, 'sub-1', 'ada');
      await store.createUser('old');
      assert.deepEqual(await store.linkExistingUser(LMS, 'sub-1', 'old'), first?.identity);
      assert.deepEqual(await store.listIdentities('old'), []);
    });

    test("deleting the user deletes its identities: the identity's next sign-in starts afresh", async () => {
      const store = ctx.store();
      await store.createLinkedUser(LMS, 'sub-1', 'ada');
      assert.equal(await store.deleteUser('ada'), true);
      assert.equal(await store.getIdentity(LMS, 'sub-1'), null);
      assert.deepEqual(await store.listIdentities('ada'), []);
      // A new user of that name, made by anyone else, is not linked to the identity.
      await store.createUser('ada');
      assert.equal(await store.getIdentity(LMS, 'sub-1'), null);
    });
  });
}
