import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from './support/lti-platform.js';
import { Client, startTestSifu, type TestSifu } from './support/sifu.js';

describe('LTI 1.3 launches', () => {
  let platform: TestPlatform;
  let sifu: TestSifu;
  before(async () => {
    platform = await startTestPlatform();
    sifu = await startTestSifu({ overrides: { lti: { platforms: [platform.registration()] } } });
  });
  after(async () => {
    await sifu.cleanup();
    await platform.close();
  });

  /** The platform's half of the OIDC login: returns state and nonce from Sifu's redirect to the platform. */
  async function initiate(client: Client): Promise<{ state: string; nonce: string; redirect: URL }> {
    const query = new URLSearchParams({
      iss: platform.issuer,
      login_hint: 'learner-42',
      target_link_uri: `${sifu.hubUrl}/hub/lti/launch`,
      client_id: platform.clientId,
      lti_message_hint: 'unit-1',
    });
    const res = await client.request(`${sifu.hubUrl}/hub/lti/login?${query}`);
    assert.equal(res.status, 302);
    const redirect = new URL(res.headers.get('location') as string);
    assert.equal(redirect.origin + redirect.pathname, platform.authLoginUrl);
    assert.equal(redirect.searchParams.get('response_mode'), 'form_post');
    assert.equal(redirect.searchParams.get('redirect_uri'), `${sifu.hubUrl}/hub/lti/launch`);
    return {
      state: redirect.searchParams.get('state') as string,
      nonce: redirect.searchParams.get('nonce') as string,
      redirect,
    };
  }

  /** The platform posts the id_token back, as its auto-submitted form does (a cross-site POST). */
  function post(client: Client, idToken: string, state: string) {
    return client.request(`${sifu.hubUrl}/hub/lti/launch`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: platform.issuer },
      body: new URLSearchParams({ id_token: idToken, state }),
    });
  }

  test('a good launch signs the learner in and lands in their notebook', async () => {
    const browser = new Client();
    const { state, nonce } = await initiate(browser);
    const res = await post(browser, await platform.idToken(nonce), state);
    assert.equal(res.status, 303, await res.clone().text());
    assert.match(res.headers.get('location') ?? '', /^\/hub\/spawn\/lti-[0-9a-f]{20}\?next=/);
    const users = await sifu.store.listUsers();
    const learner = users.find((u) => u.name.startsWith('lti-'));
    assert.ok(learner, 'the learner was created');
    assert.equal(learner.admin, false);
    const spawnUrl = new URL(res.headers.get('location') as string, sifu.hubUrl).href;
    const spawnPage = await browser.follow(spawnUrl);
    assert.equal(spawnPage.res.status, 200, 'the spawn page shows progress');
    await sifu.manager.progress(learner.name, '')?.done;
    const landed = await browser.follow(spawnUrl);
    // The fake server has no UI at its root: its own 404 proves the request reached the learner's server.
    assert.deepEqual(await landed.res.json(), { message: 'Not Found' });
    assert.ok(
      landed.hops.at(-1)?.startsWith(`${sifu.notebookUrl}/user/${learner.name}/`),
      landed.hops.join(' -> '),
    );
    const events = await sifu.store.listEvents({ type: 'lti.launch' });
    assert.equal(events[0]?.data.role, 'learner');
    assert.equal(events[0]?.data.unit, 'unit-1');
  });

  test('roles: an instructor launches as staff', async () => {
    const browser = new Client();
    const { state, nonce } = await initiate(browser);
    const token = await platform.idToken(nonce, {
      sub: 'teacher-1',
      'https://purl.imsglobal.org/spec/lti/claim/roles': [
        'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor',
      ],
    });
    assert.equal((await post(browser, token, state)).status, 303);
    const events = await sifu.store.listEvents({ type: 'lti.launch', limit: 1 });
    assert.equal(events[0]?.data.role, 'staff');
  });

  const refusals: Array<[string, (nonce: string) => Promise<string>]> = [
    ['a bad signature', (nonce) => platform.idToken(nonce, {}, { key: 'other' })],
    ['a wrong audience', (nonce) => platform.idToken(nonce, { aud: 'someone-else' })],
    [
      'an expired token',
      (nonce) => platform.idToken(nonce, {}, { expiresIn: Math.floor(Date.now() / 1000) - 60 }),
    ],
    ['a wrong nonce', () => platform.idToken('not-the-nonce')],
    [
      'an unknown deployment',
      (nonce) =>
        platform.idToken(nonce, { 'https://purl.imsglobal.org/spec/lti/claim/deployment_id': 'other' }),
    ],
    [
      'a wrong message type',
      (nonce) =>
        platform.idToken(nonce, {
          'https://purl.imsglobal.org/spec/lti/claim/message_type': 'LtiDeepLinkingRequest',
        }),
    ],
  ];
  for (const [name, make] of refusals) {
    test(`refused: ${name}, and no one is signed in`, async () => {
      const browser = new Client();
      const { state, nonce } = await initiate(browser);
      const usersBefore = (await sifu.store.listUsers()).length;
      const res = await post(browser, await make(nonce), state);
      assert.equal(res.status, 401);
      assert.match(await res.text(), /SIFU_ERR_LTI_INVALID/);
      assert.equal(res.headers.get('set-cookie'), null);
      assert.equal((await sifu.store.listUsers()).length, usersBefore);
    });
  }

  test('refused: a replayed launch (same state and nonce)', async () => {
    const browser = new Client();
    const { state, nonce } = await initiate(browser);
    const token = await platform.idToken(nonce, { sub: 'replayer' });
    assert.equal((await post(browser, token, state)).status, 303);
    const replay = await post(new Client(), token, state);
    assert.equal(replay.status, 401);
    // And the same id_token with a fresh state: its nonce belongs to the first login.
    const second = await initiate(new Client());
    assert.equal((await post(new Client(), token, second.state)).status, 401);
  });

  test('refused: a state started in another browser (when the browser kept the state cookie)', async () => {
    const mine = new Client();
    const { nonce } = await initiate(mine);
    const theirs = await initiate(new Client());
    const res = await post(mine, await platform.idToken(nonce), theirs.state);
    assert.equal(res.status, 401);
  });

  test('an unregistered platform is refused at login', async () => {
    const res = await fetch(`${sifu.hubUrl}/hub/lti/login?iss=https://unknown.example&login_hint=x`, {
      redirect: 'manual',
    });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /SIFU_ERR_LTI_UNKNOWN_PLATFORM/);
  });
});
