import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig, workerCount } from '../src/config/load.js';
import { BUILT_ADMIN_TOKEN, startBuiltSifu } from './support/built-sifu.js';
import {
  ADMIN_TOKEN,
  api,
  Client,
  DOUBLES_DIR,
  FAKE_SERVER,
  freePort,
  removeDir,
  startSifuProcess,
} from './support/sifu.js';

/** The Sifu processes whose parent is `pid` (the cluster's workers). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        // Only Sifu workers (tsx also runs an esbuild helper process).
        return (
          Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid && cmdline.includes('cli/main')
        );
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** ada signs in (starting her server) and reaches it on fresh connections, which the cluster spreads over its workers. */
async function signInAndWorkOnEveryWorker(sifu: { hubUrl: string; notebookUrl: string }): Promise<void> {
  const ada = new Client();
  const { hops } = await ada.signIn(sifu, 'ada');
  // Through the spawn page, whose progress may be asked of the other worker: it follows via the store.
  let landed = hops.at(-1) ?? '';
  for (let i = 0; i < 50 && !landed.startsWith(`${sifu.notebookUrl}/user/ada/`); i++) {
    await new Promise((r) => setTimeout(r, 100));
    landed = (await ada.follow(`${sifu.hubUrl}/hub/spawn/ada`)).hops.at(-1) ?? '';
  }
  assert.ok(landed.startsWith(`${sifu.notebookUrl}/user/ada/`), landed);
  const statuses = new Set<number>();
  for (let i = 0; i < 30; i++) {
    const fresh = new Client();
    for (const [k, v] of ada.cookies) fresh.cookies.set(k, v);
    statuses.add((await fresh.request(`${sifu.notebookUrl}/user/ada/api/contents/`)).status);
  }
  assert.deepEqual([...statuses], [200], 'every request, on either worker, reaches the server');
}

let child: ChildProcess | undefined;
let dataDir = '';
let hub = '';
after(async () => {
  // Even when the test failed half-way: stop the learner's server (it outlives Sifu by design).
  if (hub && child && child.exitCode === null) {
    await api({ hubUrl: hub }, '/users/ada/server', { method: 'DELETE', token: ADMIN_TOKEN }).catch(() => {});
  }
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (dataDir) await removeDir(dataDir);
});

test('sifu serve with 2 workers: both serve, a learner signs in and works whichever worker answers', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sifu-workers-'));
  const notebookPort = await freePort();
  const env = {
    SIFU_DATA_DIR: dataDir,
    SIFU_HUB_PORT: String(await freePort()),
    SIFU_NOTEBOOK_PORT: String(notebookPort),
    // One shared origin on 127.0.0.1: Node's clients do not resolve the per-user *.localhost names.
    SIFU_NOTEBOOK_PUBLIC_URL: `http://127.0.0.1:${notebookPort}`,
    SIFU_ADMIN_TOKEN: ADMIN_TOKEN,
    SIFU_WORKERS: '2',
    SIFU_SPAWNER_COMMAND: `${FAKE_SERVER} fast`,
    SIFU_SPAWNER_ROUTE_SYNC_INTERVAL: '0.2',
  };
  const sifu = {
    hubUrl: `http://127.0.0.1:${env.SIFU_HUB_PORT}`,
    notebookUrl: `http://127.0.0.1:${env.SIFU_NOTEBOOK_PORT}`,
  };
  hub = sifu.hubUrl;
  const started = await startSifuProcess(env);
  child = started.child;
  // Both workers up: each answers health once it listens.
  for (let i = 0; i < 100 && childrenOf(child.pid as number).length < 2; i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal(childrenOf(child.pid as number).length, 2, started.output());

  await signInAndWorkOnEveryWorker(sifu);
  const events = await api(sifu, '/users/ada', { token: ADMIN_TOKEN });
  assert.equal(events.body.servers[''].ready, true);
  assert.equal((await api(sifu, '/users/ada/server', { method: 'DELETE', token: ADMIN_TOKEN })).status, 204);

  child.kill('SIGTERM');
  const code = await new Promise((resolve) => child?.once('exit', resolve));
  assert.equal(code, 0, started.output());
});

test('the built Sifu with the default config runs one worker per core on SQLite, and a learner works whichever answers', async () => {
  const cores = workerCount(loadConfig(), availableParallelism());
  assert.equal(cores, Math.min(64, availableParallelism()), 'the default is one worker per core');
  // No SIFU_WORKERS: the default. The learner's server is the test double, as everywhere else here.
  const sifu = await startBuiltSifu(
    {
      SIFU_SPAWNER_COMMAND: `${FAKE_SERVER} fast`,
      SIFU_SPAWNER_LOCAL_READ_ONLY_PATHS: DOUBLES_DIR,
    },
    { defaultWorkers: true },
  );
  try {
    const pid = sifu.child.pid as number;
    // One core: no cluster, the one process serves.
    const expected = cores > 1 ? cores : 0;
    for (let i = 0; i < 100 && childrenOf(pid).length < expected; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(childrenOf(pid).length, expected, sifu.output());
    // The first worker says so once it serves, which may be after another worker already answered.
    const banner = cores > 1 ? `(${cores} workers): sign in at` : ': sign in at';
    for (let i = 0; i < 100 && !sifu.output().includes(banner); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(sifu.output().includes(banner), sifu.output());
    assert.ok(existsSync(join(sifu.dataDir, 'sifu.sqlite')), 'on the embedded SQLite store');
    await signInAndWorkOnEveryWorker(sifu);
    const deleted = await api(sifu, '/users/ada/server', { method: 'DELETE', token: BUILT_ADMIN_TOKEN });
    assert.equal(deleted.status, 204);
  } finally {
    await api(sifu, '/users/ada/server', { method: 'DELETE', token: BUILT_ADMIN_TOKEN }).catch(() => {});
    await sifu.stop();
  }
});
