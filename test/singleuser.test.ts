/**
 * JupyterHub's own single-user server (Debian's jupyterhub 3.0, `/usr/bin/jupyterhub-singleuser`) run by
 * the built Sifu, unchanged: it finds its hub through the `JUPYTERHUB_*` environment and its own hub
 * endpoint, authenticates the proxy's requests through `GET /hub/api/user`, signs a browser in through the
 * hub's OAuth2 provider, and posts its kernels' activity. Its token, which the learner's code can read,
 * can do nothing else.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { api } from './support/api.js';
import { BUILT_ADMIN_TOKEN, type BuiltSifu, startBuiltSifu } from './support/built-sifu.js';
import { CHROMIUM_ARGS } from './support/chromium.js';
import { runOnChannels } from './support/kernel.js';
import { Client, waitFor } from './support/sifu.js';
import {
  assertServerUser,
  HUB_CALL_PY,
  LESSON_NOTEBOOK,
  runCellThenLeaveComputing,
  SINGLEUSER_COMMAND,
  startSingleUser,
} from './support/singleuser.js';

const run = promisify(execFile);

let sifu: BuiltSifu;
let browser: Browser;
const admin = BUILT_ADMIN_TOKEN;

const startServer = (user: string) => startSingleUser(sifu, user, 90_000);

/** The server's own socket on the host (the route's target), from the admin's view of its state. */
async function socketOf(user: string): Promise<string> {
  const model = (await api(sifu, `/users/${user}`, { token: admin })).body;
  return join(model.servers[''].state.socketDir, 'jupyter.sock');
}

/** One request to a server's socket, behind the proxy's back (as a browser would if it could). */
function onSocket(
  socketPath: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, host: 'localhost', path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`no answer on ${path}`)));
    req.on('error', reject);
    req.end();
  });
}

const cookiesOf = (setCookie: string | string[] | undefined): string =>
  (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [])
    .map((c) => c.split(';')[0])
    .join('; ');

