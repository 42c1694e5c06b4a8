import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { api } from './support/api.js';
import { ensureBuilt, PACKAGE_ROOT } from './support/dist.js';
import { dockerForTests, removeLabelled } from './support/docker.js';
import { freePort } from './support/free-port.js';
import { hubAnswers, waitFor } from './support/process.js';

/**
 * The warm pool as shipped: Sifu built (`npm run build`) and started from `dist/` exactly as `make run`
 * starts it, with `SIFU_SPAWNER_BACKEND=docker SIFU_SPAWNER_POOL_SIZE=2`. Runs from `src/` (tsx) hide
 * what only the built layout gets wrong, such as where the pool's launcher is found.
 */
const docker = new Docker();
const instance = `test-dist-${randomBytes(4).toString('hex')}`;
const run = promisify(execFile);
const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** A sample of Sifu's metrics (`name` or `name{labels}`), as its /hub/metrics reports it. */
async function metric(hubUrl: string, series: string): Promise<number | undefined> {
  const res = await fetch(`${hubUrl}/hub/metrics`, { headers: { authorization: `token ${ADMIN_TOKEN}` } });
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

interface PoolContainer {
  id: string;
  ready: boolean;
}

/** Running pool containers of this instance, and whether each launcher said it is ready for a claim. */
async function poolContainers(): Promise<PoolContainer[]> {
  const listed = await docker.listContainers({
    filters: JSON.stringify({ label: [`sifu.instance=${instance}`, 'sifu.pool'] }),
  });
  return Promise.all(
    listed.map(async (c) => {
      const logs = await docker
        .getContainer(c.Id)
        .logs({ stdout: true, stderr: true, follow: false })
        .catch(() => '');
      return { id: c.Id, ready: String(logs).includes('ready for a claim') };
    }),
  );
}

/** Unmounts whatever the pool left mounted under `dir` (deepest first), so removing it never crosses a mount. */
async function unmountUnder(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await run('umount', ['-l', point]).catch(() => {});
}

test('the warm pool works from dist/ as make run starts it: 2 warm servers, a claim, a refill', async () => {
  ensureBuilt();
  const image = await dockerForTests();
  const dataDir = await mkdtemp(join(tmpdir(), 'sifu-pool-dist-'));
  const hubPort = await freePort();
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const hub = { hubUrl };
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SIFU_')));
  let output = '';
  let child: ChildProcess | undefined;
  const exited = () => child?.exitCode !== null || child?.signalCode !== null;
  const stopSifu = async (signal: NodeJS.Signals) => {
    if (!child || exited()) return;
    const gone = new Promise((resolve) => child?.once('exit', resolve));
    child.kill(signal);
    await gone;
  };
  try {
    child = spawn(process.execPath, ['dist/cli/main.js', 'serve'], {
      cwd: PACKAGE_ROOT,
      env: {
        ...inherited,
        SIFU_SPAWNER_BACKEND: 'docker',
        SIFU_SPAWNER_POOL_SIZE: '2',
        SIFU_SPAWNER_DOCKER_IMAGE: image,
        SIFU_SPAWNER_DOCKER_INSTANCE: instance,
        SIFU_DATA_DIR: dataDir,
        SIFU_HUB_PORT: String(hubPort),
        SIFU_NOTEBOOK_PORT: String(await freePort()),
        SIFU_ADMIN_TOKEN: ADMIN_TOKEN,
        SIFU_CULLER_ENABLED: 'false',
        SIFU_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      output += chunk;
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    /** Fails at once, with Sifu's output, if Sifu died or a pool server could not warm up. */
    const healthy = () => {
      if (exited()) assert.fail(`sifu exited:\n${output}`);
      if (output.includes('failed to warm up')) assert.fail(`a pool server failed to warm up:\n${output}`);
    };

    await waitFor('sifu to serve', async () => {
      healthy();
      return hubAnswers(hubUrl);
    });
    const warm = await waitFor(
      'two warm pool servers',
      async () => {
        healthy();
        const pool = await poolContainers();
        return pool.length === 2 && pool.every((c) => c.ready) && pool.map((c) => c.id);
      },
      120_000,
    );
    // Sifu puts a server on its idle list once it has seen it answer (polled every 100 ms).
    await waitFor('the metrics to show two idle pool servers', async () => {
      healthy();
      return (await metric(hubUrl, 'sifu_warm_pool_idle_servers')) === 2;
    });

    assert.equal((await api(hub, '/users/ada', { method: 'POST', token: ADMIN_TOKEN })).status, 201);
    const started = await api(hub, '/users/ada/server', { method: 'POST', token: ADMIN_TOKEN });
    assert.ok(
      [201, 202].includes(started.status),
      `start: ${started.status} ${JSON.stringify(started.body)}`,
    );
    const server = await waitFor('ada to be ready', async () => {
      healthy();
      const { body } = await api(hub, '/users/ada', { token: ADMIN_TOKEN });
      const model = body?.servers?.[''];
      if (!model) assert.fail(`ada's server is gone (the start failed):\n${output}`);
      return model.ready && (model.state as { containerId: string; slotDir?: string });
    });

    assert.ok(warm.includes(server.containerId), "ada's server is one of the two warm pool servers");
    assert.ok(server.slotDir, 'its state names its pool slot');
    assert.equal(
      await readFile(join(server.slotDir, 'claimed'), 'utf8'),
      'ada\n',
      'the slot is claimed by ada',
    );
    const launcherLog = await docker
      .getContainer(server.containerId)
      .logs({ stdout: true, stderr: true, follow: false });
    assert.match(
      String(launcherLog),
      /warm-launcher: claimed for \/user\/ada\//,
      'its launcher took the claim',
    );
    const cold = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`sifu.instance=${instance}`, 'sifu.user=ada'] }),
    });
    assert.deepEqual(cold, [], 'no container was started cold for ada');
    assert.equal(await metric(hubUrl, 'sifu_warm_pool_claims_total{result="warm"}'), 1);
    assert.equal(await metric(hubUrl, 'sifu_warm_pool_claims_total{result="cold"}'), 0);

    const refilled = await waitFor(
      'the pool to refill to two idle servers',
      async () => {
        healthy();
        const idle = (await poolContainers()).filter((c) => c.id !== server.containerId);
        return idle.length === 2 && idle.every((c) => c.ready) && idle.map((c) => c.id);
      },
      120_000,
    );
    assert.equal(
      refilled.filter((id) => !warm.includes(id)).length,
      1,
      'one new pool server replaced the claimed one',
    );
    await waitFor('the metrics to show the pool refilled', async () => {
      healthy();
      return (await metric(hubUrl, 'sifu_warm_pool_idle_servers')) === 2;
    });
    assert.equal(await metric(hubUrl, 'sifu_warm_pool_warming_servers'), 0);

    // An orderly end leaves nothing: the learner's server stopped, then Sifu removes its idle pool servers.
    assert.equal((await api(hub, '/users/ada/server', { method: 'DELETE', token: ADMIN_TOKEN })).status, 204);
    await stopSifu('SIGTERM');
    const left = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`sifu.instance=${instance}`] }),
    });
    assert.deepEqual(
      left.map((c) => c.Names),
      [],
      'no container of this Sifu is left',
    );
  } finally {
    await stopSifu('SIGKILL');
    await removeLabelled(docker, `sifu.instance=${instance}`);
    await unmountUnder(dataDir);
    await rm(dataDir, { recursive: true, force: true });
  }
});
