/**
 * Several hosts in one process: two (or three) Sifus with host ids of their own on one PostgreSQL, each
 * with a relay on loopback, one shared storage root. The network-namespace test (test/hosts.test.ts)
 * runs the built Sifu on three real hosts; this one reaches the cases that need timing under control.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Docker from 'dockerode';
import { dockerForTests, removeLabelled } from './support/docker.js';
import { runInKernel } from './support/kernel.js';
import { type RunningPostgres, startPostgres } from './support/postgres.js';
import {
  ADMIN_TOKEN,
  api,
  Client,
  DOUBLES_DIR,
  freePort,
  JUPYTER,
  removeDir,
  startTestSifu,
  type TestSifu,
  waitFor,
} from './support/sifu.js';

/** This file's own learner uids: any process running as one is a leftover of this file, killed. */
const UID_BASE = 232_000;
const UID_COUNT = 100;

function killLeftovers(): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      if (uid >= UID_BASE && uid < UID_BASE + UID_COUNT) process.kill(Number(entry), 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}

let pg: RunningPostgres;
let shared: string;
const running: TestSifu[] = [];

before(async () => {
  killLeftovers();
  pg = await startPostgres();
  shared = await mkdtemp(join(tmpdir(), 'sifu-shared-'));
});

after(async () => {
  for (const sifu of running.reverse()) await sifu.cleanup().catch(() => {});
  await pg.stop();
  await removeDir(shared);
  // A failed run may leave a lost server its host never came back for.
  killLeftovers();
});

/** A host: its own data dir and relay, the shared store and storage root. */
async function host(
  id: string,
  cluster: Record<string, unknown> = {},
  overrides: Record<string, Record<string, unknown>> = {},
  command?: string,
  dataDir?: string,
): Promise<TestSifu> {
  const relayPort = await freePort();
  const sifu = await startTestSifu({
    ...(command ? { command } : {}),
    ...(dataDir ? { dataDir } : {}),
    overrides: {
      store: { url: pg.url },
      storage: { root: shared },
      cluster: {
        hostId: id,
        relayUrl: `http://127.0.0.1:${relayPort}`,
        relayHost: '127.0.0.1',
        relayPort,
        heartbeatInterval: 0.3,
        goneAfter: 2,
        ...cluster,
      },
      // Pushed changes, not polling, must carry routes between hosts here.
      spawner: {
        routeSyncInterval: 600,
        pollInterval: 600,
        local: { uidBase: UID_BASE, uidCount: UID_COUNT, readOnlyPaths: [DOUBLES_DIR] },
      },
      ...overrides,
    },
  });
  running.push(sifu);
  return sifu;
}

async function contents(sifu: TestSifu, client: Client, user: string): Promise<number> {
  return (await client.request(`${sifu.notebookUrl}/user/${user}/api/contents/`)).status;
}

