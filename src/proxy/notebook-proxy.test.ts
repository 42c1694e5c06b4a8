import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  cookie,
  HUB_ORIGIN,
  json,
  LMS_ORIGIN,
  NOTEBOOK_ORIGIN,
  type RequestSpec,
  type Setup,
  send,
  setUp,
} from './doubles/harness.js';

const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const api = { accept: 'application/json' };

describe('notebook proxy: routing, gate, handoff, headers', () => {
  let s: Setup;
  before(async () => {
    s = await setUp();
  });
  after(async () => {
    await s.close();
  });

  /** Sends `spec` and asserts that the upstream saw nothing. */
  async function refused(spec: RequestSpec) {
    const before = s.upstream.seen.length;
    const answer = await send(s.port, spec);
    assert.equal(s.upstream.seen.length, before, `upstream reached by ${spec.method ?? 'GET'} ${spec.path}`);
    return answer;
  }

  it("forwards the owner's request with the path and query unchanged", { timeout: 20_000 }, async () => {
    const answer = await send(s.port, {
      path: '/user/ada/echo?x=1&y=%2F',
      headers: { cookie: cookie('ada-session') },
    });
    assert.equal(answer.status, 200);
    assert.equal(json(answer).url, '/user/ada/echo?x=1&y=%2F');
  });

  it('answers 404 JSON outside /user/', { timeout: 20_000 }, async () => {
    for (const path of ['/', '/hub/login', '/user', '/user/', '/users/ada/', '/favicon.ico']) {
      const answer = await refused({ path, headers: { cookie: cookie('ada-session') } });
      assert.equal(answer.status, 404, path);
      assert.equal(json(answer).code, 'SIFU_ERR_NOT_FOUND', path);
    }
  });

  it('answers 404 for odd names and dot segments, leaving the upstream untouched', {
    timeout: 20_000,
  }, async () => {
    const odd = [
      '/user/../echo',
      '/user/%2e%2e/echo',
      '/user/ada%2fx/echo',
      '/user/ada%2Fx/echo',
      '/user/%C3%A9/echo',
      `/user/${'a'.repeat(300)}/echo`,
      '/user/Ada/echo',
      '/user//echo',
      '/user/%zz/echo',
      '/user/ada/../bob/echo',
      '/user/ada/%2e%2e/bob/echo',
    ];
    for (const path of odd) {
      const answer = await refused({ path, headers: { cookie: cookie('ada-session') } });
      assert.equal(answer.status, 404, path);
      assert.equal(json(answer).code, 'SIFU_ERR_NOT_FOUND', path);
    }
  });

  it('redirects /user/<name> to /user/<name>/', { timeout: 20_000 }, async () => {
    const answer = await refused({ path: '/user/ada?a=1', headers: { cookie: cookie('ada-session') } });
    assert.equal(answer.status, 302);
    assert.equal(answer.headers.location, '/user/ada/?a=1');
  });

  it('sends a signed-out page request to sign-in, with the full notebook URL as next', {
    timeout: 20_000,
  }, async () => {
    const answer = await refused({ path: '/user/ada/tree?x=1', headers: html });
    assert.equal(answer.status, 302);
    const expected = `${HUB_ORIGIN}/hub/login?next=${encodeURIComponent(`${NOTEBOOK_ORIGIN}/user/ada/tree?x=1`)}`;
    assert.equal(answer.headers.location, expected);
  });

  it('answers 401 to signed-out API calls, XHR and other methods', { timeout: 20_000 }, async () => {
    const specs: RequestSpec[] = [
      { path: '/user/ada/api/kernels', headers: api },
      { path: '/user/ada/api/kernels', headers: html },
      { path: '/user/ada/tree', headers: { ...html, 'x-requested-with': 'XMLHttpRequest' } },
      { path: '/user/ada/echo' },
      {
        method: 'POST',
        path: '/user/ada/api/contents',
        headers: { ...html, origin: NOTEBOOK_ORIGIN },
        body: '{}',
      },
    ];
    for (const spec of specs) {
      const answer = await refused(spec);
      assert.equal(answer.status, 401, spec.path);
      assert.equal(json(answer).code, 'SIFU_ERR_UNAUTHENTICATED');
      assert.equal(json(answer).status, 401);
    }
  });

  it('treats a forged session cookie as no session', { timeout: 20_000 }, async () => {
    const page = await refused({ path: '/user/ada/tree', headers: { ...html, cookie: cookie('forged') } });
    assert.equal(page.status, 302);
    assert.ok(page.headers.location?.startsWith(`${HUB_ORIGIN}/hub/login?`));
    const call = await refused({
      path: '/user/ada/api/status',
      headers: { ...api, cookie: cookie('forged') },
    });
    assert.equal(call.status, 401);
  });

  it('works with a visitor hook that answers asynchronously', { timeout: 20_000 }, async () => {
    s.hooks.asyncVisitor = true;
    try {
      const ok = await send(s.port, { path: '/user/ada/echo', headers: { cookie: cookie('ada-session') } });
      assert.equal(ok.status, 200);
      const denied = await refused({ path: '/user/ada/echo', headers: { cookie: cookie('bob-session') } });
      assert.equal(denied.status, 403);
    } finally {
      s.hooks.asyncVisitor = false;
    }
  });

  it("refuses another learner's session with 403 (JSON, or a page for browsers)", {
    timeout: 20_000,
  }, async () => {
    const call = await refused({
      path: '/user/ada/api/contents',
      headers: { ...api, cookie: cookie('bob-session') },
    });
    assert.equal(call.status, 403);
    assert.equal(json(call).code, 'SIFU_ERR_FORBIDDEN');
    const page = await refused({
      path: '/user/ada/tree',
      headers: { ...html, cookie: cookie('bob-session') },
    });
    assert.equal(page.status, 403);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body.toString(), /SIFU_ERR_FORBIDDEN/);
  });

  it("refuses an admin on someone else's server unless proxy.adminAccess is on", {
    timeout: 20_000,
  }, async () => {
    const calls = s.hooks.adminAccessCalls.length;
    const call = await refused({
      path: '/user/ada/echo',
      headers: { ...api, cookie: cookie('root-session') },
    });
    assert.equal(call.status, 403);
    assert.equal(json(call).code, 'SIFU_ERR_ADMIN_ACCESS_OFF');
    assert.match(String(json(call).message), /operator can turn it on/);
    const page = await refused({
      path: '/user/ada/tree',
      headers: { ...html, cookie: cookie('root-session') },
    });
    assert.equal(page.status, 403);
    assert.match(page.body.toString(), /SIFU_ERR_ADMIN_ACCESS_OFF/);
    assert.equal(s.hooks.adminAccessCalls.length, calls, 'nothing entered, nothing audited');
  });

  it('sends a stopped server to the spawn page, or answers 503 to API calls', {
    timeout: 20_000,
  }, async () => {
    const page = await refused({
      path: '/user/bob/notebooks/a.ipynb',
      headers: { ...html, cookie: cookie('bob-session') },
    });
    assert.equal(page.status, 302);
    const next = encodeURIComponent(`${NOTEBOOK_ORIGIN}/user/bob/notebooks/a.ipynb`);
    assert.equal(page.headers.location, `${HUB_ORIGIN}/hub/spawn/bob?next=${next}`);
    const call = await refused({
      path: '/user/bob/api/kernels',
      headers: { ...api, cookie: cookie('bob-session') },
    });
    assert.equal(call.status, 503);
    assert.equal(json(call).code, 'SIFU_ERR_SERVER_NOT_RUNNING');
  });

  it("injects the server's token, replacing the client's Authorization", { timeout: 20_000 }, async () => {
    const clientHeaders: Record<string, string>[] = [
      {},
      { authorization: 'token stolen-or-guessed' },
      { authorization: 'Basic YTpi' },
    ];
    for (const headers of clientHeaders) {
      const answer = await send(s.port, {
        path: '/user/ada/echo',
        headers: { ...headers, cookie: cookie('ada-session') },
      });
      const seen = json(answer).headers as Record<string, string>;
      assert.equal(seen.authorization, 'token ada-secret');
    }
  });

  it("strips Sifu's cookies and keeps the others", { timeout: 20_000 }, async () => {
    const mixed = `${cookie('ada-session')}; _xsrf=abc; sifu-other=1; __Host-sifu-x=2; theme=dark`;
    const answer = await send(s.port, { path: '/user/ada/echo', headers: { cookie: mixed } });
    assert.equal((json(answer).headers as Record<string, string>).cookie, '_xsrf=abc; theme=dark');
    const only = await send(s.port, { path: '/user/ada/echo', headers: { cookie: cookie('ada-session') } });
    assert.equal((json(only).headers as Record<string, string>).cookie, undefined);
  });

  it('sets X-Forwarded-*, the upstream Host, and drops hop-by-hop headers', { timeout: 20_000 }, async () => {
    const answer = await send(s.port, {
      path: '/user/ada/echo',
      headers: {
        cookie: cookie('ada-session'),
        connection: 'keep-alive, x-hop',
        'x-hop': 'secret',
        'proxy-authorization': 'Basic eDp5',
        'x-forwarded-for': '203.0.113.7',
        'x-forwarded-proto': 'http',
        'x-kept': 'yes',
      },
    });
    const seen = json(answer).headers as Record<string, string>;
    assert.equal(seen.host, new URL(s.upstream.origin).host);
    assert.equal(seen['x-forwarded-host'], `127.0.0.1:${s.port}`);
    assert.equal(seen['x-forwarded-proto'], 'https');
    assert.equal(seen['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(seen['x-hop'], undefined);
    assert.equal(seen['proxy-authorization'], undefined);
    assert.equal(seen['x-kept'], 'yes');
  });

  it('never lets a server set a Sifu cookie', { timeout: 20_000 }, async () => {
    const answer = await send(s.port, {
      path: '/user/ada/set-cookie',
      headers: { cookie: cookie('ada-session') },
    });
    assert.deepEqual(answer.headers['set-cookie'], ['_xsrf=abc; Path=/']);
  });

  it('reuses upstream connections (keep-alive pool)', { timeout: 20_000 }, async () => {
    const before = s.upstream.connections;
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await send(s.port, { path: '/user/ada/echo', headers: { cookie: cookie('ada-session') } })).status,
        200,
      );
    }
    assert.ok(
      s.upstream.connections - before <= 1,
      `${s.upstream.connections - before} new upstream connections`,
    );
  });

  it('reports activity for the route', { timeout: 20_000 }, async () => {
    await send(s.port, { path: '/user/ada/echo', headers: { cookie: cookie('ada-session') } });
    const ada = s.hooks.activityCalls.filter((call) => call.userName === 'ada');
    assert.ok(ada.length >= 1);
    assert.ok(ada.every((call) => call.serverName === '' && call.at instanceof Date));
  });
});

