/**
 * The admin page's "Pool and queue" against the real burst queue: with `spawner.maxConcurrentStarts` 1
 * and a server that never answers, the first start holds the slot and the next wait, shown by name in
 * line order. The warm pool's counts as a backend reports them (`Spawner.poolStatus`; the local backend
 * has no pool, so a double adds one to it here), including a pool that does not run in this process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PoolStatus, Spawner } from '../src/spawner/spawner.js';
import { ADMIN_TOKEN, api, Client, DOUBLES_DIR, startTestSifu, type TestSifu } from './support/sifu.js';

async function signedInAdmin(sifu: TestSifu): Promise<Client> {
  assert.equal(
    (await api(sifu, '/users/root', { method: 'POST', token: ADMIN_TOKEN, body: { admin: true } })).status,
    201,
  );
  const client = new Client();
  const res = await client.request(`${sifu.hubUrl}/hub/login`, {
    method: 'POST',
    body: new URLSearchParams({ username: 'root', next: '/hub/admin' }),
    headers: { origin: sifu.hubUrl, 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(res.status, 303);
  return client;
}

/** The page's text without tags, whitespace folded: what a reader sees, in order. */
async function pageText(client: Client, url: string): Promise<string> {
  const res = await client.request(url);
  assert.equal(res.status, 200);
  return (await res.text())
    .replace(/<style>[\s\S]*?<\/style>/g, ' ')
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

describe('the burst queue on the admin page', () => {
  let sifu: TestSifu;
  before(async () => {
    sifu = await startTestSifu({
      command: `/usr/bin/python3 ${DOUBLES_DIR}/fake-server.py never-ready`,
      overrides: { spawner: { maxConcurrentStarts: 1, startTimeout: 60 } },
    });
  });
  after(async () => {
    await sifu?.cleanup();
  });

  test('shows the start holding the slot and who waits, first in line first', async () => {
    const admin = await signedInAdmin(sifu);
    const systemPage = async (until: RegExp): Promise<string> => {
      let text = '';
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; ) {
        text = await pageText(admin, `${sifu.hubUrl}/hub/admin/system`);
        if (until.test(text)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return text;
    };
    // One at a time, each once it is in line (a start prepares the home before it asks for a slot).
    const seen = [/Starting now 1 Waiting 0/, /Waiting 1/, /Waiting 2/];
    let text = '';
    for (const [i, user] of ['first', 'second', 'third'].entries()) {
      assert.equal((await api(sifu, `/users/${user}`, { method: 'POST', token: ADMIN_TOKEN })).status, 201);
      await sifu.manager.start(user, '');
      text = await systemPage(seen[i] as RegExp);
    }
    assert.match(text, /Starts at once \( spawner\.maxConcurrentStarts \) 1 Starting now 1 Waiting 2/);
    assert.match(text, /Waiting, first in line first: second third/);
    assert.match(text, /No warm pool\./);
    // The users list shows them pending.
    const users = await pageText(admin, `${sifu.hubUrl}/hub/admin?state=pending`);
    assert.match(users, /3 users · page 1 of 1/);
  });
});

describe('the warm pool on the admin page', () => {
  let sifu: TestSifu;
  let status: PoolStatus = { size: 4, idle: 3, warming: 1, claims: 7, running: true };
  before(async () => {
    sifu = await startTestSifu({
      // What the docker backend adds with `spawner.pool.size` > 0, on the local backend.
      wrapSpawner: (spawner: Spawner): Spawner =>
        new Proxy(spawner, {
          get: (target, key) => {
            if (key === 'poolStatus') return () => status;
            const value = Reflect.get(target, key, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }),
    });
  });
  after(async () => {
    await sifu?.cleanup();
  });

  test("shows the backend's counts, and says when the pool runs in another process", async () => {
    const admin = await signedInAdmin(sifu);
    const text = await pageText(admin, `${sifu.hubUrl}/hub/admin/system`);
    assert.match(text, /Pool size 4 Idle, ready to claim 3 Warming up 1 Claims since start 7/);
    assert.doesNotMatch(text, /No warm pool|does not run in this process/);
    status = { ...status, running: false, idle: 0 };
    assert.match(await pageText(admin, `${sifu.hubUrl}/hub/admin/system`), /does not run in this process/);
  });
});

describe("a learner's server opened from the admin page", () => {
  let sifu: TestSifu;
  before(async () => {
    // proxy.adminAccess needs per-user origins (Sifu refuses it on a shared one).
    sifu = await startTestSifu({ userOrigins: true, overrides: { proxy: { adminAccess: true } } });
  });
  after(async () => {
    await sifu?.cleanup();
  });

  test('with proxy.adminAccess on, a ready server has a link into it through the spawn page', async () => {
    const admin = await signedInAdmin(sifu);
    assert.equal((await api(sifu, '/users/ada', { method: 'POST', token: ADMIN_TOKEN })).status, 201);
    assert.equal((await api(sifu, '/users/ada/server', { method: 'POST', token: ADMIN_TOKEN })).status, 201);
    const page = await (await admin.request(`${sifu.hubUrl}/hub/admin/users/ada`)).text();
    assert.match(page, /<a href="\/hub\/spawn\/ada">Open ada's notebook<\/a>/);
    // The spawn page sends the admin on to ada's notebook, on her origin.
    const res = await admin.request(`${sifu.hubUrl}/hub/spawn/ada`);
    assert.equal(res.status, 303);
    assert.match(res.headers.get('location') ?? '', /^http:\/\/ada\.localhost:\d+\/user\/ada\//);
  });
});

describe('named servers on the admin page', () => {
  let sifu: TestSifu;
  before(async () => {
    sifu = await startTestSifu({ overrides: { spawner: { allowNamedServers: true } } });
  });
  after(async () => {
    await sifu?.cleanup();
  });

  test('a stopped named server is listed and started again, then stopped after confirming', async () => {
    const admin = await signedInAdmin(sifu);
    assert.equal((await api(sifu, '/users/ada', { method: 'POST', token: ADMIN_TOKEN })).status, 201);
    const gpu = '/users/ada/servers/gpu';
    assert.equal((await api(sifu, gpu, { method: 'POST', token: ADMIN_TOKEN })).status, 201);
    assert.equal((await api(sifu, gpu, { method: 'DELETE', token: ADMIN_TOKEN })).status, 204);
    const userPage = `${sifu.hubUrl}/hub/admin/users/ada`;
    assert.match(await pageText(admin, userPage), /Stopped named servers .* gpu stopped .* Start gpu/);

    const form = await (await admin.request(userPage)).text();
    const token = /name="token" value="([0-9a-f]{64})"/.exec(form)?.[1] as string;
    const post = (path: string, body: Record<string, string>) =>
      admin.request(`${userPage}/${path}`, {
        method: 'POST',
        body: new URLSearchParams({ token, ...body }),
        headers: { origin: sifu.hubUrl, 'content-type': 'application/x-www-form-urlencoded' },
      });
    const started = await post('start', { server: 'gpu' });
    assert.equal(started.status, 303);
    assert.equal(started.headers.get('location'), '/hub/admin/users/ada?done=started');
    assert.equal((await api(sifu, '/users/ada', { token: ADMIN_TOKEN })).body.servers.gpu.ready, true);
    const running = await pageText(admin, userPage);
    assert.match(running, /gpu ready .* Stop gpu server…/);
    assert.doesNotMatch(running, /Stopped named servers/);

    const confirm = await pageText(admin, `${userPage}/stop?server=gpu`);
    assert.match(confirm, /Stop ada&#39;s gpu server\?/);
    assert.equal((await post('stop', { server: 'gpu' })).status, 303);
    assert.equal((await api(sifu, '/users/ada', { token: ADMIN_TOKEN })).body.servers.gpu, undefined);
    assert.match(await pageText(admin, userPage), /Stopped named servers .* gpu stopped/);
  });
});
