import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { JWTPayload } from 'jose';
import { launchFrom, startTestPlatform, type TestPlatform } from './support/lti-platform.js';
import { type Client, startTestSifu, type TestSifu } from './support/sifu.js';

const EXT = 'https://purl.imsglobal.org/spec/lti/claim/ext';

/**
 * Issue 9, finding 3: with `usernameClaim` set, a launch claiming `Carol` became the existing admin
 * `carol`, and `\u212Aate` (KELVIN SIGN, which lower-cases to ASCII k) became the admin `kate`. Users
 * from LTI are keyed by (issuer, sub); a claimed name is only a wish for a new user's name.
 */
describe('LTI identities: a claimed name never selects an existing account', () => {
  let lmsA: TestPlatform;
  let lmsB: TestPlatform;
  let moodle: TestPlatform;
  let plain: TestPlatform;
  let sifu: TestSifu;

  before(async () => {
    lmsA = await startTestPlatform('lms-a');
    lmsB = await startTestPlatform('lms-b');
    moodle = await startTestPlatform('moodle');
    plain = await startTestPlatform('plain');
    sifu = await startTestSifu({
      overrides: {
        lti: {
          platforms: [
            { ...lmsA.registration(), usernameClaim: 'preferred_username' },
            { ...lmsB.registration(), usernameClaim: 'preferred_username' },
            { ...moodle.registration(), usernameClaim: `${EXT}#user_username` },
            plain.registration(),
          ],
        },
      },
    });
    await sifu.store.createUser('carol', { admin: true });
    await sifu.store.createUser('kate', { admin: true });
    // A user the API (or the dev sign-in) made: no platform identity is linked to it.
    await sifu.store.createUser('gina');
  });
  after(async () => {
    await sifu?.cleanup();
    for (const platform of [lmsA, lmsB, moodle, plain]) await platform?.close();
  });

  /** Launches, then asks the hub who the resulting session is (`GET /hub/api/user`). */
  async function launchAs(platform: TestPlatform, claims: JWTPayload) {
    const { browser, res } = await launchFrom(platform, sifu.hubUrl, claims);
    assert.equal(res.status, 303, await res.clone().text());
    const me = await whoAmI(browser);
    assert.ok(
      res.headers.get('location')?.startsWith(`/hub/spawn/${me.name}?next=`),
      `the launch lands on the session user's own notebook: ${res.headers.get('location')}`,
    );
    return me;
  }

  async function whoAmI(browser: Client): Promise<{ name: string; admin: boolean }> {
    const res = await browser.request(`${sifu.hubUrl}/hub/api/user`);
    assert.equal(res.status, 200);
    return (await res.json()) as { name: string; admin: boolean };
  }

  test('preferred_username "Carol" with an admin carol: a different, non-admin user', async () => {
    const me = await launchAs(lmsA, { sub: 'sub-carol', preferred_username: 'Carol' });
    assert.notEqual(me.name, 'carol');
    assert.equal(me.admin, false);
    assert.match(me.name, /^carol-[0-9a-f]{8}$/, 'the wished name with a suffix of the identity');
    assert.equal((await sifu.store.getUser('carol'))?.admin, true, 'the admin is untouched');
    assert.equal((await sifu.store.getUser(me.name))?.admin, false);
  });

  test('"\\u212Aate" (KELVIN SIGN) with an admin kate: not kate, not an admin', async () => {
    const me = await launchAs(lmsA, { sub: 'sub-kelvin', preferred_username: '\u212Aate' });
    assert.notEqual(me.name, 'kate');
    assert.equal(me.admin, false);
    // Not ASCII, so not usable as a name at all: the identity's hash names the user.
    assert.match(me.name, /^lti-[0-9a-f]{20}$/);
  });

  test('a user made by the API is not entered by claiming its name', async () => {
    const me = await launchAs(lmsA, { sub: 'sub-gina', preferred_username: 'gina' });
    assert.notEqual(me.name, 'gina');
    assert.equal(me.admin, false);
  });

  test('the same (issuer, sub) twice is the same user, whatever it claims the second time', async () => {
    const first = await launchAs(lmsA, { sub: 'sub-dana', preferred_username: 'dana' });
    assert.equal(first.name, 'dana', 'a free wished name is granted');
    const again = await launchAs(lmsA, { sub: 'sub-dana', preferred_username: 'dana' });
    assert.equal(again.name, 'dana');
    const renamed = await launchAs(lmsA, { sub: 'sub-dana', preferred_username: 'carol' });
    assert.equal(renamed.name, 'dana', 'a later claim neither renames nor moves the learner');
    assert.equal(renamed.admin, false);
  });

  test('two platforms claiming the same name (even with the same sub) are two users', async () => {
    const a = await launchAs(lmsA, { sub: 'shared-sub', preferred_username: 'erin' });
    const b = await launchAs(lmsB, { sub: 'shared-sub', preferred_username: 'erin' });
    assert.equal(a.name, 'erin');
    assert.notEqual(b.name, a.name);
    assert.match(b.name, /^erin-[0-9a-f]{8}$/);
    assert.equal((await launchAs(lmsB, { sub: 'shared-sub', preferred_username: 'erin' })).name, b.name);
    assert.equal((await launchAs(lmsA, { sub: 'shared-sub', preferred_username: 'erin' })).name, a.name);
  });

  test('a nested claim path (Moodle: ext#user_username) names a new user', async () => {
    const me = await launchAs(moodle, { sub: '17', [EXT]: { user_username: 'frank', lms: 'moodle-2' } });
    assert.equal(me.name, 'frank');
    assert.equal(me.admin, false);
    const taken = await launchAs(moodle, { sub: '18', [EXT]: { user_username: 'Kate', lms: 'moodle-2' } });
    assert.match(taken.name, /^kate-[0-9a-f]{8}$/);
    assert.equal(taken.admin, false);
  });

  test('a claim that is missing or not a name: the hash name, as without usernameClaim', async () => {
    const missing = await launchAs(moodle, { sub: '19' });
    assert.match(missing.name, /^lti-[0-9a-f]{20}$/);
    const bad = await launchAs(lmsA, { sub: 'sub-bad', preferred_username: '../etc' });
    assert.match(bad.name, /^lti-[0-9a-f]{20}$/);
  });

  test('without usernameClaim: lti-<hash>, and a learner from before identities keeps their user', async () => {
    const hashName = (sub: string) =>
      `lti-${createHash('sha256').update(`${plain.issuer}|${sub}`).digest('hex').slice(0, 20)}`;
    assert.equal((await launchAs(plain, { sub: 'new-learner' })).name, hashName('new-learner'));
    // A user made by an earlier Sifu for this very identity, under the name derived from it.
    await sifu.store.createUser(hashName('old-learner'));
    assert.equal((await launchAs(plain, { sub: 'old-learner' })).name, hashName('old-learner'));
    // An admin under that name is not taken over.
    await sifu.store.createUser(hashName('old-admin'), { admin: true });
    const me = await launchAs(plain, { sub: 'old-admin' });
    assert.notEqual(me.name, hashName('old-admin'));
    assert.equal(me.admin, false);
  });
});
