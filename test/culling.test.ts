/**
 * The idle-culling scenario JupyterHub operators rely on (what jupyterhub-idle-culler with `--cull-users`
 * gives them), on the built Sifu with real Jupyter servers and a short `culler.idleTimeout`: an idle
 * server is culled; one with proxy traffic is kept; one whose kernel computes with no browser attached is
 * kept; users without servers are culled once (admins never). Each kept server is then let go idle and
 * culled, so that what kept it is shown to be what kept it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';
import { api } from './support/api.js';
import { BUILT_ADMIN_TOKEN, type BuiltSifu, startBuiltSifu } from './support/built-sifu.js';
import { leaveComputing } from './support/kernel.js';
import { waitFor } from './support/process.js';
import { Client } from './support/sifu.js';

const admin = BUILT_ADMIN_TOKEN;
const IDLE_TIMEOUT_S = 4;
const INTERVAL_S = 1;
/** Long enough for several culler rounds to have judged a server idle, had it been. */
const SEVERAL_ROUNDS_MS = (IDLE_TIMEOUT_S + 4 * INTERVAL_S) * 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('idle culling', () => {
  let sifu: BuiltSifu;
  let store: Store;
  const learners = ['ada', 'bob', 'cat'];

  before(async () => {
    sifu = await startBuiltSifu({
      SIFU_CULLER_ENABLED: 'true',
      SIFU_CULLER_IDLE_TIMEOUT: String(IDLE_TIMEOUT_S),
      SIFU_CULLER_INTERVAL: String(INTERVAL_S),
      SIFU_CULLER_USERS: 'true',
      SIFU_LOG_LEVEL: 'info',
    });
    store = await openStore(`sqlite:${join(sifu.dataDir, 'sifu.sqlite')}`);
  });
  after(async () => {
    for (const name of learners) {
      await api(sifu, `/users/${name}/server`, { method: 'DELETE', token: admin }).catch(() => {});
    }
    await store?.close();
    await sifu?.stop();
  });

  const serverReady = async (name: string) =>
    (await api(sifu, `/users/${name}`, { token: admin })).body?.servers?.['']?.ready === true;
  const userExists = async (name: string) =>
    (await api(sifu, `/users/${name}`, { token: admin })).status === 200;
  const culledUsers = async () => (await store.listEvents({ type: 'user.culled' })).map((e) => e.userName);
  const serverStops = async (name: string) =>
    (await store.listEvents({ userName: name, type: 'server.stop' })).map((e) => e.data.reason);

  test('idle culled, traffic kept, a computing kernel kept; users without servers culled once', async () => {
    // An admin and a learner without servers; the admin is never culled.
    const root = await api(sifu, '/users/root', { method: 'POST', token: admin, body: { admin: true } });
    assert.equal(root.status, 201, JSON.stringify(root.body));
    assert.equal((await api(sifu, '/users/dora', { method: 'POST', token: admin })).status, 201);

    // ada: started through the API, then left alone.
    assert.equal((await api(sifu, '/users/ada', { method: 'POST', token: admin })).status, 201);
    const adaStart = await api(sifu, '/users/ada/server', { method: 'POST', token: admin });
    assert.ok([201, 202].includes(adaStart.status), JSON.stringify(adaStart.body));
    // bob and cat: signed in, their servers started by the spawn page, as a browser's would be.
    const bob = new Client();
    const cat = new Client();
    const [bobIn, catIn] = await Promise.all([bob.signIn(sifu, 'bob'), cat.signIn(sifu, 'cat')]);
    assert.equal(bobIn.res.status, 200, bobIn.hops.join(' -> '));
    assert.equal(catIn.res.status, 200, catIn.hops.join(' -> '));

    // The spawn page's start goes on in the background: ready when the API says so.
    for (const name of learners) await waitFor(`${name}'s server`, () => serverReady(name), 90_000);

    // bob keeps using his server through the proxy.
    let bobWorking = true;
    const bobTraffic = (async () => {
      while (bobWorking) {
        const res = await bob.request(`${sifu.notebookUrl}/user/bob/api/contents`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        await sleep(500);
      }
    })();
    // cat starts a long computation and closes the tab.
    const kernel = await leaveComputing(sifu, cat, 'cat', 'import time; time.sleep(600)');
    const catLeftAt = Date.now();

    try {
      await waitFor(
        'ada’s idle server to be culled',
        async () => (await serverStops('ada')).length > 0,
        60_000,
      );
      assert.deepEqual(await serverStops('ada'), ['idle']);
      assert.equal(await serverReady('ada'), false);
      await waitFor('dora to be culled', async () => !(await userExists('dora')), 30_000);

      // Several rounds past the timeout since cat's last request: both kept.
      await sleep(Math.max(0, catLeftAt + SEVERAL_ROUNDS_MS - Date.now()));
      assert.ok(await serverReady('bob'), 'a server with proxy traffic is kept');
      if (!(await serverReady('cat'))) {
        // Seen twice in about twenty runs, not reproduced with logs yet: say what the store recorded.
        const events = await store.listEvents({ userName: 'cat', limit: 20 });
        assert.fail(
          `a server whose kernel computes is kept; cat's events: ${JSON.stringify(events.map((e) => [e.type, e.data]))}; Sifu said: ${sifu.output().slice(-3000)}`,
        );
      }
      assert.deepEqual(await serverStops('bob'), []);
      assert.deepEqual(await serverStops('cat'), []);
      assert.ok(await userExists('root'), 'admins are never culled');
      assert.ok(await userExists('bob'));
      assert.ok(await userExists('cat'));
    } finally {
      bobWorking = false;
      await bobTraffic;
    }

    // What kept them: bob stops working, and cat's computation is interrupted; both are culled next.
    const interrupted = await cat.request(`${sifu.notebookUrl}/user/cat/api/kernels/${kernel}/interrupt`, {
      method: 'POST',
      headers: { origin: sifu.notebookUrl },
    });
    assert.equal(interrupted.status, 204);
    for (const name of ['bob', 'cat']) {
      await waitFor(
        `${name}’s server to be culled once idle`,
        async () => (await serverStops(name)).length > 0,
        60_000,
      );
      assert.deepEqual(await serverStops(name), ['idle']);
      assert.equal(await serverReady(name), false);
    }

    // Their users, now without servers and idle, go too: each once, recorded once; the admin stays.
    await waitFor('the learners to be culled', async () => {
      const culled = await culledUsers();
      return ['ada', 'bob', 'cat', 'dora'].every((name) => culled.includes(name));
    });
    await sleep(3 * INTERVAL_S * 1000);
    assert.deepEqual((await culledUsers()).sort(), ['ada', 'bob', 'cat', 'dora']);
    assert.ok(await userExists('root'));
    assert.equal((await api(sifu, '/users', { token: admin })).body.length, 1);
    // And the metrics say what happened.
    const metrics = await fetch(`${sifu.hubUrl}/hub/metrics`, {
      headers: { authorization: `token ${admin}` },
    });
    const text = await metrics.text();
    assert.match(text, /^sifu_culled_total\{kind="server"\} 3$/m);
    assert.match(text, /^sifu_culled_total\{kind="user"\} 4$/m);
    assert.match(text, /^jupyterhub_running_servers 0$/m);
  });
});
