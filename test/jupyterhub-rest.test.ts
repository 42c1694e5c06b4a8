/**
 * JupyterHub's REST API as Sifu speaks it (issue 12): empty JSON bodies, the version header, 403 for
 * missing credentials, pagination and filters, PATCH, groups, named servers, JupyterHub's scopes on
 * tokens — and attempts to reach past them. In process, against a real fake server process per start.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, api, Client, startTestSifu, type TestSifu, waitFor } from './support/sifu.js';

/** A request with a raw body (`''` is a JSON content type with no body at all) and any headers. */
async function raw(
  sifu: TestSifu,
  method: string,
  path: string,
  init: { token?: string; body?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.authorization = `token ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${sifu.hubUrl}/hub/api${path}`, { method, headers, body: init.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

async function tokenFor(sifu: TestSifu, user: string, body: Record<string, unknown> = {}, as = ADMIN_TOKEN) {
  const res = await api(sifu, `/users/${user}/tokens`, { method: 'POST', token: as, body });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as { token: string; id: string; scopes: string[] };
}

describe('JupyterHub REST compatibility', () => {
  let sifu: TestSifu;
  let ada: string;
  let bob: string;
  before(async () => {
    sifu = await startTestSifu({
      overrides: { spawner: { allowNamedServers: true, namedServerLimitPerUser: 2 } },
    });
    for (const name of ['ada', 'bob', 'carol']) {
      assert.equal((await api(sifu, `/users/${name}`, { method: 'POST', token: ADMIN_TOKEN })).status, 201);
    }
    ada = (await tokenFor(sifu, 'ada')).token;
    bob = (await tokenFor(sifu, 'bob')).token;
  });
  after(() => sifu.cleanup());

  test('a JSON content type with an empty body is no body; malformed JSON is 400 and makes nothing', async () => {
    const made = await raw(sifu, 'POST', '/users/dora', { token: ADMIN_TOKEN, body: '' });
    assert.equal(made.status, 201);
    assert.equal(made.body.name, 'dora');
    assert.deepEqual(made.body.roles, ['user']);
    const broken = await raw(sifu, 'POST', '/users/eve', { token: ADMIN_TOKEN, body: '{"admin": ' });
    assert.equal(broken.status, 400);
    assert.equal(broken.body.code, 'SIFU_ERR_BAD_REQUEST');
    assert.equal((await api(sifu, '/users/eve', { token: ADMIN_TOKEN })).status, 404);
  });

  test('every /hub/api answer says X-JupyterHub-Version, errors included', async () => {
    const version = (await api(sifu, '/')).body.version as string;
    for (const [path, token] of [
      ['/', undefined],
      ['/users', ADMIN_TOKEN],
      ['/users', undefined],
      ['/nothing-here', ADMIN_TOKEN],
    ] as const) {
      const res = await raw(sifu, 'GET', path, token ? { token } : {});
      assert.equal(res.headers.get('x-jupyterhub-version'), version, path);
    }
  });

  test('missing or unknown credentials are 403 SIFU_ERR_UNAUTHENTICATED, and change nothing', async () => {
    const none = await raw(sifu, 'POST', '/users/mallory', {});
    const forged = await raw(sifu, 'POST', '/users/mallory', { token: 'x'.repeat(43) });
    const oddScheme = await raw(sifu, 'GET', '/user', { headers: { authorization: 'Basic YWRhOg==' } });
    for (const res of [none, forged, oddScheme]) {
      assert.equal(res.status, 403);
      assert.equal(res.body.code, 'SIFU_ERR_UNAUTHENTICATED');
      assert.equal(res.body.status, 403);
    }
    assert.equal((await api(sifu, '/users/mallory', { token: ADMIN_TOKEN })).status, 404);
  });

  test("GET /user reports the caller's scopes in JupyterHub's words, never unfiltered for a learner", async () => {
    const me = await api(sifu, '/user', { token: ada });
    assert.equal(me.status, 200);
    assert.equal(me.body.session_id, null);
    assert.equal(typeof me.body.token_id, 'string');
    for (const want of ['read:users', 'servers', 'access:servers', 'tokens', 'users:activity']) {
      assert.ok(me.body.scopes.includes(`${want}!user=ada`), `${want}: ${me.body.scopes}`);
    }
    assert.deepEqual(
      me.body.scopes.filter((s: string) => !s.endsWith('!user=ada')),
      [],
    );
    const admin = await api(sifu, '/user', { token: ADMIN_TOKEN });
    assert.ok(admin.body.scopes.includes('admin:users') && admin.body.scopes.includes('admin:servers'));
  });

  test('/info, /proxy and /services need their scopes', async () => {
    const info = await api(sifu, '/info', { token: ADMIN_TOKEN });
    assert.equal(info.status, 200);
    assert.equal(typeof info.body.spawner.class, 'string');
    for (const path of ['/info', '/proxy', '/services']) {
      const res = await api(sifu, path, { token: ada });
      assert.equal(res.status, 403, path);
      assert.equal(res.body.code, 'SIFU_ERR_MISSING_SCOPE', path);
    }
    assert.deepEqual((await api(sifu, '/services', { token: ADMIN_TOKEN })).body, {});
    const shutdown = await api(sifu, '/shutdown', { method: 'POST', token: ADMIN_TOKEN });
    assert.equal(shutdown.status, 403, 'no role holds shutdown');
  });

  test('listing: state, name_filter, sort, offset/limit and the paginated model', async () => {
    assert.equal((await api(sifu, '/users?state=bogus', { token: ADMIN_TOKEN })).status, 400);
    assert.equal((await api(sifu, '/users?sort=height', { token: ADMIN_TOKEN })).status, 400);
    assert.equal((await api(sifu, '/users?limit=lots', { token: ADMIN_TOKEN })).status, 400);
    const names = async (query: string) =>
      ((await api(sifu, `/users${query}`, { token: ADMIN_TOKEN })).body as Array<{ name: string }>).map(
        (u) => u.name,
      );
    assert.deepEqual(await names('?name_filter=AR&sort=name'), ['carol']);
    assert.deepEqual(await names('?sort=-name&limit=2'), ['dora', 'carol']);
    assert.deepEqual(await names('?sort=name&offset=1&limit=2'), ['bob', 'carol']);
    assert.deepEqual(await names('?state=active'), []);
    const paged = await raw(sifu, 'GET', '/users?sort=name&limit=2', {
      token: ADMIN_TOKEN,
      headers: { accept: 'application/jupyterhub-pagination+json' },
    });
    assert.deepEqual(
      paged.body.items.map((u: { name: string }) => u.name),
      ['ada', 'bob'],
    );
    assert.equal(paged.body._pagination.total, 4);
    assert.equal(paged.body._pagination.next.offset, 2);
    const next = await raw(sifu, 'GET', paged.body._pagination.next.url.replace('/hub/api', ''), {
      token: ADMIN_TOKEN,
      headers: { accept: 'application/jupyterhub-pagination+json' },
    });
    assert.deepEqual(
      next.body.items.map((u: { name: string }) => u.name),
      ['carol', 'dora'],
    );
    assert.equal(next.body._pagination.next, null);
    assert.equal((await api(sifu, '/users', { token: ada })).status, 403, 'a learner lists no one');
  });

  test('PATCH: an admin makes an admin; a learner cannot, renaming is refused; nothing changes on refusal', async () => {
    const self = await api(sifu, '/users/ada', { method: 'PATCH', token: ada, body: { admin: true } });
    assert.equal(self.status, 403);
    const other = await api(sifu, '/users/bob', { method: 'PATCH', token: ada, body: { admin: true } });
    assert.equal(other.status, 403);
    const rename = await api(sifu, '/users/dora', {
      method: 'PATCH',
      token: ADMIN_TOKEN,
      body: { name: 'x' },
    });
    assert.equal(rename.status, 400);
    assert.equal(rename.body.code, 'SIFU_ERR_USER_RENAME_UNSUPPORTED');
    const extra = await api(sifu, '/users/dora', { method: 'PATCH', token: ADMIN_TOKEN, body: { root: 1 } });
    assert.equal(extra.status, 400);
    for (const name of ['ada', 'bob', 'dora']) {
      assert.equal((await api(sifu, `/users/${name}`, { token: ADMIN_TOKEN })).body.admin, false);
    }
    const made = await api(sifu, '/users/dora', {
      method: 'PATCH',
      token: ADMIN_TOKEN,
      body: { admin: true },
    });
    assert.equal(made.status, 200);
    assert.deepEqual(made.body.roles, ['admin', 'user']);
    await api(sifu, '/users/dora', { method: 'PATCH', token: ADMIN_TOKEN, body: { admin: false } });
  });

  test("another learner's resources are hidden (404); what no scope reaches is 403", async () => {
    const server = await api(sifu, '/users/ada/server', { method: 'POST', token: bob });
    assert.equal(server.status, 404);
    assert.equal(server.body.code, 'SIFU_ERR_USER_NOT_FOUND');
    assert.equal((await api(sifu, '/users/ada', { token: bob })).status, 404);
    assert.equal((await api(sifu, '/users/ada/tokens', { token: bob })).status, 404);
    const mint = await api(sifu, '/users/ada/tokens', { method: 'POST', token: bob, body: {} });
    assert.equal(mint.status, 403);
    assert.equal((await api(sifu, '/users/ada', { method: 'DELETE', token: bob })).status, 403);
    assert.equal((await api(sifu, '/users/ada', { token: ADMIN_TOKEN })).body.server, null);
  });

  test('tokens in JupyterHub scopes: asked, reported, enforced; escalation refused', async () => {
    const narrow = await tokenFor(
      sifu,
      'ada',
      { scopes: ['read:users!user=ada', 'access:servers!server=ada/'] },
      ada,
    );
    assert.ok(narrow.scopes.includes('read:users!user=ada'));
    assert.ok(narrow.scopes.includes('access:servers!server=ada/'));
    assert.ok(!narrow.scopes.some((s) => s.startsWith('servers')), narrow.scopes.join(' '));
    // It reads ada, but cannot start her server, nor read anyone else.
    assert.equal((await api(sifu, '/users/ada', { token: narrow.token })).status, 200);
    assert.equal((await api(sifu, '/users/ada/server', { method: 'POST', token: narrow.token })).status, 403);
    assert.equal((await api(sifu, '/users/bob', { token: narrow.token })).status, 404);
    const one = await api(sifu, `/users/ada/tokens/${narrow.id}`, { token: ada });
    assert.equal(one.status, 200);
    assert.deepEqual(one.body.roles, []);
    assert.equal(one.body.token, undefined, 'a token value is shown once, at creation');
    assert.equal((await api(sifu, '/users/ada/tokens/nope', { token: ada })).status, 404);

    for (const [scopes, status] of [
      [['servers!user=bob'], 400],
      [['admin'], 400],
      [['admin:servers'], 400],
      [['read:users'], 400],
      [['launch'], 400],
      [['servers!user=../bob'], 400],
      [['no-such-scope'], 400],
    ] as const) {
      const res = await api(sifu, '/users/ada/tokens', { method: 'POST', token: ada, body: { scopes } });
      assert.equal(res.status, status, scopes.join(','));
    }
    // An admin may give a service account `read:users`, never another user's servers.
    const reader = await tokenFor(sifu, 'carol', { scopes: ['read:users'] });
    assert.equal((await api(sifu, '/users/ada', { token: reader.token })).status, 200);
    const refused = await api(sifu, '/users/carol/tokens', {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: { scopes: ['servers!user=ada'] },
    });
    assert.equal(refused.status, 400);
    // `inherit` on a learner is the learner's role: no admin through it.
    const inherit = await tokenFor(sifu, 'bob', { scopes: ['inherit'] }, bob);
    assert.equal((await api(sifu, '/users', { token: inherit.token })).status, 403);
    assert.equal((await api(sifu, '/info', { token: inherit.token })).status, 403);
    // A token identifies its owner to whoever may read them.
    const who = await api(sifu, `/authorizations/token/${narrow.token}`, { token: ADMIN_TOKEN });
    assert.equal(who.body.name, 'ada');
    assert.equal((await api(sifu, `/authorizations/token/${narrow.token}`, { token: bob })).status, 404);
    assert.equal((await api(sifu, '/authorizations/token/not-a-token', { token: ADMIN_TOKEN })).status, 404);
  });

  test('groups: members and properties; unknown members and bad names change nothing; learners cannot', async () => {
    const made = await api(sifu, '/groups/course-1', {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: { users: ['ada', 'bob'], properties: { course: 'c1' } },
    });
    assert.equal(made.status, 201);
    assert.deepEqual(made.body, {
      kind: 'group',
      name: 'course-1',
      users: ['ada', 'bob'],
      properties: { course: 'c1' },
      roles: [],
    });
    assert.equal((await api(sifu, '/groups/course-1', { method: 'POST', token: ADMIN_TOKEN })).status, 409);
    const ghost = await api(sifu, '/groups/course-1/users', {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: { users: ['carol', 'ghost'] },
    });
    assert.equal(ghost.status, 400);
    assert.equal(ghost.body.code, 'SIFU_ERR_GROUP_MEMBER_UNKNOWN');
    assert.deepEqual((await api(sifu, '/groups/course-1', { token: ADMIN_TOKEN })).body.users, [
      'ada',
      'bob',
    ]);
    const bad = await api(sifu, '/groups/..%2f', { method: 'POST', token: ADMIN_TOKEN });
    assert.ok([400, 404].includes(bad.status));
    assert.equal(
      (await api(sifu, '/groups/a%20b', { method: 'POST', token: ADMIN_TOKEN })).body.code,
      'SIFU_ERR_INVALID_GROUP_NAME',
    );

    const removed = await api(sifu, '/groups/course-1/users', {
      method: 'DELETE',
      token: ADMIN_TOKEN,
      body: { users: ['bob'] },
    });
    assert.deepEqual(removed.body.users, ['ada']);
    const props = await api(sifu, '/groups/course-1/properties', {
      method: 'PUT',
      token: ADMIN_TOKEN,
      body: { nbgrader: { course_id: 'c1' } },
    });
    assert.deepEqual(props.body.properties, { nbgrader: { course_id: 'c1' } });
    assert.deepEqual((await api(sifu, '/users/ada', { token: ADMIN_TOKEN })).body.groups, ['course-1']);
    const many = await api(sifu, '/groups', {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: { groups: ['g2', 'g3'] },
    });
    assert.equal(many.status, 201);
    const listed = await raw(sifu, 'GET', '/groups?limit=2', {
      token: ADMIN_TOKEN,
      headers: { accept: 'application/jupyterhub-pagination+json' },
    });
    assert.deepEqual(
      listed.body.items.map((g: { name: string }) => g.name),
      ['course-1', 'g2'],
    );
    assert.equal(listed.body._pagination.total, 3);

    // A learner, even a member, neither lists, reads, changes nor deletes groups.
    assert.equal((await api(sifu, '/groups', { token: ada })).status, 403);
    assert.equal((await api(sifu, '/groups/course-1', { token: ada })).status, 403);
    for (const [method, path, body] of [
      ['POST', '/groups/mine', undefined],
      ['POST', '/groups/course-1/users', { users: ['carol'] }],
      ['PUT', '/groups/course-1/properties', { hacked: true }],
      ['DELETE', '/groups/course-1', undefined],
    ] as const) {
      assert.equal((await api(sifu, path, { method, token: ada, body })).status, 403, `${method} ${path}`);
    }
    const after = await api(sifu, '/groups/course-1', { token: ADMIN_TOKEN });
    assert.deepEqual(after.body.users, ['ada']);
    assert.deepEqual(after.body.properties, { nbgrader: { course_id: 'c1' } });
    // A token for one group reads that group only.
    const grader = await tokenFor(sifu, 'carol', { scopes: ['read:users'] });
    assert.equal((await api(sifu, '/groups/course-1', { token: grader.token })).status, 403);
    assert.equal((await api(sifu, '/groups/course-1', { method: 'DELETE', token: ADMIN_TOKEN })).status, 204);
    assert.equal((await api(sifu, '/groups/course-1', { token: ADMIN_TOKEN })).status, 404);
    assert.deepEqual((await api(sifu, '/users/ada', { token: ADMIN_TOKEN })).body.groups, []);
  });

  test('the default server: user_options kept, empty bodies, remove refused, html_message in progress', async () => {
    // Over 64 KiB of user_options: refused with a stable code, and nothing is claimed.
    const big = await raw(sifu, 'POST', '/users/ada/server', {
      token: ada,
      body: JSON.stringify({ notes: 'x'.repeat(70_000) }),
    });
    assert.equal(big.status, 400);
    assert.equal(big.body.code, 'SIFU_ERR_BAD_REQUEST');
    assert.equal(await sifu.store.getServer('ada', ''), null);
    const start = await raw(sifu, 'POST', '/users/ada/server', {
      token: ada,
      body: '{"size": 2, "profile": "x"}',
    });
    assert.ok([201, 202].includes(start.status), String(start.status));
    const model = await waitFor('ready', async () => {
      const { body } = await api(sifu, '/users/ada', { token: ada });
      return body.servers['']?.ready ? body : undefined;
    });
    assert.deepEqual(model.servers[''].user_options, { size: 2, profile: 'x' });
    assert.match(model.servers[''].full_url, /^http:\/\/.*\/user\/ada\/$/);
    assert.deepEqual(
      (await api(sifu, '/users?state=ready', { token: ADMIN_TOKEN })).body.map(
        (u: { name: string }) => u.name,
      ),
      ['ada'],
    );
    const res = await fetch(`${sifu.hubUrl}/hub/api/users/ada/server/progress`, {
      headers: { authorization: `token ${ada}` },
    });
    assert.equal(res.headers.get('x-jupyterhub-version'), (await api(sifu, '/')).body.version);
    const ready = (await res.text())
      .split('\n\n')
      .filter((b) => b.startsWith('data: '))
      .map((b) => JSON.parse(b.slice(6)))
      .find((e) => e.ready);
    assert.equal(ready.html_message, ready.message);
    const remove = await api(sifu, '/users/ada/server', {
      method: 'DELETE',
      token: ada,
      body: { remove: true },
    });
    assert.equal(remove.status, 400);
    assert.equal(remove.body.code, 'SIFU_ERR_CANNOT_REMOVE_DEFAULT');
    const stop = await raw(sifu, 'DELETE', '/users/ada/server', { token: ada, body: '' });
    assert.equal(stop.status, 204);
  });

  test('named servers: start with options, kept while stopped, removed; names and limits checked', async () => {
    for (const name of ['api', 'tree', 'Bad', 'a.b', 'a'.repeat(70)]) {
      const res = await api(sifu, `/users/bob/servers/${name}`, { method: 'POST', token: bob, body: {} });
      assert.equal(res.status, 400, name);
    }
    const start = await api(sifu, '/users/bob/servers/gpu', {
      method: 'POST',
      token: bob,
      body: { cpus: 4 },
    });
    assert.ok([201, 202].includes(start.status), JSON.stringify(start.body));
    const model = await waitFor('ready', async () => {
      const { body } = await api(sifu, '/users/bob', { token: bob });
      return body.servers.gpu?.ready ? body : undefined;
    });
    assert.equal(model.servers.gpu.url, '/user/bob/gpu/');
    assert.deepEqual(model.servers.gpu.user_options, { cpus: 4 });
    assert.equal(model.server, null, 'the default server is not running');
    assert.equal(
      (await api(sifu, '/users/bob/servers/gpu', { method: 'POST', token: ada, body: {} })).status,
      404,
    );

    assert.equal((await api(sifu, '/users/bob/servers/gpu', { method: 'DELETE', token: bob })).status, 204);
    assert.equal((await api(sifu, '/users/bob', { token: bob })).body.servers.gpu, undefined);
    const kept = await api(sifu, '/users/bob?include_stopped_servers', { token: bob });
    assert.equal(kept.body.servers.gpu.stopped, true);
    assert.equal(kept.body.servers.gpu.ready, false);
    assert.deepEqual(kept.body.servers.gpu.user_options, { cpus: 4 });
    const idle = await api(sifu, '/users/bob/servers/gpu/progress', { token: bob });
    assert.equal(idle.status, 400);
    assert.equal(idle.body.code, 'SIFU_ERR_SERVER_NOT_ACTIVE');

    // The limit (2) counts kept servers: a third name is refused until one is removed.
    await api(sifu, '/users/bob/servers/cpu', { method: 'POST', token: bob, body: {} });
    await waitFor(
      'cpu ready',
      async () => (await api(sifu, '/users/bob', { token: bob })).body.servers.cpu?.ready,
    );
    await api(sifu, '/users/bob/servers/cpu', { method: 'DELETE', token: bob });
    const third = await api(sifu, '/users/bob/servers/big', { method: 'POST', token: bob, body: {} });
    assert.equal(third.status, 400);
    assert.equal(third.body.code, 'SIFU_ERR_NAMED_SERVER_LIMIT');

    assert.equal((await api(sifu, '/users/bob/servers/nope', { method: 'DELETE', token: bob })).status, 404);
    const removed = await api(sifu, '/users/bob/servers/gpu', {
      method: 'DELETE',
      token: bob,
      body: { remove: true },
    });
    assert.equal(removed.status, 204);
    const after = await api(sifu, '/users/bob?include_stopped_servers', { token: bob });
    assert.deepEqual(Object.keys(after.body.servers), ['cpu']);
  });
});

describe('named servers when they are off (the default)', () => {
  let sifu: TestSifu;
  before(async () => {
    sifu = await startTestSifu();
    await api(sifu, '/users/ada', { method: 'POST', token: ADMIN_TOKEN });
  });
  after(() => sifu.cleanup());

  test('a named start is 400 SIFU_ERR_NAMED_SERVERS_OFF and starts nothing', async () => {
    const res = await api(sifu, '/users/ada/servers/gpu', { method: 'POST', token: ADMIN_TOKEN, body: {} });
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 'SIFU_ERR_NAMED_SERVERS_OFF');
    const model = await api(sifu, '/users/ada?include_stopped_servers', { token: ADMIN_TOKEN });
    assert.deepEqual(model.body.servers, {});
  });
});

describe('a named server through the notebook proxy', () => {
  let sifu: TestSifu;
  const bob = new Client();
  const ada = new Client();
  let bobToken: string;
  before(async () => {
    sifu = await startTestSifu({ overrides: { spawner: { allowNamedServers: true } } });
    for (const [client, name] of [
      [bob, 'bob'],
      [ada, 'ada'],
    ] as const) {
      await client.signIn(sifu, name);
      await sifu.manager.progress(name, '')?.done;
      await client.follow(`${sifu.hubUrl}/hub/spawn/${name}`);
      assert.ok(client.cookies.has('__Host-sifu-nb-session'), `${name} has a notebook session`);
    }
    bobToken = (await tokenFor(sifu, 'bob')).token;
    // One server per user at a time (the home's lease): the default one stops before the named one starts.
    assert.equal((await api(sifu, '/users/bob/server', { method: 'DELETE', token: bobToken })).status, 204);
    const start = await api(sifu, '/users/bob/servers/gpu', { method: 'POST', token: bobToken, body: {} });
    assert.ok([201, 202].includes(start.status), JSON.stringify(start.body));
    await waitFor(
      'gpu ready',
      async () => (await api(sifu, '/users/bob', { token: bobToken })).body.servers.gpu?.ready,
    );
  });
  after(() => sifu.cleanup());

  test('/user/<name>/<server>/ reaches that server, for its owner only', async () => {
    const mine = await bob.request(`${sifu.notebookUrl}/user/bob/gpu/api/contents/`);
    assert.equal(mine.status, 200, await mine.text());
    const theirs = await ada.request(`${sifu.notebookUrl}/user/bob/gpu/api/contents/`);
    assert.equal(theirs.status, 403);
    // The default server is stopped: its path is not the named server's.
    const fallback = await bob.request(`${sifu.notebookUrl}/user/bob/api/contents/`, {
      headers: { accept: 'application/json' },
    });
    assert.notEqual(fallback.status, 200);
    const routes = await api(sifu, '/proxy', { token: ADMIN_TOKEN });
    assert.ok(routes.body['/user/bob/gpu/'], JSON.stringify(routes.body));
    assert.equal(routes.body['/user/bob/'], undefined);
    assert.ok(!JSON.stringify(routes.body).includes('.sock'), 'no socket path is disclosed');
  });
});