test('any host serves any learner; starts are placed, pushed, stopped where they run; a gone host loses nothing', async () => {
  // The real Jupyter: files are saved and read back through the relay.
  const a = await host('host-a', {}, {}, JUPYTER);
  const b = await host('host-b', {}, {}, JUPYTER);
  await api(a, '/users/ada', { method: 'POST', token: ADMIN_TOKEN });
  await api(a, '/users/bob', { method: 'POST', token: ADMIN_TOKEN });

  // Equal room: a start stays on the host asked, and the other host learns of it by a push.
  assert.equal((await api(a, '/users/ada/server', { method: 'POST', token: ADMIN_TOKEN })).status, 201);
  assert.equal((await a.store.getServer('ada', ''))?.host, 'host-a');
  const viaB = await waitFor('ada routed on B', async () => b.manager.route('ada', ''), 5_000);
  assert.equal(viaB.target, a.config.cluster.relayUrl, "B reaches ada's server through A's relay");
  assert.ok(viaB.relayKey, 'with the relay key');

  // The learner through B, which cannot open A's socket: pages and API calls work.
  const ada = new Client();
  await ada.signIn(b, 'ada');
  assert.equal(await contents(b, ada, 'ada'), 200);
  const put = await ada.request(`${b.notebookUrl}/user/ada/api/contents/saved.txt`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', origin: b.notebookUrl },
    body: JSON.stringify({ type: 'file', format: 'text', content: 'kept across hosts' }),
  });
  assert.ok(put.status === 200 || put.status === 201, `PUT through the relay: ${put.status}`);
  assert.equal(await readFile(join(shared, 'ada', 'saved.txt'), 'utf8'), 'kept across hosts');

  // A key-less request to the relay is refused: only replicas pass.
  const bare = await fetch(`${a.config.cluster.relayUrl}/user/ada/api/contents/`);
  assert.equal(bare.status, 403);

  // Placement: A drains, so bob's start asked of A goes to B, and A follows it to the end.
  assert.equal(await a.store.setDraining('host-a', true), true);
  const userOptions = { profile: 'gpu', image: 'course/week-3' };
  const started = await api(a, '/users/bob/server', {
    method: 'POST',
    token: ADMIN_TOKEN,
    body: userOptions,
  });
  assert.ok(started.status === 201 || started.status === 202, `start placed elsewhere: ${started.status}`);
  await waitFor(
    'bob running',
    async () => (await b.store.getServer('bob', ''))?.status === 'running',
    10_000,
  );
  assert.equal(
    (await b.store.getServer('bob', ''))?.host,
    'host-b',
    'placed on the host that is not draining',
  );
  assert.deepEqual(
    (await b.store.getServer('bob', ''))?.userOptions,
    userOptions,
    'its user_options went with it',
  );
  await waitFor('bob routed on A', async () => a.manager.route('bob', '')?.relayKey !== undefined, 5_000);
  await a.store.setDraining('host-a', false);

  // A stop asked of A is made by B, which runs the server; both forget the route.
  assert.equal((await api(a, '/users/bob/server', { method: 'DELETE', token: ADMIN_TOKEN })).status, 204);
  assert.equal(await a.store.getServer('bob', ''), null);
  await waitFor('bob gone from B', async () => b.manager.route('bob', '') === undefined, 5_000);
  assert.equal(a.manager.route('bob', ''), undefined);

  // Host A ends without stopping its servers (as a crash would leave them): B declares it gone.
  const lost = await a.store.getServer('ada', '');
  const oldPid = (lost?.state as { pid?: number } | undefined)?.pid;
  assert.ok(oldPid, 'the local backend records the pid');
  await a.stop();
  running.splice(running.indexOf(a), 1);
  await waitFor('A declared gone', async () => (await b.store.getHost('host-a'))?.gone === true, 10_000);
  assert.equal(await b.store.getServer('ada', ''), null, "A's servers are forgotten");
  assert.equal(b.manager.route('ada', ''), undefined, 'and unrouted at once');
  assert.equal(await b.store.getLease('ada'), null, 'their leases released with their host');
  const events = await b.store.listEvents({ userName: 'ada', type: 'server.lost' });
  assert.equal(events.length, 1);

  // Ada's page on B is now the spawn page; her next start runs on B with her file.
  const page = await ada.request(`${b.notebookUrl}/user/ada/tree`, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 302);
  assert.match(page.headers.get('location') ?? '', /\/hub\/spawn\/ada/);
  assert.equal((await api(b, '/users/ada/server', { method: 'POST', token: ADMIN_TOKEN })).status, 201);
  assert.equal((await b.store.getServer('ada', ''))?.host, 'host-b');
  const file = await ada.request(`${b.notebookUrl}/user/ada/api/contents/saved.txt?content=1`);
  assert.equal(((await file.json()) as { content: string }).content, 'kept across hosts');

  // A comes back: it resurrects nothing. Its old server for ada is an orphan and is stopped; it routes
  // ada to her new server on B.
  // The same machine: its data dir (where its runs directory lists what it started) is still there.
  const a2 = await host('host-a', {}, {}, JUPYTER, a.dataDir);
  assert.equal(existsSync(`/proc/${oldPid}`), false, 'the lost server was stopped when its host came back');
  const route = a2.manager.route('ada', '');
  assert.equal(route?.target, b.config.cluster.relayUrl);
  assert.equal((await b.store.listServers()).filter((s) => s.userName === 'ada').length, 1, 'one server');
});

test('a host cut off from the store only is not declared gone; declared anyway, it is fenced and stops what it lost', async () => {
  const c = await host('host-c', { goneAfter: 1.5 });
  const d = await host('host-d', { goneAfter: 1.5 });
  await api(c, '/users/cy', { method: 'POST', token: ADMIN_TOKEN });
  assert.equal((await api(c, '/users/cy/server', { method: 'POST', token: ADMIN_TOKEN })).status, 201);
  const pid = ((await c.store.getServer('cy', ''))?.state as { pid?: number } | undefined)?.pid;
  // C's heartbeats fail (as for a host cut off from the database) while its relay still answers.
  const store = c.store as unknown as { heartbeat: (...args: unknown[]) => Promise<boolean> };
  const heartbeat = store.heartbeat.bind(c.store);
  store.heartbeat = async () => {
    throw new Error('cut off from the store');
  };
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const seen = await d.store.getHost('host-c');
  assert.equal(seen?.gone, false, "D probed C's relay, which answers: not declared");
  assert.ok(Date.now() - (seen?.lastSeen.getTime() ?? 0) > 1_500, 'although C is silent past the bound');
  // Declared gone all the same (as D would if the probe failed too): the store forgets cy's server.
  const lost = await d.store.declareHostGone('host-c', seen?.epoch ?? 0, new Date(), () => 'none');
  assert.equal(lost?.length, 1);
  // C reaches the store again: its heartbeat is refused (fenced); it drops the route, stops the server
  // it lost, and registers again.
  store.heartbeat = heartbeat;
  await waitFor('C back', async () => (await d.store.getHost('host-c'))?.gone === false, 10_000);
  await waitFor('the lost server stopped', async () => !existsSync(`/proc/${pid}`), 10_000);
  assert.equal(c.manager.route('cy', ''), undefined);
  assert.equal(await d.store.getServer('cy', ''), null);
});

