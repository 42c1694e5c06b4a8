import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { ServerManager } from '../lifecycle/server-manager.js';
import { leaseConflicts, spawnDuration } from '../metrics/metrics.js';
import { createLocalSpawner } from '../spawner/local/local-spawner.js';
import type { Spawner } from '../spawner/spawner.js';
import { openSqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { Storage } from './storage.js';

const FAKE_SERVER = `/usr/bin/python3 ${fileURLToPath(new URL('../spawner/doubles/fake-server.py', import.meta.url))} fast`;

const counted = async (metric: typeof leaseConflicts) => (await metric.get()).values[0]?.value ?? 0;
const spawnCount = async (status: string) =>
  (await spawnDuration.get()).values.find(
    (v) => v.metricName === 'jupyterhub_server_spawn_duration_seconds_count' && v.labels.status === status,
  )?.value ?? 0;

/**
 * Several Sifu "replicas" (each its own store handle on one database, its own ServerManager) launch the
 * same learner many times at once, under different server names so that only the home's lease can stop
 * them: exactly one server starts; every other launch fails with SIFU_ERR_HOME_IN_USE.
 */
test('concurrent launches of one user across store handles: exactly one server holds the home', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sifu-lease-'));
  const stores: Store[] = [];
  t.after(async () => {
    for (const store of stores) await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const dbPath = join(dir, 'sifu.sqlite');
  let starts = 0;
  const local = createLocalSpawner({
    command: FAKE_SERVER,
    logDir: join(dir, 'logs'),
    runDir: join(dir, 'run'),
    uidRange: { base: 300_000, count: 1_000 },
    readOnlyPaths: [fileURLToPath(new URL('../spawner/doubles', import.meta.url))],
  });
  const counting: Spawner = {
    ...local,
    backend: local.backend,
    start: (request, context) => {
      starts += 1;
      return local.start(request, context);
    },
    poll: (state) => local.poll(state),
    stop: (state) => local.stop(state),
  };
  const managers: ServerManager[] = [];
  for (let i = 0; i < 4; i++) {
    const store = await openSqliteStore(dbPath);
    stores.push(store);
    await store.migrate();
    const storage = new Storage(store, {
      root: join(dir, 'homes'),
      quota: 0,
      trashRetentionMs: 60_000,
      leaseTtlMs: 300_000,
      maxNotebookBytes: 1024,
    });
    managers.push(
      new ServerManager({
        store,
        spawner: counting,
        log: pino({ level: 'silent' }),
        homes: storage,
        startTimeoutMs: 30_000,
      }),
    );
  }
  await stores[0]?.ensureUser('ada');

  const launches = managers.flatMap((manager, m) =>
    Array.from({ length: 5 }, (_, i) => ({ manager, name: `s${m}-${i}` })),
  );
  const conflictsBefore = await counted(leaseConflicts);
  const failuresBefore = await spawnCount('failure');
  const progresses = await Promise.all(launches.map(({ manager, name }) => manager.start('ada', name)));
  await Promise.all(progresses.map((p) => p.done));
  t.after(async () => {
    for (const { manager, name } of launches) await manager.stop('ada', name).catch(() => {});
  });

  const ready = progresses.filter((p) => p.outcome === 'ready');
  assert.equal(ready.length, 1, progresses.map((p) => p.error?.code ?? p.outcome).join(','));
  assert.equal(starts, 1);
  for (const p of progresses.filter((x) => x.outcome === 'failed')) {
    assert.equal(p.error?.code, 'SIFU_ERR_HOME_IN_USE');
  }
  // The metrics saw the same: a lease conflict and a failed start for each refused launch.
  assert.equal((await counted(leaseConflicts)) - conflictsBefore, launches.length - 1);
  assert.equal((await spawnCount('failure')) - failuresBefore, launches.length - 1);
  const servers = await stores[1]?.listServers();
  assert.equal(servers?.length, 1);
  const winner = launches[progresses.indexOf(ready[0] as (typeof progresses)[number])];
  assert.ok(winner);
  assert.match((await stores[2]?.getLease('ada'))?.holder ?? '', new RegExp(`^server:${winner.name}:`));

  // Stopping the winner releases the home: another replica may now start a server for ada.
  await winner.manager.stop('ada', winner.name);
  assert.equal(await stores[3]?.getLease('ada'), null);
  const other = managers.find((m) => m !== winner.manager) as ServerManager;
  const next = await other.start('ada', 'after');
  await next.done;
  assert.equal(next.outcome, 'ready', next.error?.code);
  // `done` settles a moment before the manager forgets the start; a stop in between only cancels it.
  while (other.isPending('ada', 'after')) await new Promise((resolve) => setImmediate(resolve));
  await other.stop('ada', 'after');
  assert.equal(await stores[0]?.getLease('ada'), null);
});
