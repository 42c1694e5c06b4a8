import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { hashSecret, newSecret } from '../src/auth/secrets.js';
import { ADMIN_TOKEN, api, Client, FAKE_SERVER, startTestSifu, type TestSifu } from './support/sifu.js';

/** Opens a WebSocket; resolves with the HTTP status of a refused upgrade, or 101 when it opened. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.on('error', (err) => reject(err));
  });
}

describe('trying to break in', () => {
  let sifu: TestSifu;
  const ada = new Client();
  const bob = new Client();
  const admin = new Client();

  before(async () => {
    sifu = await startTestSifu({ command: `${FAKE_SERVER} fast` });
    for (const [client, name] of [
      [ada, 'ada'],
      [bob, 'bob'],
    ] as const) {
      await client.signIn(sifu, name);
      await sifu.manager.progress(name, '')?.done;
      await client.follow(`${sifu.hubUrl}/hub/spawn/${name}`);
      assert.ok(client.cookies.has('__Host-sifu-nb-session'), `${name} has a notebook session`);
    }
    await api(sifu, '/users/root', { method: 'POST', token: ADMIN_TOKEN, body: { admin: true } });
    await admin.signIn(sifu, 'root', `${sifu.notebookUrl}/user/ada/`);
  });
  after(() => sifu.cleanup());

  const contents = (user: string) => `${sifu.notebookUrl}/user/${user}/api/contents/`;

  test('the owner passes; another learner gets 403; so does an admin, by default', async () => {
    assert.equal((await ada.request(contents('ada'))).status, 200);
    const denied = await bob.request(contents('ada'));
    assert.equal(denied.status, 403);
    assert.equal(((await denied.json()) as { code: string }).code, 'SIFU_ERR_FORBIDDEN');
    const adminDenied = await admin.request(contents('ada'));
    assert.equal(adminDenied.status, 403);
    assert.equal(((await adminDenied.json()) as { code: string }).code, 'SIFU_ERR_ADMIN_ACCESS_OFF');
    assert.deepEqual(await sifu.store.listEvents({ type: 'admin.access' }), []);
  });

  test('admin access is refused at start with one origin shared by all learners', async () => {
    await assert.rejects(
      startTestSifu({ overrides: { proxy: { adminAccess: true } } }),
      (err: Error & { code?: string }) => err.code === 'SIFU_ERR_CONFIG' && /userOrigins/.test(err.message),
    );
  });

  test('no session: pages redirect to sign-in, API calls get 401', async () => {
    const page = await fetch(`${sifu.notebookUrl}/user/ada/tree`, {
      redirect: 'manual',
      headers: { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate' },
    });
    assert.equal(page.status, 302);
    const location = new URL(page.headers.get('location') as string);
    assert.equal(location.origin + location.pathname, `${sifu.hubUrl}/hub/login`);
    assert.equal(location.searchParams.get('next'), `${sifu.notebookUrl}/user/ada/tree`);
    const call = await fetch(contents('ada'), { headers: { accept: 'application/json' } });
    assert.equal(call.status, 401);
    assert.equal(((await call.json()) as { code: string }).code, 'SIFU_ERR_UNAUTHENTICATED');
  });

  test('a forged cookie and an expired session are treated as no session', async () => {
    const forged = await fetch(contents('ada'), {
      headers: { cookie: `__Host-sifu-nb-session=${newSecret()}`, accept: 'application/json' },
      redirect: 'manual',
    });
    assert.ok([302, 401].includes(forged.status), `forged: ${forged.status}`);
    const id = newSecret();
    const past = new Date(Date.now() - 60_000);
    await sifu.store.createSession(hashSecret(id), {
      userName: 'ada',
      createdAt: new Date(past.getTime() - 3600_000),
      expiresAt: past,
      parentHash: null,
    });
    const expired = await fetch(contents('ada'), {
      headers: { cookie: `__Host-sifu-nb-session=${id}` },
      redirect: 'manual',
    });
    assert.ok([302, 401].includes(expired.status), `expired: ${expired.status}`);
    const hubExpired = await fetch(`${sifu.hubUrl}/hub/home`, {
      headers: { cookie: `__Host-sifu-hub-session=${id}` },
      redirect: 'manual',
    });
    assert.equal(hubExpired.status, 302);
  });

  test('a foreign Origin on a POST is refused and nothing is created', async () => {
    const res = await ada.request(contents('ada'), {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'notebook' }),
    });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { code: string }).code, 'SIFU_ERR_BAD_ORIGIN');
    assert.ok(!existsSync(join(sifu.dataDir, 'homes/ada/Untitled.ipynb')));
    const hubPost = await fetch(`${sifu.hubUrl}/hub/api/users/ada/server`, {
      method: 'DELETE',
      headers: { cookie: ada.cookieHeader(), origin: 'https://evil.example' },
    });
    assert.equal(hubPost.status, 403, 'cookie-authenticated API calls from another site are refused');
    assert.ok(sifu.manager.route('ada', ''), "ada's server still runs");
  });

  test('WebSocket upgrades: foreign or missing Origin refused, own origin admitted', async () => {
    const url = `${sifu.notebookUrl.replace('http', 'ws')}/user/ada/api/kernels/x/channels`;
    assert.equal(
      await upgradeStatus(url, { cookie: ada.cookieHeader(), origin: 'https://evil.example' }),
      403,
    );
    assert.equal(await upgradeStatus(url, { cookie: ada.cookieHeader() }), 403);
    assert.equal(await upgradeStatus(url, { cookie: bob.cookieHeader(), origin: sifu.notebookUrl }), 403);
    assert.notEqual(await upgradeStatus(url, { origin: sifu.notebookUrl }), 101);
  });

  test('odd user names at sign-in are refused and create nobody', async () => {
    const before = (await sifu.store.listUsers()).length;
    for (const name of ['..', '%2f', 'a/b', 'ädä', '名前', 'x'.repeat(300), '', '<script>']) {
      const res = await fetch(`${sifu.hubUrl}/hub/login`, {
        method: 'POST',
        body: new URLSearchParams({ username: name }),
        headers: { origin: sifu.hubUrl },
        redirect: 'manual',
      });
      assert.equal(res.status, 400, `sign-in as ${JSON.stringify(name.slice(0, 20))}`);
      assert.equal(res.headers.get('set-cookie'), null);
      const page = await res.text();
      assert.ok(!page.includes('<script>'), 'the name is escaped');
    }
    assert.equal((await sifu.store.listUsers()).length, before);
  });

  test('odd names in notebook paths go nowhere', async () => {
    for (const path of [
      '/user/../hub/api/users',
      '/user/%2e%2e/api',
      '/user/ad%2fa/api/contents',
      '/user/%C3%A4/',
      `/user/${'x'.repeat(300)}/`,
    ]) {
      const res = await ada.request(`${sifu.notebookUrl}${path}`);
      assert.ok([400, 404].includes(res.status), `${path}: ${res.status}`);
    }
  });

  test('sign-in: login CSRF refused, no open redirect, session id rotates, cookies are HttpOnly', async () => {
    const csrf = await fetch(`${sifu.hubUrl}/hub/login`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'mallory' }),
      headers: { origin: 'https://evil.example' },
      redirect: 'manual',
    });
    assert.equal(csrf.status, 403);
    assert.equal(await sifu.store.getUser('mallory'), null);

    const eve = new Client();
    const open = await eve.signIn(sifu, 'eve', 'https://evil.example/steal');
    assert.ok(!open.hops.some((h) => h.includes('evil.example')), open.hops.join(' -> '));
    const firstCookie = eve.cookies.get('__Host-sifu-hub-session');
    const raw = await fetch(`${sifu.hubUrl}/hub/login`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'eve' }),
      headers: { origin: sifu.hubUrl, cookie: eve.cookieHeader() },
      redirect: 'manual',
    });
    const setCookie = raw.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Lax/);
    const secondCookie = /sifu-hub-session=([^;]+)/.exec(setCookie)?.[1];
    assert.ok(secondCookie && secondCookie !== firstCookie, 'a new session id at each sign-in');
    const old = await fetch(`${sifu.hubUrl}/hub/home`, {
      headers: { cookie: `__Host-sifu-hub-session=${firstCookie}` },
      redirect: 'manual',
    });
    assert.equal(old.status, 302, 'the previous session is gone');
  });

  test('signing out of the hub ends the notebook session too', async () => {
    const cy = new Client();
    await cy.signIn(sifu, 'cy');
    await sifu.manager.progress('cy', '')?.done;
    await cy.follow(`${sifu.hubUrl}/hub/spawn/cy`);
    assert.equal((await cy.request(contents('cy'))).status, 200);
    await cy.request(`${sifu.hubUrl}/hub/logout`, { method: 'POST', headers: { origin: sifu.hubUrl } });
    const after = await fetch(contents('cy'), {
      headers: { cookie: `__Host-sifu-nb-session=${cy.cookies.get('__Host-sifu-nb-session')}` },
      redirect: 'manual',
    });
    assert.ok([302, 401].includes(after.status), `after sign-out: ${after.status}`);
  });

  test('no GET changes state: a spawn link shows a start form, a sign-out link a button', async () => {
    const eli = new Client();
    await eli.signIn(sifu, 'eli', '/hub/home');
    const page = await eli.request(`${sifu.hubUrl}/hub/spawn/eli`, { headers: { accept: 'text/html' } });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<form method="post" action="\/hub\/spawn\/eli" data-autosubmit>/);
    assert.equal(sifu.manager.route('eli', ''), undefined, 'a GET started nothing');
    assert.equal(sifu.manager.isPending('eli', ''), false, 'a GET started nothing');
    // A POST from another site (a form on a page eli visits) is refused, and starts nothing either.
    const forged = await eli.request(`${sifu.hubUrl}/hub/spawn/eli`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    assert.equal(forged.status, 403);
    assert.equal(sifu.manager.isPending('eli', '') || sifu.manager.route('eli', '') !== undefined, false);

    const logout = await eli.request(`${sifu.hubUrl}/hub/logout`, { headers: { accept: 'text/html' } });
    assert.equal(logout.status, 200);
    assert.match(await logout.text(), /<form method="post" action="\/hub\/logout">/);
    const home = await eli.request(`${sifu.hubUrl}/hub/home`);
    assert.equal(home.status, 200, 'still signed in after a GET of /hub/logout');
  });

  test('a handoff code works once, and only in the browser it was minted for', async () => {
    const dee = new Client();
    const { hops } = await dee.signIn(sifu, 'dee');
    const handoff = hops.find((h) => h.includes('/hub-handoff?'));
    assert.ok(handoff, hops.join(' -> '));
    const replay = await dee.request(handoff);
    assert.equal(replay.status, 400);
    assert.equal(replay.headers.get('set-cookie'), null);

    // Login CSRF: mallory stops at her own handoff link and lures a victim's browser into opening it.
    const mallory = new Client();
    await mallory.request(`${sifu.hubUrl}/hub/login`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'mallory', next: '/hub/home' }),
      headers: { origin: sifu.hubUrl },
    });
    const visit = await mallory.request(`${sifu.notebookUrl}/user/mallory/tree`, {
      headers: { accept: 'text/html' },
    });
    const toHub = await mallory.request(visit.headers.get('location') as string);
    const lure = toHub.headers.get('location') as string;
    assert.match(lure, /\/hub-handoff\?code=/);
    const victim = new Client();
    const lured = await victim.request(lure);
    assert.equal(lured.status, 400);
    assert.equal(
      victim.cookies.has('__Host-sifu-nb-session'),
      false,
      'the victim is not signed in as mallory',
    );
  });
});
