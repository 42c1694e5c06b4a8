import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { createDockerSpawner } from '../src/spawner/docker/docker-spawner.js';
import { dockerForTests, removeLabelled } from './support/docker.js';
import { runOnChannels } from './support/kernel.js';
import { requestServer } from './support/server-request.js';
import { ADMIN_TOKEN, api, Client, JUPYTER, startTestSifu, waitFor } from './support/sifu.js';

/** Sifu on the `docker` backend with the real engine and the offline image: crash, restart, warm pool. */
const docker = new Docker();
const instance = `test-${randomBytes(4).toString('hex')}`;
let image = '';

before(async () => {
  image = await dockerForTests();
});
after(() => removeLabelled(docker, `sifu.instance=${instance}`));

const dockerSifu = (spawner: Record<string, unknown> = {}, dataDir?: string) =>
  startTestSifu({
    command: JUPYTER,
    dataDir,
    overrides: {
      spawner: { backend: 'docker', pollInterval: 3600, docker: { image, instance }, ...spawner },
    },
  });

/** Waits until `size` pool containers of this instance answer (their launcher logged it). */
async function waitPoolFull(size: number): Promise<void> {
  await waitFor(
    'the pool to be full',
    async () => {
      const pool = await docker.listContainers({
        filters: JSON.stringify({ label: [`sifu.instance=${instance}`, 'sifu.pool'] }),
      });
      if (pool.length < size) return false;
      const logs = await Promise.all(
        pool.map((c) => docker.getContainer(c.Id).logs({ stderr: true, stdout: true, follow: false })),
      );
      return logs.every((l) => String(l).includes('ready for a claim'));
    },
    120_000,
  );
  // Sifu adds a server to its idle list once it has seen it answer (polled every 100 ms).
  await new Promise((resolve) => setTimeout(resolve, 500));
}

const ourContainers = async (): Promise<string[]> =>
  (await docker.listContainers({ filters: JSON.stringify({ label: [`sifu.instance=${instance}`] }) }))
    .filter((c) => !c.Labels['sifu.pool'])
    .map((c) => c.Id)
    .sort();

async function startServer(sifu: Parameters<typeof api>[0], user: string) {
  await api(sifu, `/users/${user}`, { method: 'POST', token: ADMIN_TOKEN });
  const res = await api(sifu, `/users/${user}/server`, { method: 'POST', token: ADMIN_TOKEN });
  assert.ok([201, 202].includes(res.status), `start ${user}: ${res.status} ${JSON.stringify(res.body)}`);
}

