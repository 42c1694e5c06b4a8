import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, api, FAKE_SERVER, startTestSifu, type TestSifu, waitFor } from './support/sifu.js';

/** Reads a Server-Sent Events stream to its end; returns the parsed `data:` payloads. */
async function readProgress(
  sifu: TestSifu,
  user: string,
  token: string,
): Promise<Array<Record<string, unknown>>> {
  const res = await fetch(`${sifu.hubUrl}/hub/api/users/${user}/server/progress`, {
    headers: { authorization: `token ${token}` },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => JSON.parse(block.slice(6)) as Record<string, unknown>);
}

describe('REST API (JupyterHub-compatible)', () => {
  let sifu: TestSifu;
  let adaToken: string;
  before(async () => {
    sifu = await startTestSifu({ command: `${FAKE_SERVER} fast` });
  });
  after(() => sifu.cleanup());

  test('GET /hub/api/ answers a version without authentication', async () => {
    const { status, body } = await api(sifu, '/');
    assert.equal(status, 200);
    assert.match(body.version, /^\d+\.\d+\.\d+$/);
  });

  test('an admin creates users; duplicates and bad names are refused without change', async () => {
    const created = await api(sifu, '/users/ada', { method: 'POST', token: ADMIN_TOKEN });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, 'ada');
    assert.equal(created.body.kind, 'user');
    assert.equal(created.body.server, null);
    assert.deepEqual(created.body.servers, {});

    const dup = await api(sifu, '/users/ada', { method: 'POST', token: ADMIN_TOKEN });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.code, 'SIFU_ERR_USER_EXISTS');

    const many = await api(sifu, '/users', {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: { usernames: ['bob', 'cy'] },
    });
    assert.equal(many.status, 201);
    assert.deepEqual(
      many.body.map((u: { name: string }) => u.name),
      ['bob', 'cy'],
    );
    // One bad name in a batch: nothing of the batch is created.
    const mixed = await api(sifu, '/users', {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: { usernames: ['dee', '../etc'] },
    });
    assert.equal(mixed.status, 400);
    assert.equal(mixed.body.code, 'SIFU_ERR_INVALID_USERNAME');
    assert.equal((await api(sifu, '/users/dee', { token: ADMIN_TOKEN })).status, 404);

    for (const odd of ['..', '%2e%2e', 'a%2fb', '%C3%A4d%C3%A4', 'x'.repeat(300)]) {
      const res = await api(sifu, `/users/${odd}`, { method: 'POST', token: ADMIN_TOKEN });
      assert.ok([400, 404].includes(res.status), `${odd}: ${res.status}`);
      if (res.status === 400) assert.equal(res.body.code, 'SIFU_ERR_INVALID_USERNAME');
    }
    const list = await api(sifu, '/users', { token: ADMIN_TOKEN });
    assert.deepEqual(list.body.map((u: { name: string }) => u.name).sort(), ['ada', 'bob', 'cy']);
  });

  test('tokens: created by an admin for a user, with only the scopes asked for', async () => {
    const made = await api(sifu, '/users/ada/tokens', {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: { note: 'test', scopes: ['servers', 'tokens'] },
    });
    assert.equal(made.status, 201);
    assert.equal(typeof made.body.token, 'string');
    // Sifu's `servers` and `tokens` are the owner's own: reported in JupyterHub's words, never unfiltered.
    assert.ok(made.body.scopes.includes('servers!user=ada'), made.body.scopes.join(' '));
    assert.ok(made.body.scopes.includes('tokens!user=ada'), made.body.scopes.join(' '));
    assert.deepEqual(
      made.body.scopes.filter((s: string) => !s.endsWith('!user=ada')),
      [],
    );
    adaToken = made.body.token;
    const who = await api(sifu, '/user', { token: adaToken });
    assert.equal(who.status, 200);
    assert.equal(who.body.name, 'ada');
    const listed = await api(sifu, '/users/ada/tokens', { token: adaToken });
    assert.equal(listed.body.api_tokens.length, 1);
    assert.equal(listed.body.api_tokens[0].token, undefined, 'token values are never listed');
  });

  test('refusals: no token, a wrong token, a missing scope, another user — each changes nothing', async () => {
    const before = (await api(sifu, '/users', { token: ADMIN_TOKEN })).body.length;
    // JupyterHub answers 403 to missing or invalid credentials (its HubAuth turns a 401 into a 500).
    const noToken = await api(sifu, '/users/eve', { method: 'POST' });
    assert.equal(noToken.status, 403);
    assert.equal(noToken.body.code, 'SIFU_ERR_UNAUTHENTICATED');
    const forged = await api(sifu, '/users/eve', {
      method: 'POST',
      token: 'not-a-real-token-at-all-xxxxxxxx',
    });
    assert.equal(forged.status, 403);
    assert.equal(forged.body.code, 'SIFU_ERR_UNAUTHENTICATED');
    const noScope = await api(sifu, '/users/eve', { method: 'POST', token: adaToken });
    assert.equal(noScope.status, 403);
    assert.equal(noScope.body.code, 'SIFU_ERR_MISSING_SCOPE');
    const listAll = await api(sifu, '/users', { token: adaToken });
    assert.equal(listAll.status, 403);
    // Her `servers!user=ada` reaches her servers only: bob's are hidden as JupyterHub hides them (404).
    const otherServer = await api(sifu, '/users/bob/server', { method: 'POST', token: adaToken });
    assert.equal(otherServer.status, 404);
    assert.equal(otherServer.body.code, 'SIFU_ERR_USER_NOT_FOUND');
    const otherDelete = await api(sifu, '/users/bob', { method: 'DELETE', token: adaToken });
    assert.equal(otherDelete.status, 403);
    const readOther = await api(sifu, '/users/bob', { token: adaToken });
    assert.equal(readOther.status, 403);
    const escalate = await api(sifu, '/users/ada/tokens', {
      method: 'POST',
      token: adaToken,
      body: { scopes: ['admin'] },
    });
    // As JupyterHub: a scope the owner cannot hold is a bad request.
    assert.equal(escalate.status, 400);
    assert.equal(escalate.body.code, 'SIFU_ERR_INVALID_SCOPE');
    const unknownScope = await api(sifu, '/users/ada/tokens', {
      method: 'POST',
      token: adaToken,
      body: { scopes: ['root'] },
    });
    assert.equal(unknownScope.status, 400);
    assert.equal(unknownScope.body.code, 'SIFU_ERR_INVALID_SCOPE');
    const badBody = await api(sifu, '/users/ada/tokens', {
      method: 'POST',
      token: adaToken,
      body: { expires_in: 'soon' },
    });
    assert.equal(badBody.status, 400);
    assert.equal(badBody.body.code, 'SIFU_ERR_BAD_REQUEST');
    assert.equal((await api(sifu, '/users', { token: ADMIN_TOKEN })).body.length, before);
    assert.equal((await api(sifu, '/users/bob', { token: ADMIN_TOKEN })).body.server, null);
    assert.equal((await api(sifu, '/users/ada/tokens', { token: adaToken })).body.api_tokens.length, 1);
  });

  test("a JupyterHub client's flow: POST server, poll servers[''].ready, then stop", async () => {
    const start = await api(sifu, '/users/ada/server', { method: 'POST', token: adaToken });
    assert.ok([201, 202].includes(start.status), `status ${start.status}`);
    const user = await waitFor('ready', async () => {
      const { body } = await api(sifu, '/users/ada', { token: adaToken });
      return body.servers['']?.ready ? body : undefined;
    });
    assert.equal(user.server, '/user/ada/');
    assert.equal(user.servers[''].url, '/user/ada/');
    assert.equal(user.servers[''].pending, null);
    assert.equal(user.servers[''].state, undefined, 'backend state is shown to admins only');

    const again = await api(sifu, '/users/ada/server', { method: 'POST', token: adaToken });
    assert.equal(again.status, 400);
    assert.equal(again.body.code, 'SIFU_ERR_SERVER_ALREADY_RUNNING');

    const events = await readProgress(sifu, 'ada', adaToken);
    assert.equal(events.at(-1)?.ready, true);
    assert.equal(events.at(-1)?.url, '/user/ada/');

    const asAdmin = await api(sifu, '/users/ada', { token: ADMIN_TOKEN });
    assert.equal(typeof asAdmin.body.servers[''].state.pid, 'number');

    const stop = await api(sifu, '/users/ada/server', { method: 'DELETE', token: adaToken });
    assert.equal(stop.status, 204);
    const after = await api(sifu, '/users/ada', { token: adaToken });
    assert.equal(after.body.server, null);
    assert.deepEqual(after.body.servers, {});
    const events2 = await api(sifu, '/users/ada/server/progress', { token: adaToken });
    assert.equal(events2.status, 404);
    assert.equal(events2.body.code, 'SIFU_ERR_SERVER_NOT_FOUND');
  });

  test('progress streams real steps in order while a server starts', async () => {
    const bob = await api(sifu, '/users/bob/tokens', {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: { scopes: ['servers'] },
    });
    await api(sifu, '/users/bob/server', { method: 'POST', token: bob.body.token });
    const events = await readProgress(sifu, 'bob', bob.body.token);
    const percents = events.map((e) => e.progress as number);
    assert.deepEqual(
      percents,
      [...percents].sort((a, b) => a - b),
      'progress never goes back',
    );
    assert.equal(events.at(-1)?.ready, true);
    await api(sifu, '/users/bob/server', { method: 'DELETE', token: ADMIN_TOKEN });
  });

  test('deleting a user stops their server and removes them', async () => {
    await api(sifu, '/users/cy/server', { method: 'POST', token: ADMIN_TOKEN });
    assert.ok(sifu.manager.route('cy', ''));
    const del = await api(sifu, '/users/cy', { method: 'DELETE', token: ADMIN_TOKEN });
    assert.equal(del.status, 204);
    assert.equal(sifu.manager.route('cy', ''), undefined);
    assert.equal((await api(sifu, '/users/cy', { token: ADMIN_TOKEN })).status, 404);
  });
});

describe('spawn failures reach the API client with stable codes', () => {
  const cases: Array<[string, string, string]> = [
    ['crash at start', 'crash-at-start', 'SIFU_ERR_SPAWN_CRASHED'],
    ['never ready', 'never-ready', 'SIFU_ERR_SPAWN_TIMEOUT'],
  ];
  for (const [name, mode, code] of cases) {
    test(name, async () => {
      const sifu = await startTestSifu({
        command: `${FAKE_SERVER} ${mode}`,
        overrides: { spawner: { startTimeout: 2 } },
      });
      try {
        await api(sifu, '/users/ada', { method: 'POST', token: ADMIN_TOKEN });
        const start = await api(sifu, '/users/ada/server', { method: 'POST', token: ADMIN_TOKEN });
        assert.equal(start.body.code, code);
        assert.equal(start.status, 500);
        const user = await api(sifu, '/users/ada', { token: ADMIN_TOKEN });
        assert.deepEqual(user.body.servers, {}, 'nothing left half-started');
        const events = await api(sifu, '/users/ada/server/progress', { token: ADMIN_TOKEN });
        assert.match(events.body, /"failed":true/);
      } finally {
        await sifu.cleanup();
      }
    });
  }
});