describe('notebook proxy: response headers', () => {
  let s: Setup;
  before(async () => {
    s = await setUp();
  });
  after(async () => {
    await s.close();
  });

  const page = `frame-ancestors 'self' ${LMS_ORIGIN}`;
  const sandboxed = `sandbox allow-scripts; ${page}`;

  async function get(path: string) {
    return send(s.port, { path, headers: { cookie: cookie('ada-session') } });
  }

  it("replaces Jupyter's CSP with the configured frame-ancestors and adds nosniff", {
    timeout: 20_000,
  }, async () => {
    const answer = await get('/user/ada/echo');
    assert.equal(answer.headers['content-security-policy'], page);
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
  });

  it('sandboxes user content: files, views, non-JSON contents answers', { timeout: 20_000 }, async () => {
    for (const path of ['/user/ada/files/a.html', '/user/ada/view/a.html', '/user/ada/api/contents/raw']) {
      const answer = await get(path);
      assert.equal(answer.status, 200, path);
      assert.equal(answer.headers['content-security-policy'], sandboxed, path);
      assert.equal(answer.headers['x-frame-options'], undefined, path);
      assert.equal(answer.headers['x-content-type-options'], 'nosniff', path);
    }
    assert.equal((await get('/user/ada/%66iles/a.html')).headers['content-security-policy'], sandboxed);
    assert.equal((await get('/user/ada/api/contents/json')).headers['content-security-policy'], page);
  });

  it("puts the CSP on the proxy's own answers too", { timeout: 20_000 }, async () => {
    const answer = await send(s.port, { path: '/nowhere' });
    assert.equal(answer.headers['content-security-policy'], page);
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
  });
});