describe('docker backend in Sifu', () => {
  test("a killed container is noticed from the engine's events; the next visit gets the spawn page; files stay", async () => {
    const sifu = await dockerSifu();
    try {
      const ada = new Client();
      await mkdir(join(sifu.dataDir, 'homes/ada'), { recursive: true });
      await writeFile(join(sifu.dataDir, 'homes/ada/thesis.ipynb'), '{}\n');
      await ada.signIn(sifu, 'ada');
      await sifu.manager.progress('ada', '')?.done;
      assert.ok(sifu.manager.route('ada', ''), 'ada is running');
      const record = await sifu.store.getServer('ada', '');
      await docker.getContainer(record?.state.containerId as string).kill();

      // The poll interval is an hour here: only the event stream can notice it this soon.
      await waitFor('the death noticed', async () => sifu.manager.route('ada', '') === undefined, 15_000);
      const next = await ada.request(`${sifu.notebookUrl}/user/ada/tree`, {
        headers: { accept: 'text/html' },
      });
      assert.equal(next.status, 302);
      assert.match(next.headers.get('location') ?? '', /\/hub\/spawn\/ada/);
      assert.ok(existsSync(join(sifu.dataDir, 'homes/ada/thesis.ipynb')), 'the files are intact');
    } finally {
      await sifu.cleanup();
    }
  });

  test('a restarted Sifu re-adopts every container, duplicates none, and stops orphans', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'sifu-docker-restart-'));
    const first = await dockerSifu({}, dataDir);
    let second: Awaited<ReturnType<typeof dockerSifu>> | undefined;
    try {
      for (const user of ['bob', 'cy', 'dee']) await startServer(first, user);
      await Promise.all(['bob', 'cy', 'dee'].map((u) => first.manager.progress(u, '')?.done));
      const before = await ourContainers();
      assert.equal(before.length, 3);
      // An orphan: a container of this deployment that the store does not know.
      const home = await mkdtemp(join(tmpdir(), 'sifu-orphan-'));
      const runDir = join(dataDir, 'run');
      const orphan = await createDockerSpawner({ command: JUPYTER, image, instance, runDir }).start(
        { userName: 'ghost', serverName: '', baseUrl: '/user/ghost/', secret: 'g'.repeat(32), home },
        { progress: () => {}, signal: new AbortController().signal },
      );
      await first.stop(); // Sifu goes away; learners' containers stay.

      second = await dockerSifu({}, dataDir);
      for (const user of ['bob', 'cy', 'dee'])
        assert.ok(second.manager.route(user, ''), `${user} re-adopted`);
      assert.deepEqual(
        await ourContainers(),
        before,
        'the same containers, none duplicated, the orphan gone',
      );
      assert.ok(!before.includes(orphan.state.containerId as string));
      const bob = second.manager.route('bob', '');
      const res = await requestServer(bob?.target as string, '/user/bob/api/contents/', {
        authorization: `token ${bob?.secret}`,
      });
      assert.equal(res.status, 200, 'an adopted server still answers its secret');
      await rm(home, { recursive: true, force: true });
    } finally {
      await (second ?? first).cleanup();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  test("a pooled server works through the proxy: pages, a real kernel, the learner's files, no trace of the pool", async () => {
    const sifu = await dockerSifu({ pool: { size: 1 } });
    try {
      await waitPoolFull(1);
      const home = join(sifu.dataDir, 'homes/ada');
      await mkdir(home, { recursive: true });
      await writeFile(join(home, 'hello.txt'), 'hi from ada\n');
      await writeFile(
        join(home, 'hello.ipynb'),
        JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }),
      );
      const ada = new Client();
      await ada.signIn(sifu, 'ada');
      await sifu.manager.progress('ada', '')?.done;
      const record = await sifu.store.getServer('ada', '');
      const slotDir = record?.state.slotDir as string | undefined;
      assert.ok(slotDir, 'the server came from the pool');
      const marker = `sifu-pool-${slotDir.split('/').at(-1)}`;

      const nb = sifu.notebookUrl;
      const page = { accept: 'text/html' };
      for (const path of ['tree', 'notebooks/hello.ipynb', 'edit/hello.txt']) {
        const res = await ada.request(`${nb}/user/ada/${path}`, { headers: page });
        const html = await res.text();
        assert.equal(res.status, 200, `${path}: ${res.status}`);
        assert.ok(html.includes('/user/ada/static/'), `${path} is rendered under the learner's base URL`);
        assert.ok(!html.includes('sifu-pool'), `${path} shows nothing of the pool`);
      }
      const root = await ada.request(`${nb}/user/ada/`, { headers: page });
      assert.equal(root.status, 302);
      assert.match(root.headers.get('location') ?? '', /^\/user\/ada\/tree/);
      const js = await ada.request(`${nb}/user/ada/static/tree/js/main.min.js`);
      assert.equal(js.status, 200, "static files are served under the learner's base URL");
      await js.arrayBuffer();

      const origin = { origin: nb, 'content-type': 'application/json' };
      const created = await ada.request(`${nb}/user/ada/api/kernels`, {
        method: 'POST',
        headers: origin,
        body: JSON.stringify({ name: 'python3' }),
      });
      assert.equal(created.status, 201, await created.clone().text());
      const kernel = (await created.json()) as { id: string };
      const result = await runOnChannels(
        `${nb.replace('http', 'ws')}/user/ada/api/kernels/${kernel.id}/channels`,
        { cookie: ada.cookieHeader(), origin: nb },
        "import os; (1+1, open('hello.txt').read().strip(), os.getcwd())",
      );
      assert.equal(result, "(2, 'hi from ada', '/home/learner')", "the kernel runs in the learner's files");

      // The pool's own token and base URL died with the claim.
      const poolToken = await readFile(join(slotDir, 'ctl/token'), 'utf8');
      const target = sifu.manager.route('ada', '')?.target as string;
      const asPool = { authorization: `token ${poolToken}` };
      assert.match(target, /^unix:/, "routed to the slot's socket");
      assert.equal((await requestServer(target, `/${marker}/api/contents/`, asPool)).status, 404);
      assert.equal((await requestServer(target, '/user/ada/api/contents/', asPool)).status, 403);
    } finally {
      await sifu.cleanup();
    }
  });

  test('20 learners launching at once against a warm pool of 5 each get their own server, isolated', async () => {
    const sifu = await dockerSifu({ pool: { size: 5 }, maxConcurrentStarts: 4 });
    try {
      await waitPoolFull(5);
      const users = Array.from({ length: 20 }, (_, i) => `learner${i}`);
      for (const user of users) {
        await mkdir(join(sifu.dataDir, 'homes', user), { recursive: true });
        await writeFile(join(sifu.dataDir, 'homes', user, `${user}.txt`), `${user}\n`);
      }
      await Promise.all(users.map((u) => startServer(sifu, u)));
      await Promise.all(users.map((u) => sifu.manager.progress(u, '')?.done));

      const routes = users.map((u) => sifu.manager.route(u, ''));
      assert.ok(
        routes.every((r) => r),
        `all ready: ${users.filter((_, i) => !routes[i])}`,
      );
      assert.equal(new Set(routes.map((r) => r?.target)).size, 20, 'twenty distinct servers');
      const states = await Promise.all(users.map((u) => sifu.store.getServer(u, '')));
      const fromPool = states.filter((s) => s?.state.slotDir).length;
      assert.ok(fromPool >= 5, `at least the 5 warm servers were claimed (${fromPool})`);
      assert.equal(new Set(states.map((s) => s?.state.containerId)).size, 20, 'no container given twice');
      for (const [i, user] of users.entries()) {
        const route = routes[i];
        const res = await requestServer(route?.target as string, `/user/${user}/api/contents/`, {
          authorization: `token ${route?.secret}`,
        });
        const names = (JSON.parse(res.body) as { content: Array<{ name: string }> }).content.map(
          (e) => e.name,
        );
        assert.deepEqual(names, [`${user}.txt`], `${user} sees only their own files`);
        const other = routes[(i + 1) % 20];
        const cross = await requestServer(route?.target as string, `/user/${user}/api/contents/`, {
          authorization: `token ${other?.secret}`,
        });
        assert.equal(cross.status, 403, "another learner's secret is refused");
      }
      const progress = users.flatMap((u) => sifu.manager.progress(u, '')?.events ?? []);
      assert.ok(
        progress.some((e) => /Waiting for a free slot \(\d+ ahead\)/.test(e.message)),
        'the burst queued with visible progress',
      );
    } finally {
      await sifu.cleanup();
    }
  });
});