test('a start on a host whose storage root is not the shared one is refused with a stable code', async () => {
  const own = await mkdtemp(join(tmpdir(), 'sifu-not-shared-'));
  try {
    // The shared root got its marker from the first host; this host's root is an empty directory (as
    // an unmounted EFS volume would be).
    assert.ok(existsSync(join(shared, '.sifu-storage-id')));
    const e = await host('host-e', {}, { storage: { root: own } });
    await api(e, '/users/eve', { method: 'POST', token: ADMIN_TOKEN });
    const here = await e.manager.start('eve', '', { here: true });
    await here.done;
    assert.equal(here.outcome, 'failed');
    assert.equal(here.error?.code, 'SIFU_ERR_STORAGE_NOT_SHARED');
    assert.equal(await e.store.getServer('eve', ''), null, 'nothing left behind');
    assert.equal(existsSync(join(own, 'eve')), false, 'no home made on the wrong storage');
  } finally {
    await removeDir(own);
  }
});

test('docker backend: a container on one host is served through the other host, kernel included', async (t) => {
  const image = await dockerForTests();
  const tag = randomBytes(3).toString('hex');
  const engine = new Docker();
  // One engine stands for two hosts' engines: each host's containers carry an instance of their own,
  // so neither takes the other's for an orphan.
  t.after(async () => {
    await removeLabelled(engine, `sifu.instance=docker-a-${tag}`);
    await removeLabelled(engine, `sifu.instance=docker-b-${tag}`);
  });
  const dockerHost = (id: string) =>
    host(
      id,
      {},
      {
        spawner: {
          backend: 'docker',
          routeSyncInterval: 600,
          pollInterval: 600,
          docker: { image, instance: `${id}-${tag}` },
        },
      },
      JUPYTER,
    );
  const a = await dockerHost('docker-a');
  const b = await dockerHost('docker-b');
  await api(a, '/users/dan', { method: 'POST', token: ADMIN_TOKEN });
  assert.equal((await api(a, '/users/dan/server', { method: 'POST', token: ADMIN_TOKEN })).status, 201);
  assert.equal((await a.store.getServer('dan', ''))?.host, 'docker-a');
  await waitFor('dan routed on B', async () => b.manager.route('dan', '')?.relayKey !== undefined, 5_000);
  const dan = new Client();
  await dan.signIn(b, 'dan');
  const put = await dan.request(`${b.notebookUrl}/user/dan/api/contents/d.txt`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', origin: b.notebookUrl },
    body: JSON.stringify({ type: 'file', format: 'text', content: 'from host b' }),
  });
  assert.ok(put.status === 200 || put.status === 201, `PUT through the relay: ${put.status}`);
  assert.equal(await readFile(join(shared, 'dan', 'd.txt'), 'utf8'), 'from host b');
  assert.equal(await runInKernel(b, dan, 'dan', '6*7'), '42');
  assert.equal((await api(b, '/users/dan/server', { method: 'DELETE', token: ADMIN_TOKEN })).status, 204);
  assert.equal(await a.store.getServer('dan', ''), null);
});

test("the relay's internal calls refuse bad input with stable codes and change nothing", async () => {
  const f = await host('host-f');
  const relay = f.config.cluster.relayUrl as string;
  const key = await f.store.settingOrInit('cluster.relayKey', 'unused: the key exists');
  const call = async (path: string, body: string, method = 'POST') => {
    const res = await fetch(`${relay}${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-sifu-relay-key': key },
      ...(method === 'POST' ? { body } : {}),
    });
    return { status: res.status, code: ((await res.json()) as { code?: string }).code };
  };
  assert.deepEqual(await call('/_sifu/start', '{"user":"../etc","server":""}'), {
    status: 400,
    code: 'SIFU_ERR_INVALID_USERNAME',
  });
  assert.deepEqual(await call('/_sifu/start', '{"user":"fin","server":"a/b"}'), {
    status: 400,
    code: 'SIFU_ERR_INVALID_SERVER_NAME',
  });
  assert.deepEqual(await call('/_sifu/stop', 'not json'), { status: 400, code: 'SIFU_ERR_BAD_REQUEST' });
  assert.deepEqual(await call('/_sifu/start', `{"user":"fin","pad":"${'x'.repeat(300_000)}"}`), {
    status: 400,
    code: 'SIFU_ERR_BAD_REQUEST',
  });
  assert.deepEqual(await call('/_sifu/start', '{"user":"fin","server":"","user_options":[1]}'), {
    status: 400,
    code: 'SIFU_ERR_BAD_REQUEST',
  });
  assert.deepEqual(await call('/_sifu/nothing', '{}'), { status: 404, code: 'SIFU_ERR_NOT_FOUND' });
  assert.deepEqual(await call('/_sifu/start', '', 'GET'), { status: 404, code: 'SIFU_ERR_NOT_FOUND' });
  // A start for a user who does not exist is refused; nothing was claimed.
  const unknown = await call('/_sifu/start', '{"user":"nobody","server":""}');
  assert.equal(unknown.code, 'SIFU_ERR_USER_NOT_FOUND');
  assert.equal(await f.store.getServer('nobody', ''), null);
  assert.equal((await call('/_sifu/alive', '{}')).status, 200);
});
