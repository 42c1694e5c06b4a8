/**
 * Per-user origins (issue 9, finding 2): `/user/ada/` only on ada's host, Origin checks against ada's
 * origin, sessions valid on the origin they were minted for, admins kept out unless `adminAccess`.
 * Every request goes to 127.0.0.1 with the `Host` a browser would send.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { userHostLabel } from '../routes.js';
import {
  cookie,
  HUB_ORIGIN,
  json,
  LMS_ORIGIN,
  openWebSocket,
  type Setup,
  send,
  setUp,
} from './doubles/harness.js';

const BASE = 'notebooks.sifu.test';
const ADA = `https://ada.${BASE}`;
const BOB = `https://bob.${BASE}`;
const ROOT = `https://root.${BASE}`;
const host = (origin: string) => new URL(origin).host;
const api = { accept: 'application/json' };
const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

/** Sessions bound to one origin each, as the handoff mints them. */
async function setUpOrigins(adminAccess: boolean): Promise<Setup> {
  const s = await setUp({ notebookOrigin: `https://${BASE}`, userOrigins: true, adminAccess });
  s.hooks
    .addSession('ada-at-ada', { userName: 'ada', admin: false }, ADA)
    .addSession('ada-at-bob', { userName: 'ada', admin: false }, BOB)
    .addSession('root-at-ada', { userName: 'root', admin: true }, ADA)
    .addSession('root-at-bob', { userName: 'root', admin: true }, BOB)
    .addRoute('bob', s.upstream.origin, 'bob-secret');
  return s;
}

describe('notebook proxy: per-user origins', () => {
  let s: Setup;
  before(async () => {
    s = await setUpOrigins(false);
  });
  after(async () => {
    await s.close();
  });

  /** Sends and asserts that no server saw the request. */
  async function refused(path: string, headers: Record<string, string>, method = 'GET') {
    const seen = s.upstream.seen.length;
    const answer = await send(s.port, { method, path, headers });
    assert.equal(
      s.upstream.seen.length,
      seen,
      `a server was reached by ${method} ${path} at ${headers.host}`,
    );
    return answer;
  }

  it("serves ada's server on ada's host with a session of ada's origin", { timeout: 20_000 }, async () => {
    const answer = await send(s.port, {
      path: '/user/ada/echo',
      headers: { host: host(ADA), cookie: cookie('ada-at-ada') },
    });
    assert.equal(answer.status, 200);
  });

  it("refuses ada's path on bob's host, on root's, on the bare host and on others", {
    timeout: 20_000,
  }, async () => {
    for (const where of [
      host(BOB),
      host(ROOT),
      BASE,
      'ada.evil.test',
      `ada.${BASE}.evil.test`,
      `x.ada.${BASE}`,
    ]) {
      // Even with a session valid where the request is sent: the path's user decides the origin.
      const answer = await refused('/user/ada/echo', { host: where, cookie: cookie('ada-at-bob') });
      assert.equal(answer.status, 403, where);
      assert.equal(json(answer).code, 'SIFU_ERR_WRONG_ORIGIN', where);
    }
    const noHost = await refused('/user/ada/echo', { host: '', cookie: cookie('ada-at-ada') });
    assert.equal(noHost.status, 403);
    // WebSocket upgrades alike, even with the Origin and a session of the host they are sent to.
    const ws = await openWebSocket(s.port, '/user/ada/ws', {
      host: host(BOB),
      origin: BOB,
      cookie: cookie('ada-at-bob'),
    });
    assert.ok(
      'refused' in ws && ws.refused === 403 && /SIFU_ERR_WRONG_ORIGIN/.test(ws.body),
      "upgrade on bob's host",
    );
  });

  it('refuses a session of one origin on another', { timeout: 20_000 }, async () => {
    // ada's own session, minted for bob's origin (e.g. tossed there), is no session on ada's.
    const call = await refused('/user/ada/echo', { ...api, host: host(ADA), cookie: cookie('ada-at-bob') });
    assert.equal(call.status, 401);
    assert.equal(json(call).code, 'SIFU_ERR_UNAUTHENTICATED');
    // ada's session carried to bob's origin does not open bob's server either.
    const bob = await refused('/user/bob/echo', { ...api, host: host(BOB), cookie: cookie('ada-at-ada') });
    assert.equal(bob.status, 401);
  });

  it("refuses state-changing requests and upgrades from another user's origin", {
    timeout: 20_000,
  }, async () => {
    for (const origin of [BOB, ROOT, `https://${BASE}`, 'https://ada.evil.test', 'null']) {
      const post = await refused(
        '/user/ada/echo',
        { host: host(ADA), origin, cookie: cookie('ada-at-ada'), 'content-type': 'text/plain' },
        'POST',
      );
      assert.equal(post.status, 403, origin);
      assert.equal(json(post).code, 'SIFU_ERR_BAD_ORIGIN', origin);
      const ws = await openWebSocket(s.port, '/user/ada/ws', {
        host: host(ADA),
        origin,
        cookie: cookie('ada-at-ada'),
      });
      assert.ok('refused' in ws && ws.refused === 403, `upgrade from ${origin}`);
    }
    const own = await send(s.port, {
      method: 'POST',
      path: '/user/ada/echo',
      headers: { host: host(ADA), origin: ADA, cookie: cookie('ada-at-ada') },
      body: 'x',
    });
    assert.equal(own.status, 200);
    const lms = await send(s.port, {
      method: 'POST',
      path: '/user/ada/echo',
      headers: { host: host(ADA), origin: LMS_ORIGIN, cookie: cookie('ada-at-ada') },
      body: 'x',
    });
    assert.equal(lms.status, 200, 'proxy.allowedOrigins still pass');
    const ws = await openWebSocket(s.port, '/user/ada/ws', {
      host: host(ADA),
      origin: ADA,
      cookie: cookie('ada-at-ada'),
    });
    assert.ok('open' in ws, 'an upgrade from the own origin opens');
    if ('open' in ws) ws.open.close();
  });

  it('keeps an admin out, over HTTP and WebSocket, with adminAccess off', { timeout: 20_000 }, async () => {
    const call = await refused('/user/bob/echo', { ...api, host: host(BOB), cookie: cookie('root-at-bob') });
    assert.equal(call.status, 403);
    assert.equal(json(call).code, 'SIFU_ERR_ADMIN_ACCESS_OFF');
    const ws = await openWebSocket(s.port, '/user/bob/ws', {
      host: host(BOB),
      origin: BOB,
      cookie: cookie('root-at-bob'),
    });
    assert.ok('refused' in ws && ws.refused === 403);
    assert.equal(s.hooks.adminAccessCalls.length, 0);
  });

  it("sends sign-in and spawn redirects through the user's own origin", { timeout: 20_000 }, async () => {
    const login = await refused('/user/ada/tree', { ...html, host: host(ADA) });
    assert.equal(login.status, 302);
    const next = new URL(String(login.headers.location)).searchParams.get('next');
    assert.equal(next, `${ADA}/user/ada/tree`);
    assert.ok(String(login.headers.location).startsWith(`${HUB_ORIGIN}/hub/login?`));
    const s2 = await refused('/user/carl/tree', {
      ...html,
      host: `carl.${BASE}`,
      cookie: cookie('bob-session'),
    });
    assert.equal(s2.status, 403, 'bob on carl');
  });

  it('spends a handoff code only for the origin it is visited on', { timeout: 20_000 }, async () => {
    s.hooks.handoffCodes.set('code-1', `${cookie('x')}; Path=/`);
    const next = encodeURIComponent('/user/ada/tree');
    const wrong = await send(s.port, {
      path: `/hub-handoff?code=code-1&next=${next}`,
      headers: { host: host(BOB) },
    });
    assert.equal(wrong.status, 400, "ada's next on bob's origin");
    assert.equal(s.hooks.handoffCodes.has('code-1'), true, 'not spent');
    const right = await send(s.port, {
      path: `/hub-handoff?code=code-1&next=${next}`,
      headers: { host: host(ADA) },
    });
    assert.equal(right.status, 302);
    assert.equal(s.hooks.handoffOrigins.at(-1), ADA);
  });
});