before(async () => {
  sifu = await startBuiltSifu(
    {
      SIFU_SPAWNER_COMMAND: SINGLEUSER_COMMAND,
      // Through `spawner.environment`: activity every 2 s instead of JupyterHub's 5 minutes.
      SIFU_SPAWNER_ENVIRONMENT: JSON.stringify({ JUPYTERHUB_ACTIVITY_INTERVAL: '2' }),
      SIFU_SPAWNER_START_TIMEOUT: '90',
      // A uid range of this test's own (see docs/security.md on two deployments on one host).
      SIFU_SPAWNER_LOCAL_UID_BASE: '262000',
      SIFU_LOG_LEVEL: 'info',
      // The default `workers` (one per core): each server's hub endpoint is listened on by one of them.
    },
    { defaultWorkers: true },
  );
  await mkdir(join(sifu.dataDir, 'homes/ada'), { recursive: true });
  await writeFile(join(sifu.dataDir, 'homes/ada/lesson.ipynb'), LESSON_NOTEBOOK);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

after(async () => {
  if (process.env.SINGLEUSER_DEBUG) {
    const { readdir, readFile } = await import('node:fs/promises');
    for (const dir of await readdir(join(sifu.dataDir, 'logs')).catch(() => [])) {
      console.error(
        dir,
        (await readFile(join(sifu.dataDir, 'logs', dir, 'server.log'), 'utf8')).slice(-6000),
      );
    }
    console.error(sifu.output().slice(-4000));
  }
  await browser?.close();
  if (sifu) {
    for (const user of ['ada', 'bob']) {
      await api(sifu, `/users/${user}/server`, { method: 'DELETE', token: admin }).catch(() => {});
    }
    await sifu.stop();
  }
});

describe('jupyterhub-singleuser under the built Sifu', () => {
  test('a learner signs in, opens a notebook and runs a cell in Chromium; a computing kernel with no browser moves last_activity', async () => {
    await runCellThenLeaveComputing(sifu, browser, 90_000);
  });

  test("code in the learner's kernel gets nothing from JUPYTERHUB_API_TOKEN but its own server's calls", async () => {
    await startServer('bob');
    const client = new Client();
    const { res } = await client.signIn(sifu, 'ada');
    await res.arrayBuffer();
    const nb = sifu.notebookUrl;
    const kernel = await client.request(`${nb}/user/ada/api/kernels`, {
      method: 'POST',
      headers: { origin: nb, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'python3' }),
    });
    assert.equal(kernel.status, 201);
    const { id } = (await kernel.json()) as { id: string };
    const hubPort = new URL(sifu.hubUrl).port;
    const code = `
${HUB_CALL_PY}
now = '2030-01-01T00:00:00Z'
out = {
  'me': call('GET', '/user'),
  'users': call('GET', '/users'),
  'bob': call('GET', '/users/bob'),
  'start_bob': call('POST', '/users/bob/server', {}),
  'stop_bob': call('DELETE', '/users/bob/server'),
  'stop_self': call('DELETE', '/users/ada/server'),
  'token_self': call('POST', '/users/ada/tokens', {'scopes': ['admin']}),
  'make_admin': call('PATCH', '/users/ada', {'admin': True}),
  'activity_bob': call('POST', '/users/bob/activity', {'last_activity': now}),
  'activity_other_server': call('POST', '/users/ada/activity', {'servers': {'x': {'last_activity': now}}}),
  'activity_no_zone': call('POST', '/users/ada/activity', {'last_activity': '2030-01-01T00:00:00'}),
  'activity_empty': call('POST', '/users/ada/activity', {}),
  'activity_junk': call('POST', '/users/ada/activity', {'servers': {'': {'last_activity': 'soon'}}}),
  'forged_code': call('POST', '/oauth2/token', {'grant_type': 'authorization_code', 'code': 'A' * 43, 'client_id': os.environ['JUPYTERHUB_CLIENT_ID'], 'client_secret': token, 'redirect_uri': os.environ['JUPYTERHUB_OAUTH_CALLBACK_URL']}, form=True),
  'bobs_client': call('POST', '/oauth2/token', {'grant_type': 'authorization_code', 'code': 'A' * 43, 'client_id': 'jupyterhub-user-bob', 'client_secret': token, 'redirect_uri': 'x'}, form=True),
  'other_token': call('GET', '/user', auth='not-a-token'),
  'token': token,
}
s = socket.socket(); s.settimeout(2)
try:
    s.connect(('127.0.0.1', ${hubPort})); out['hub_port'] = 'connected'
except OSError as e:
    out['hub_port'] = type(e).__name__
type('Json', (), {'__repr__': lambda self: json.dumps(out)})()
`;
    const text = await runOnChannels(
      `${nb.replace('http', 'ws')}/user/ada/api/kernels/${id}/channels`,
      { cookie: client.cookieHeader(), origin: nb },
      code,
      'ada',
    );
    const out = JSON.parse(text) as Record<string, [number | string, unknown]>;
    assertServerUser(out.me, 'ada');
    for (const call of ['users', 'bob', 'start_bob', 'stop_bob', 'stop_self', 'token_self', 'make_admin']) {
      assert.deepEqual(out[call], [403, 'SIFU_ERR_MISSING_SCOPE'], call);
    }
    assert.deepEqual(out.activity_bob, [403, 'SIFU_ERR_MISSING_SCOPE']);
    assert.deepEqual(out.activity_other_server, [403, 'SIFU_ERR_MISSING_SCOPE']);
    for (const call of ['activity_no_zone', 'activity_empty', 'activity_junk']) {
      assert.deepEqual(out[call], [400, 'SIFU_ERR_BAD_REQUEST'], call);
    }
    assert.deepEqual(out.forged_code, [400, 'SIFU_ERR_OAUTH_GRANT']);
    assert.deepEqual(out.bobs_client, [401, 'SIFU_ERR_OAUTH_INVALID_CLIENT']);
    assert.deepEqual(out.other_token, [403, 'SIFU_ERR_TOKEN_REFUSED']);
    assert.equal(out.hub_port, 'ConnectionRefusedError');
    // Nothing changed: bob's server runs, ada is no admin, she has no new token.
    const bob = (await api(sifu, '/users/bob', { token: admin })).body;
    assert.equal(bob.servers['']?.ready, true);
    const ada = (await api(sifu, '/users/ada', { token: admin })).body;
    assert.equal(ada.admin, false);
    assert.equal(ada.servers['']?.ready, true);
    const tokens = (await api(sifu, '/users/ada/tokens', { token: admin })).body;
    assert.deepEqual(tokens.api_tokens, []);
    // And the same token at the hub's own port is no token at all.
    const serverToken = out.token as unknown as string;
    assert.ok(serverToken.length > 20);
    for (const [method, path] of [
      ['GET', '/users/bob'],
      ['DELETE', '/users/bob/server'],
      ['POST', '/users/ada/activity'],
    ] as const) {
      const atHub = await api(sifu, path, { method, token: serverToken });
      assert.ok([401, 403, 404].includes(atHub.status), `${method} ${path}: ${atHub.status}`);
    }
    assert.equal((await api(sifu, '/users/bob', { token: admin })).body.servers['']?.ready, true);
  });

  test("a browser signs in to the server through the hub's OAuth2 provider; other users, other redirect URIs and replayed codes are refused", async () => {
    const socketPath = await socketOf('ada');
    // Straight to the server (no proxy, so no token): it sends the browser to the hub's provider.
    const first = await onSocket(socketPath, '/user/ada/tree');
    assert.equal(first.status, 302);
    const authorize = new URL(first.headers.location as string);
    assert.equal(authorize.origin, sifu.hubUrl);
    assert.equal(authorize.pathname, '/hub/api/oauth2/authorize');
    assert.equal(authorize.searchParams.get('client_id'), 'jupyterhub-user-ada');
    const redirectUri = authorize.searchParams.get('redirect_uri') as string;
    assert.equal(redirectUri, `${sifu.notebookUrl}/user/ada/oauth_callback`);
    const stateCookie = cookiesOf(first.headers['set-cookie']);

    // Signed out: to the hub's sign-in, and back here after.
    const anonymous = await fetch(authorize, { redirect: 'manual' });
    assert.equal(anonymous.status, 302);
    assert.match(
      anonymous.headers.get('location') as string,
      /^\/hub\/login\?next=%2Fhub%2Fapi%2Foauth2%2Fauthorize/,
    );

    const bob = new Client();
    await (await bob.signIn(sifu, 'bob')).res.arrayBuffer();
    const asBob = await bob.request(authorize.href);
    assert.equal(asBob.status, 403);
    assert.equal(((await asBob.json()) as { code: string }).code, 'SIFU_ERR_FORBIDDEN');

    const ada = new Client();
    await (await ada.signIn(sifu, 'ada')).res.arrayBuffer();
    for (const [param, value] of [
      ['redirect_uri', `${sifu.notebookUrl}/user/ada/oauth_callback/x`],
      ['redirect_uri', `http://evil.example/user/ada/oauth_callback`],
      ['redirect_uri', `${sifu.notebookUrl}/user/bob/oauth_callback`],
      ['client_id', 'jupyterhub-user-bob'],
    ] as const) {
      const bad = new URL(authorize);
      bad.searchParams.set(param, value);
      const refused = await ada.request(bad.href);
      assert.equal(refused.status, 400, `${param}=${value}`);
      assert.equal(((await refused.json()) as { code: string }).code, 'SIFU_ERR_OAUTH_CLIENT');
    }

    const granted = await ada.request(authorize.href);
    assert.equal(granted.status, 302);
    const callback = new URL(granted.headers.get('location') as string);
    assert.equal(`${callback.origin}${callback.pathname}`, redirectUri);
    const code = callback.searchParams.get('code') as string;
    assert.equal(callback.searchParams.get('state'), authorize.searchParams.get('state'));

    // The callback, on the server: it redeems the code through its own hub endpoint and sets its cookie.
    const landed = await onSocket(socketPath, `${callback.pathname}${callback.search}`, {
      cookie: stateCookie,
    });
    assert.equal(landed.status, 302, landed.body);
    const serverCookie = cookiesOf(landed.headers['set-cookie']);
    assert.match(serverCookie, /jupyterhub-user-ada=/);
    const contents = await onSocket(socketPath, '/user/ada/api/contents', { cookie: serverCookie });
    assert.equal(contents.status, 200);
    assert.ok(
      (JSON.parse(contents.body) as { content: Array<{ name: string }> }).content.some(
        (f) => f.name === 'lesson.ipynb',
      ),
    );
    // Without the cookie, the server still refuses (no open door was left).
    assert.equal((await onSocket(socketPath, '/user/ada/api/contents')).status, 403);

    // The used code sent again to the hub's token endpoint by someone without the server's secret.
    const replay = await fetch(`${sifu.hubUrl}/hub/api/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        client_id: 'jupyterhub-user-ada',
        client_secret: 'whatever',
        redirect_uri: redirectUri,
      }),
    });
    // The client is checked first (RFC 6749 5.2): without ada's server's secret, invalid_client. A used
    // code with the right secret is invalid_grant (src/auth/hub-oauth.test.ts; a forged one in the kernel case).
    assert.equal(replay.status, 401);
    const refusal = (await replay.json()) as { code: string; error: string };
    assert.equal(refusal.code, 'SIFU_ERR_OAUTH_INVALID_CLIENT');
    assert.equal(refusal.error, 'invalid_client');
  });

  test("API tokens reach their owner's server through the proxy; another user's, one without the scope and garbage are refused", async () => {
    const make = async (user: string, scopes: string[]) => {
      const made = await api(sifu, `/users/${user}/tokens`, {
        method: 'POST',
        token: admin,
        body: { scopes },
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body.token as string;
    };
    // JupyterHub's scope for entering a server is access:servers (a user's default token holds it for
    // their own); `servers` starts and stops them only.
    const adaToken = await make('ada', ['access:servers!user=ada']);
    const bobToken = await make('bob', ['access:servers!user=bob', 'servers']);
    const adaStartStopOnly = await make('ada', ['servers', 'tokens']);
    const nb = sifu.notebookUrl;
    const get = (token: string, scheme = 'token') =>
      fetch(`${nb}/user/ada/api/contents`, {
        headers: { authorization: `${scheme} ${token}` },
        redirect: 'manual',
      });

    const ok = await get(adaToken);
    assert.equal(ok.status, 200);
    assert.ok(
      ((await ok.json()) as { content: Array<{ name: string }> }).content.some(
        (f) => f.name === 'lesson.ipynb',
      ),
    );
    assert.equal((await get(adaToken, 'Bearer')).status, 200);
    // A state change with the token alone (no cookie, no Origin: a script).
    const put = await fetch(`${nb}/user/ada/api/contents/from-script.txt`, {
      method: 'PUT',
      headers: { authorization: `token ${adaToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'file', format: 'text', content: 'hello' }),
    });
    assert.equal(put.status, 201);

    // Kernels too: made and driven over their WebSocket with the token (and the learner's Origin).
    const kernel = await fetch(`${nb}/user/ada/api/kernels`, {
      method: 'POST',
      headers: { authorization: `token ${adaToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'python3' }),
    });
    assert.equal(kernel.status, 201);
    const { id } = (await kernel.json()) as { id: string };
    const channels = `${nb.replace('http', 'ws')}/user/ada/api/kernels/${id}/channels`;
    assert.equal(
      await runOnChannels(channels, { authorization: `token ${adaToken}`, origin: nb }, '6*7', 'ada'),
      '42',
    );
    // As shipped, the kernel's WebSocket was relayed by the native relay's thread (native-relay.ts).
    const scraped = await fetch(`${sifu.hubUrl}/hub/metrics`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    assert.equal(scraped.status, 200);
    const metrics = await scraped.text();
    assert.match(metrics, /^sifu_proxy_websockets_total\{relay="native"\} [1-9]/m);
    assert.doesNotMatch(metrics, /^sifu_proxy_websockets_total\{relay="javascript"\} [1-9]/m);
    await assert.rejects(
      runOnChannels(
        channels,
        { authorization: 'token garbage-token-that-is-no-token', origin: nb },
        '1',
        'ada',
      ),
      /403/,
    );

    const expect = async (res: Response, status: number, code: string) => {
      assert.equal(res.status, status);
      assert.equal(((await res.json()) as { code: string }).code, code);
    };
    await expect(await get(bobToken), 403, 'SIFU_ERR_MISSING_SCOPE');
    await expect(await get(adaStartStopOnly), 403, 'SIFU_ERR_MISSING_SCOPE');
    await expect(await get('garbage-token-that-is-no-token'), 403, 'SIFU_ERR_TOKEN_REFUSED');
    // The bootstrap admin enters no learner's server while proxy.adminAccess is off.
    await expect(await get(admin), 403, 'SIFU_ERR_ADMIN_ACCESS_OFF');
    // Refusals changed nothing: the file a refused token would have written is not there.
    const refusedPut = await fetch(`${nb}/user/ada/api/contents/from-bob.txt`, {
      method: 'PUT',
      headers: { authorization: `token ${bobToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'file', format: 'text', content: 'bob was here' }),
    });
    assert.equal(refusedPut.status, 403);
    assert.equal(
      (
        await fetch(`${nb}/user/ada/api/contents/from-bob.txt`, {
          headers: { authorization: `token ${adaToken}` },
        })
      ).status,
      404,
    );
  });
  test('a hub endpoint is listened on again by a live worker when the worker listening on it dies', async (t) => {
    if (availableParallelism() < 2) return t.skip('one core: one worker, nothing to take over');
    const runDir = join(sifu.dataDir, 'run');
    // Which worker listens on each server's endpoint (`ss` names the process holding the socket).
    const listeners = async () => {
      const { stdout } = await run('ss', ['-xlpH']);
      const found = new Map<string, number>();
      for (const line of stdout.split('\n')) {
        const path = line.split(/\s+/).find((f) => f.startsWith(`${runDir}/hub-`));
        const pid = /pid=(\d+)/.exec(line)?.[1];
        if (path && pid) found.set(path, Number(pid));
      }
      return found;
    };
    const before = await listeners();
    const [socket, pid] = [...before][0] ?? [];
    assert.ok(socket && pid, `a listening endpoint in ${runDir}`);
    process.kill(pid, 'SIGKILL');
    // The other worker's sweep (every 5 s) or the worker started again takes it over.
    const taken = await waitFor(
      'another worker listening',
      async () => {
        const now = (await listeners()).get(socket);
        return now !== undefined && now !== pid ? now : undefined;
      },
      30_000,
    );
    assert.notEqual(taken, pid);
    // And it answers as Sifu's endpoint does: a token that is not the server's is refused.
    const answer = await onSocket(socket, '/hub/api/user', { authorization: `token ${'x'.repeat(43)}` });
    assert.equal(answer.status, 403);
    assert.equal(JSON.parse(answer.body).code, 'SIFU_ERR_TOKEN_REFUSED');
    // The learner's page still works through whichever worker answers.
    const token = await api(sifu, '/users/ada/tokens', {
      method: 'POST',
      token: admin,
      body: { scopes: ['access:servers!user=ada'] },
    });
    const res = await fetch(`${sifu.notebookUrl}/user/ada/api/status`, {
      headers: { authorization: `token ${token.body.token}` },
    });
    assert.equal(res.status, 200);
  });
});
