import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { type Sifu, startSifu } from '../src/app/start.js';
import { loadConfig } from '../src/config/load.js';
import {
  type RealOAuthProvider,
  type StandInAccount,
  startOAuthProvider,
  startSilentServer,
} from './support/oauth-provider.js';
import { ADMIN_TOKEN, Client, FAKE_SERVER, freePort } from './support/sifu.js';

const ADA: StandInAccount = { username: 'Ada_Lovelace', email: 'ada@example.org', name: 'Ada Lovelace' };
const GRACE: StandInAccount = { username: 'grace', email: 'grace@example.org', name: 'Grace Hopper' };
const ALAN: StandInAccount = { username: 'alan', email: 'alan@example.org', name: 'Alan Turing' };
const MALLORY: StandInAccount = { username: 'mallory', email: 'm@example.org', name: 'Mallory' };
const BAD_NAME: StandInAccount = { username: 'Not Valid!', email: 'x@example.org', name: 'Bad Name' };
const ACCOUNTS = [ADA, GRACE, ALAN, MALLORY, BAD_NAME];

interface OAuthSifu extends Sifu {
  /** Everything Sifu logged (pino JSON lines, level debug), for the secret checks. */
  logs(): string;
  cleanup(): Promise<void>;
}

/** Sifu in this process with a platform authenticator, its log captured in memory. */
async function startOAuthSifu(hubPort: number, overrides: Record<string, unknown>): Promise<OAuthSifu> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sifu-oauth-'));
  let captured = '';
  const sink = new Writable({
    write(chunk, _encoding, done) {
      captured += chunk;
      done();
    },
  });
  const config = loadConfig({
    overrides: {
      dataDir,
      adminToken: ADMIN_TOKEN,
      hub: { port: hubPort },
      notebook: { port: await freePort() },
      spawner: { command: `${FAKE_SERVER} fast`, startTimeout: 60 },
      culler: { enabled: false },
      log: { level: 'debug' },
      ...overrides,
    },
  });
  let sifu: Sifu;
  try {
    sifu = await startSifu(config, { log: pino({ level: 'debug' }, sink) });
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    ...sifu,
    logs: () => captured,
    async cleanup() {
      for (const route of sifu.manager.runningRoutes()) {
        await sifu.manager.stop(route.userName, route.serverName).catch(() => {});
      }
      await sifu.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const edxSettings = (provider: RealOAuthProvider, extra: Record<string, unknown> = {}) => ({
  authenticator: 'edx',
  auth: {
    edx: {
      lmsUrl: provider.url,
      clientId: provider.edxClient.id,
      clientSecret: provider.edxClient.secret,
      ...extra,
    },
  },
});

const oidcSettings = (provider: RealOAuthProvider, extra: Record<string, unknown> = {}) => ({
  authenticator: 'oidc',
  auth: {
    oidc: {
      issuer: provider.url,
      clientId: provider.oidcClient.id,
      clientSecret: provider.oidcClient.secret,
      ...extra,
    },
  },
});

/** A hub port chosen up front, so that the provider can know Sifu's redirect URI before Sifu starts. */
async function hubPorts(count: number) {
  const ports = await Promise.all(Array.from({ length: count }, () => freePort()));
  return { ports, redirectUris: ports.map((p) => `http://127.0.0.1:${p}/hub/oauth_callback`) };
}

/**
 * Follows the browser's redirects from `/hub/login` through the platform, stopping before Sifu's
 * callback: returns the callback URL the platform sent the browser to, and every URL on the way.
 */
async function untilCallback(client: Client, sifu: Sifu, next = '/hub/home') {
  const hops: string[] = [`${sifu.hubUrl}/hub/login?next=${encodeURIComponent(next)}`];
  for (let i = 0; i < 20; i++) {
    const res = await client.request(hops.at(-1) as string, { headers: { accept: 'text/html' } });
    await res.arrayBuffer();
    assert.ok(
      res.status >= 300 && res.status < 400,
      `expected a redirect from ${hops.at(-1)}: ${res.status}`,
    );
    const location = new URL(res.headers.get('location') as string, hops.at(-1)).href;
    hops.push(location);
    if (location.startsWith(`${sifu.hubUrl}/hub/oauth_callback`)) return { callback: location, hops };
  }
  throw new Error(`never reached the callback: ${hops.join(' -> ')}`);
}

async function errorCode(res: Response): Promise<string | undefined> {
  const body = await res.text();
  return /<code>(SIFU_ERR_[A-Z_]+)<\/code>/.exec(body)?.[1];
}

async function assertNobodySignedIn(sifu: Sifu, client: Client, userName: string) {
  assert.equal(await sifu.store.getUser(userName), null, `no user ${userName}`);
  assert.equal(client.cookies.has('__Host-sifu-hub-session'), false, 'no session cookie');
  const signIns = await sifu.store.listEvents({ type: 'user.signin', userName });
  assert.equal(signIns.length, 0, 'no sign-in event');
}

describe('edx: signing in at a real OAuth2 provider standing in for Open edX (JWT tokens)', () => {
  let provider: RealOAuthProvider;
  let sifu: OAuthSifu;

  before(async () => {
    const { ports, redirectUris } = await hubPorts(1);
    provider = await startOAuthProvider({ redirectUris, accounts: ACCOUNTS });
    sifu = await startOAuthSifu(ports[0] as number, edxSettings(provider));
  });
  after(async () => {
    await sifu?.cleanup();
    await provider?.stop();
  });

  test('a learner signs in at the LMS and lands on `next`, signed in as their edX username', async () => {
    const client = new Client();
    provider.signInAs = ADA.username;
    const { res, hops } = await client.follow(
      `${sifu.hubUrl}/hub/login?next=${encodeURIComponent('/hub/home')}`,
      {},
      20,
    );
    assert.equal(res.status, 200);
    assert.equal(hops.at(-1), `${sifu.hubUrl}/hub/home`);
    assert.match(await res.text(), /ada_lovelace/);

    const authorize = new URL(hops[1] as string);
    assert.equal(authorize.origin + authorize.pathname, `${provider.url}/oauth2/authorize/`);
    assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(authorize.searchParams.get('code_challenge'));
    assert.ok(authorize.searchParams.get('state'));
    assert.equal(authorize.searchParams.get('redirect_uri'), `${sifu.hubUrl}/hub/oauth_callback`);
    assert.equal(authorize.searchParams.get('scope'), 'profile email');

    assert.ok(client.cookies.has('__Host-sifu-hub-session'), 'session cookie set');
    assert.equal(client.cookies.has('sifu-oauth-login'), false, 'login cookie spent');
    const user = await sifu.store.getUser('ada_lovelace');
    assert.ok(user, 'user created under the normalised edX username');
    const signIns = await sifu.store.listEvents({ type: 'user.signin', userName: 'ada_lovelace' });
    assert.equal(signIns[0]?.data.via, 'edx');

    assert.equal(provider.tokenRequests.at(-1)?.tokenType, 'jwt', 'token_type=jwt asked of the LMS');
    const calls = provider.apiCalls.slice(-2);
    assert.deepEqual(
      calls.map((c) => [c.path, c.scheme, c.status]),
      [
        ['/api/user/v1/me', 'JWT', 200],
        ['/api/user/v1/accounts/Ada_Lovelace', 'JWT', 200],
      ],
    );
  });

  test('the login cookie is HttpOnly, SameSite=Lax and sent only to the callback', async () => {
    const res = await fetch(`${sifu.hubUrl}/hub/login`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('sifu-oauth-login='));
    assert.ok(cookie, 'a login cookie is set');
    assert.match(cookie, /; Path=\/hub\/oauth_callback(;|$)/);
    assert.match(cookie, /; HttpOnly/);
    assert.match(cookie, /; SameSite=Lax/);
    assert.match(cookie, /; Max-Age=600/);
    const id = /^sifu-oauth-login=([^;]+)/.exec(cookie)?.[1] as string;
    assert.equal(
      (res.headers.get('location') as string).includes(id),
      false,
      'the id never travels in the URL',
    );
  });

  test('the learner denies access: an error page, nothing created', async () => {
    const client = new Client();
    provider.signInAs = GRACE.username;
    provider.denyConsent = true;
    try {
      const { res } = await client.follow(`${sifu.hubUrl}/hub/login`, {}, 20);
      assert.equal(res.status, 403);
      assert.equal(await errorCode(res), 'SIFU_ERR_OAUTH_DENIED');
    } finally {
      provider.denyConsent = false;
    }
    await assertNobodySignedIn(sifu, client, 'grace');
  });

  test('a wrong state is refused, and spends the login: the genuine callback then fails too', async () => {
    const client = new Client();
    provider.signInAs = ALAN.username;
    const { callback } = await untilCallback(client, sifu);
    const loginCookie = client.cookies.get('sifu-oauth-login') as string;
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged-state-value');
    const res = await client.request(forged.href);
    assert.equal(res.status, 400);
    assert.equal(await errorCode(res), 'SIFU_ERR_OAUTH_STATE');
    const cleared = res.headers.getSetCookie().find((c) => c.startsWith('sifu-oauth-login='));
    assert.match(cleared ?? '', /^sifu-oauth-login=deleted; Path=\/hub\/oauth_callback;.*Max-Age=0/);
    client.cookies.set('sifu-oauth-login', loginCookie);
    const genuine = await client.request(callback);
    assert.equal(await errorCode(genuine), 'SIFU_ERR_OAUTH_STATE');
    await assertNobodySignedIn(sifu, client, 'alan');
  });

  test('a callback without the login cookie (another browser) is refused', async () => {
    const client = new Client();
    provider.signInAs = ALAN.username;
    const { callback } = await untilCallback(client, sifu);
    const otherBrowser = new Client();
    const res = await otherBrowser.request(callback);
    assert.equal(res.status, 400);
    assert.equal(await errorCode(res), 'SIFU_ERR_OAUTH_STATE');
    await assertNobodySignedIn(sifu, otherBrowser, 'alan');
  });

  test('a replayed callback is refused, even with the old cookie put back', async () => {
    const client = new Client();
    provider.signInAs = ALAN.username;
    const { callback } = await untilCallback(client, sifu);
    const loginCookie = client.cookies.get('sifu-oauth-login') as string;
    const first = await client.request(callback);
    assert.equal(first.status, 303);
    assert.ok(await sifu.store.getUser('alan'));

    const replay = new Client();
    replay.cookies.set('sifu-oauth-login', loginCookie);
    const res = await replay.request(callback);
    assert.equal(res.status, 400);
    assert.equal(await errorCode(res), 'SIFU_ERR_OAUTH_STATE');
    assert.equal(replay.cookies.has('__Host-sifu-hub-session'), false);
  });

  test('a replayed authorization code is refused by the LMS (invalid_grant): no session', async () => {
    const victim = new Client();
    provider.signInAs = ADA.username;
    const { callback: used } = await untilCallback(victim, sifu);
    assert.equal((await victim.request(used)).status, 303);

    // Another browser with a login of its own presents the victim's spent code with its own state.
    const attacker = new Client();
    provider.signInAs = MALLORY.username;
    const { callback: own } = await untilCallback(attacker, sifu);
    const replayed = new URL(own);
    replayed.searchParams.set('code', new URL(used).searchParams.get('code') as string);
    const res = await attacker.request(replayed.href);
    assert.equal(res.status, 502);
    assert.equal(await errorCode(res), 'SIFU_ERR_OAUTH_FAILED');
    assert.equal(provider.tokenRequests.at(-1)?.status, 400);
    assert.match(sifu.logs(), /invalid_grant/);
    await assertNobodySignedIn(sifu, attacker, 'mallory');
  });

  test('neither the client secret nor an access token appears in the log', async () => {
    const logs = sifu.logs();
    assert.match(logs, /signed in at the platform/, 'the log was captured');
    assert.equal(logs.includes(provider.edxClient.secret), false, 'client secret in the log');
    const tokens = provider.tokenRequests.flatMap((t) => (t.accessToken ? [t.accessToken] : []));
    assert.ok(tokens.length > 0);
    for (const token of tokens) assert.equal(logs.includes(token), false, 'access token in the log');
  });

  test('the LMS goes down mid-login: a clear error page with a stable code, nothing created', async () => {
    const client = new Client();
    provider.signInAs = GRACE.username;
    const { callback } = await untilCallback(client, sifu);
    await provider.stop();
    const res = await client.request(callback);
    assert.equal(res.status, 502);
    assert.match(res.headers.get('content-type') as string, /text\/html/);
    assert.equal(await errorCode(res), 'SIFU_ERR_OAUTH_PROVIDER_DOWN');
    await assertNobodySignedIn(sifu, client, 'grace');
  });
});

describe('edx: bearer tokens, a wrong client secret, a hanging token endpoint', () => {
  let provider: RealOAuthProvider;
  let bearer: OAuthSifu;
  let wrongSecret: OAuthSifu;
  let hanging: OAuthSifu;
  let silent: Awaited<ReturnType<typeof startSilentServer>>;
  const WRONG_SECRET = 'wrong-secret-0123456789abcdef';

  before(async () => {
    const { ports, redirectUris } = await hubPorts(3);
    provider = await startOAuthProvider({ redirectUris, accounts: ACCOUNTS });
    silent = await startSilentServer();
    bearer = await startOAuthSifu(ports[0] as number, edxSettings(provider, { tokenType: 'bearer' }));
    wrongSecret = await startOAuthSifu(
      ports[1] as number,
      edxSettings(provider, { clientSecret: WRONG_SECRET }),
    );
    hanging = await startOAuthSifu(
      ports[2] as number,
      edxSettings(provider, { tokenUrl: `${silent.url}/oauth2/access_token/`, timeout: 0.5 }),
    );
  });
  after(async () => {
    for (const sifu of [bearer, wrongSecret, hanging]) await sifu?.cleanup();
    await silent?.stop();
    await provider?.stop();
  });

  test('tokenType bearer: no token_type=jwt asked, `Authorization: Bearer` on the user API', async () => {
    const client = new Client();
    provider.signInAs = GRACE.username;
    const { res } = await client.follow(`${bearer.hubUrl}/hub/login?next=/hub/home`, {}, 20);
    assert.equal(res.status, 200);
    assert.ok(await bearer.store.getUser('grace'));
    assert.equal(provider.tokenRequests.at(-1)?.tokenType, undefined);
    assert.deepEqual(
      provider.apiCalls.slice(-2).map((c) => [c.path, c.scheme, c.status]),
      [
        ['/api/user/v1/me', 'Bearer', 200],
        ['/api/user/v1/accounts/grace', 'Bearer', 200],
      ],
    );
  });

  test('a wrong client secret: SIFU_ERR_OAUTH_FAILED, and the secret stays out of the log', async () => {
    const client = new Client();
    provider.signInAs = ALAN.username;
    const { res } = await client.follow(`${wrongSecret.hubUrl}/hub/login`, {}, 20);
    assert.equal(res.status, 502);
    assert.equal(await errorCode(res), 'SIFU_ERR_OAUTH_FAILED');
    await assertNobodySignedIn(wrongSecret, client, 'alan');
    const logs = wrongSecret.logs();
    assert.match(logs, /invalid_client/, 'the reason is logged');
    assert.equal(logs.includes(WRONG_SECRET), false, 'client secret in the log');
  });

  test('a token endpoint that never answers: SIFU_ERR_OAUTH_PROVIDER_DOWN after the timeout', async () => {
    const client = new Client();
    provider.signInAs = ALAN.username;
    const { res } = await client.follow(`${hanging.hubUrl}/hub/login`, {}, 20);
    assert.equal(res.status, 502);
    assert.equal(await errorCode(res), 'SIFU_ERR_OAUTH_PROVIDER_DOWN');
    assert.match(hanging.logs(), /token endpoint: no answer before the timeout/);
    await assertNobodySignedIn(hanging, client, 'alan');
  });
});

describe('oidc: the same provider through OpenID Connect discovery', () => {
  let provider: RealOAuthProvider;
  let oidc: OAuthSifu;
  let bySub: OAuthSifu;
  let unreachable: OAuthSifu;

  before(async () => {
    const { ports, redirectUris } = await hubPorts(3);
    provider = await startOAuthProvider({ redirectUris, accounts: ACCOUNTS });
    oidc = await startOAuthSifu(ports[0] as number, oidcSettings(provider));
    bySub = await startOAuthSifu(ports[1] as number, oidcSettings(provider, { usernameClaim: 'sub' }));
    const nobody = `http://127.0.0.1:${await freePort()}`;
    unreachable = await startOAuthSifu(ports[2] as number, {
      ...oidcSettings(provider),
      auth: { oidc: { issuer: nobody, clientId: 'x', clientSecret: 'y-secret', timeout: 2 } },
    });
  });
  after(async () => {
    for (const sifu of [oidc, bySub, unreachable]) await sifu?.cleanup();
    await provider?.stop();
  });

  test('discovery, nonce, ID token; preferred_username (from userinfo) becomes the user name', async () => {
    const client = new Client();
    provider.signInAs = ADA.username;
    const userinfoBefore = provider.userinfoRequests;
    const { res, hops } = await client.follow(`${oidc.hubUrl}/hub/login?next=/hub/home`, {}, 20);
    assert.equal(res.status, 200);
    assert.equal(hops.at(-1), `${oidc.hubUrl}/hub/home`);
    const authorize = new URL(hops[1] as string);
    assert.equal(authorize.origin + authorize.pathname, `${provider.url}/oauth2/authorize/`);
    assert.ok(authorize.searchParams.get('nonce'), 'a nonce is sent');
    assert.deepEqual(authorize.searchParams.get('scope')?.split(' ').sort(), ['email', 'openid', 'profile']);
    assert.ok(await oidc.store.getUser('ada_lovelace'));
    assert.equal(provider.userinfoRequests, userinfoBefore + 1, 'the claim came from userinfo');
    assert.ok(client.cookies.has('__Host-sifu-hub-session'));
    const signIns = await oidc.store.listEvents({ type: 'user.signin', userName: 'ada_lovelace' });
    assert.equal(signIns[0]?.data.via, 'oidc');
    assert.equal(oidc.logs().includes(provider.oidcClient.secret), false, 'client secret in the log');
  });

  test('another claim (`sub`, in the ID token itself) can name the user', async () => {
    const client = new Client();
    provider.signInAs = GRACE.username;
    const userinfoBefore = provider.userinfoRequests;
    const { res } = await client.follow(`${bySub.hubUrl}/hub/login?next=/hub/home`, {}, 20);
    assert.equal(res.status, 200);
    assert.ok(await bySub.store.getUser('grace'));
    assert.equal(provider.userinfoRequests, userinfoBefore, 'no userinfo request needed');
  });

  test('a claim that is not a valid user name: SIFU_ERR_INVALID_USERNAME, nothing created', async () => {
    const client = new Client();
    provider.signInAs = BAD_NAME.username;
    const { res } = await client.follow(`${oidc.hubUrl}/hub/login`, {}, 20);
    assert.equal(res.status, 400);
    assert.equal(await errorCode(res), 'SIFU_ERR_INVALID_USERNAME');
    assert.equal(client.cookies.has('__Host-sifu-hub-session'), false);
    assert.deepEqual(
      (await oidc.store.listUsers()).map((u) => u.name),
      ['ada_lovelace'],
      'only the earlier user exists',
    );
  });

  test('a provider that cannot be reached: /hub/login shows SIFU_ERR_OAUTH_PROVIDER_DOWN', async () => {
    const client = new Client();
    const { res } = await client.follow(`${unreachable.hubUrl}/hub/login`);
    assert.equal(res.status, 502);
    assert.equal(await errorCode(res), 'SIFU_ERR_OAUTH_PROVIDER_DOWN');
    assert.equal(client.cookies.has('sifu-oauth-login'), false, 'no login begun');
  });
});

/**
 * Issue 9, finding 3, for the platform authenticators: a platform's username named the Sifu user, so a
 * platform account `Carol` (or `\u212Aate`, KELVIN SIGN, lower-casing to `kate`) signed in as the admins
 * `carol` and `kate`. Users are now found by (issuer, sub); the platform's name only names a new user.
 */
describe('identities: a platform username never selects an account it is not linked to', () => {
  const CAROL: StandInAccount = { username: 'Carol', email: 'carol@example.org', name: 'Carol' };
  const KELVIN: StandInAccount = { username: '\u212Aate', email: 'kate@example.org', name: 'Kate' };
  const DANA: StandInAccount = { username: 'dana', email: 'dana@example.org', name: 'Dana' };
  const DANA_CAPS: StandInAccount = { username: 'DANA', email: 'dana2@example.org', name: 'Other Dana' };
  let provider: RealOAuthProvider;
  let edx: OAuthSifu;
  let oidc: OAuthSifu;

  before(async () => {
    const { ports, redirectUris } = await hubPorts(2);
    provider = await startOAuthProvider({ redirectUris, accounts: [CAROL, KELVIN, DANA, DANA_CAPS] });
    edx = await startOAuthSifu(ports[0] as number, edxSettings(provider));
    oidc = await startOAuthSifu(ports[1] as number, oidcSettings(provider));
    for (const sifu of [edx, oidc]) {
      await sifu.store.createUser('carol', { admin: true });
      await sifu.store.createUser('kate', { admin: true });
    }
  });
  after(async () => {
    for (const sifu of [edx, oidc]) await sifu?.cleanup();
    await provider?.stop();
  });

  /** Signs in at the provider as `account`; returns the browser and who its session is. */
  async function signInAs(sifu: Sifu, account: StandInAccount) {
    const client = new Client();
    provider.signInAs = account.username;
    const { res } = await client.follow(`${sifu.hubUrl}/hub/login?next=/hub/home`, {}, 20);
    await res.arrayBuffer();
    const me = await client.request(`${sifu.hubUrl}/hub/api/user`);
    return { client, status: res.status, me: me.status === 200 ? await me.json() : null };
  }

  for (const mode of ['edx', 'oidc'] as const) {
    test(`${mode}: "Carol" with an admin carol signs in as a new, non-admin user, the same one each time`, async () => {
      const sifu = mode === 'edx' ? edx : oidc;
      const first = await signInAs(sifu, CAROL);
      assert.equal(first.status, 200);
      assert.notEqual(first.me?.name, 'carol');
      assert.equal(first.me?.admin, false);
      assert.match(first.me?.name, /^carol-[0-9a-f]{8}$/);
      const again = await signInAs(sifu, CAROL);
      assert.equal(again.me?.name, first.me?.name, 'the same identity, the same user');
      assert.equal((await sifu.store.getUser('carol'))?.admin, true, 'the admin is untouched');
    });

    test(`${mode}: two accounts whose names fold alike are two users`, async () => {
      const sifu = mode === 'edx' ? edx : oidc;
      const dana = await signInAs(sifu, DANA);
      const caps = await signInAs(sifu, DANA_CAPS);
      assert.equal(dana.me?.name, 'dana');
      assert.notEqual(caps.me?.name, 'dana');
      assert.equal(caps.me?.admin, false);
      assert.equal((await signInAs(sifu, DANA)).me?.name, 'dana');
    });

    test(`${mode}: "\\u212Aate" (KELVIN SIGN) with an admin kate: refused as a name, no session`, async () => {
      const sifu = mode === 'edx' ? edx : oidc;
      const { client, status, me } = await signInAs(sifu, KELVIN);
      assert.equal(status, 400);
      assert.equal(me, null, 'not signed in');
      assert.equal(client.cookies.has('__Host-sifu-hub-session'), false);
      assert.deepEqual(await sifu.store.listIdentities('kate'), []);
    });
  }
});

test('authenticator edx without auth.edx.lmsUrl stops the start, naming the option, before opening anything', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sifu-oauth-'));
  try {
    const config = loadConfig({
      overrides: { dataDir, authenticator: 'edx', auth: { edx: { clientId: 'id', clientSecret: 's' } } },
    });
    await assert.rejects(
      startSifu(config, { log: pino({ level: 'silent' }) }),
      (err: Error & { code?: string }) =>
        err.code === 'SIFU_ERR_CONFIG' && /`auth\.edx\.lmsUrl` is required/.test(err.message),
    );
    assert.equal(existsSync(join(dataDir, 'sifu.sqlite')), false, 'no database opened');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