describe('notebook proxy: per-user origins with adminAccess on', () => {
  let s: Setup;
  before(async () => {
    s = await setUpOrigins(true);
  });
  after(async () => {
    await s.close();
  });

  it("lets an admin into a learner's server on that learner's origin, audited", {
    timeout: 20_000,
  }, async () => {
    const first = await send(s.port, {
      path: '/user/bob/echo',
      headers: { host: host(BOB), cookie: cookie('root-at-bob') },
    });
    const second = await send(s.port, {
      path: '/user/bob/echo',
      headers: { host: host(BOB), cookie: cookie('root-at-bob') },
    });
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    assert.deepEqual(s.hooks.adminAccessCalls, [{ admin: 'root', userName: 'bob', serverName: '' }]);
  });

  it("never with the admin's session of another learner's origin", { timeout: 20_000 }, async () => {
    const seen = s.upstream.seen.length;
    const tossed = await send(s.port, {
      path: '/user/bob/echo',
      headers: { ...api, host: host(BOB), cookie: cookie('root-at-ada') },
    });
    assert.equal(tossed.status, 401);
    const crossPath = await send(s.port, {
      path: '/user/bob/echo',
      headers: { ...api, host: host(ADA), cookie: cookie('root-at-ada') },
    });
    assert.equal(crossPath.status, 403);
    assert.equal(json(crossPath).code, 'SIFU_ERR_WRONG_ORIGIN');
    assert.equal(s.upstream.seen.length, seen);
  });
});

describe('userHostLabel', () => {
  it('is the name when it is a plain DNS label, else a hash that no plain label can be', () => {
    assert.equal(userHostLabel('ada'), 'ada');
    assert.equal(userHostLabel('9lives-x'), '9lives-x');
    for (const name of ['a.b', 'a_b', 'a--b', 'ada-', 'a'.repeat(64)]) {
      assert.match(userHostLabel(name), /^u--[0-9a-f]{32}$/, name);
    }
    assert.notEqual(userHostLabel('a.b'), userHostLabel('a_b'));
  });
});
