import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { type ClaimedIdentity, hashName, nameCandidates, userForIdentity } from './identities.js';

const LMS = 'https://lms.example.org';
const digest = (issuer: string, subject: string) =>
  createHash('sha256').update(`${issuer}|${subject}`).digest('hex');

test('nameCandidates: the claimed name as is, with a suffix, then the hash name', () => {
  const hex = digest(LMS, 's1');
  const of = (claimedName: unknown) => nameCandidates({ issuer: LMS, subject: 's1', claimedName }, 'lti');
  const table: Array<[unknown, string[]]> = [
    ['Carol', ['carol', `carol-${hex.slice(0, 8)}`, `lti-${hex.slice(0, 20)}`]],
    [' dana ', ['dana', `dana-${hex.slice(0, 8)}`, `lti-${hex.slice(0, 20)}`]],
    // Not ASCII: never folded into a name (KELVIN SIGN would lower-case to k).
    ['\u212Aate', [`lti-${hex.slice(0, 20)}`]],
    ['ädä', [`lti-${hex.slice(0, 20)}`]],
    ['../etc', [`lti-${hex.slice(0, 20)}`]],
    [null, [`lti-${hex.slice(0, 20)}`]],
    [undefined, [`lti-${hex.slice(0, 20)}`]],
    [{ name: 'carol' }, [`lti-${hex.slice(0, 20)}`]],
  ];
  for (const [claimed, expected] of table) assert.deepEqual(of(claimed), expected, String(claimed));
  const long = of('a'.repeat(64));
  assert.equal(long[1], `${'a'.repeat(55)}-${hex.slice(0, 8)}`);
  for (const name of long) assert.ok(name.length <= 64, name);
  assert.equal(hashName('lti', LMS, 's1'), `lti-${hex.slice(0, 20)}`);
});

describe('userForIdentity', () => {
  let store: Store;
  beforeEach(async () => {
    store = await openSqliteStore(':memory:');
    await store.migrate();
  });
  afterEach(() => store.close());

  const as = (subject: string, claimedName: unknown, issuer = LMS): ClaimedIdentity => ({
    issuer,
    subject,
    claimedName,
  });
  const lti = { prefix: 'lti', adoptHashName: true, via: 'lti' };

  test('a claimed admin name gives a new, non-admin user; the admin is untouched', async () => {
    await store.createUser('carol', { admin: true });
    const name = await userForIdentity(store, as('s1', 'Carol'), lti);
    assert.equal(name, `carol-${digest(LMS, 's1').slice(0, 8)}`);
    assert.equal((await store.getUser(name))?.admin, false);
    assert.deepEqual(await store.listIdentities('carol'), []);
    const [event] = await store.listEvents({ type: 'identity.link' });
    assert.deepEqual(event?.data, { issuer: LMS, via: 'lti', wished: 'carol' });
  });

  test('the linked user is found whatever is claimed later; no second user', async () => {
    const first = await userForIdentity(store, as('s1', 'dana'), lti);
    assert.equal(first, 'dana');
    await store.createUser('root', { admin: true });
    assert.equal(await userForIdentity(store, as('s1', 'root'), lti), 'dana');
    assert.deepEqual(
      (await store.listUsers()).map((u) => u.name),
      ['dana', 'root'],
    );
  });

  test('every candidate taken: a random name, still new and linked', async () => {
    const identity = as('s1', 'erin');
    for (const name of nameCandidates(identity, 'oidc')) await store.createUser(name);
    const name = await userForIdentity(store, identity, { prefix: 'oidc', via: 'oidc' });
    assert.match(name, /^oidc-[0-9a-f]{20}$/);
    assert.ok(!nameCandidates(identity, 'oidc').includes(name));
    assert.equal((await store.getIdentity(LMS, 's1'))?.userName, name);
  });

  test('adoptHashName: an unlinked, non-admin <prefix>-<hash> user is taken over; an admin is not', async () => {
    await store.createUser(hashName('lti', LMS, 'old'));
    assert.equal(await userForIdentity(store, as('old', null), lti), hashName('lti', LMS, 'old'));
    await store.createUser(hashName('lti', LMS, 'boss'), { admin: true });
    const boss = await userForIdentity(store, as('boss', null), lti);
    assert.notEqual(boss, hashName('lti', LMS, 'boss'));
    assert.equal((await store.getUser(boss))?.admin, false);
    // Without adoptHashName (OAuth), an unlinked user of that name is passed over too.
    await store.createUser(hashName('oidc', LMS, 'x'));
    assert.notEqual(
      await userForIdentity(store, as('x', null), { prefix: 'oidc', via: 'oidc' }),
      hashName('oidc', LMS, 'x'),
    );
  });

  test('concurrent first sign-ins of one identity end on one user', async () => {
    const names = await Promise.all(
      Array.from({ length: 5 }, () => userForIdentity(store, as('s1', 'fay'), lti)),
    );
    assert.deepEqual(new Set(names), new Set(['fay']));
    assert.equal((await store.listUsers()).length, 1);
  });

  test('an identity without a subject, or with an overlong one, is refused', async () => {
    for (const subject of ['', 'x'.repeat(256)]) {
      await assert.rejects(userForIdentity(store, as(subject, 'gus'), lti), { code: 'SIFU_ERR_BAD_REQUEST' });
    }
    assert.deepEqual(await store.listUsers(), []);
  });
});
