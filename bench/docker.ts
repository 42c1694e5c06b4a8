/**
 * Container start benchmark: time to ready for the `docker` backend cold, for a warm-pool claim, and for a
 * burst of learners arriving at once (class start), beside JupyterHub 3.0's local spawner in the same run
 * (`benchSpawn` from bench/spawn.ts). Each start is timed from the start request to Sifu's own readiness
 * check passing (`GET <server>/user/<name>/api` with the secret answering 200).
 * Run alone: `node --import tsx bench/docker.ts [--rounds N] [--burst N]`. Needs root and dockerd
 * (started by scripts/start-dockerd.sh) and the offline image (built if missing).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { type Sifu, startSifu } from '../src/app/start.js';
import { loadConfig } from '../src/config/load.js';
import { dockerForTests, removeLabelled } from '../test/support/docker.js';
import { freePort } from '../test/support/free-port.js';
import { benchSpawn } from './spawn.js';
import { percentile } from './support/stats.js';

export interface DockerBenchRow {
  name: string;
  system: string;
  p50Ms: number;
  p95Ms: number;
  n: number;
}

export interface DockerBenchOptions {
  /** Timed cold starts and pool claims (default 5 each). */
  rounds?: number;
  /** Learners in the burst, and the pool size for it (default 50). */
  burst?: number;
  /** Also measure JupyterHub 3.0 (default true). */
  anchor?: boolean;
  log?: (line: string) => void;
}

const row = (name: string, system: string, samples: number[]): DockerBenchRow => ({
  name,
  system,
  p50Ms: percentile(samples, 50),
  p95Ms: percentile(samples, 95),
  n: samples.length,
});

async function startBenchSifu(image: string, instance: string, spawner: Record<string, unknown>) {
  const dataDir = await mkdtemp(join(tmpdir(), 'sifu-bench-docker-'));
  const config = loadConfig({
    overrides: {
      dataDir,
      hub: { port: await freePort() },
      notebook: { port: await freePort() },
      spawner: { backend: 'docker', startTimeout: 120, docker: { image, instance }, ...spawner },
      culler: { enabled: false },
      log: { level: 'silent' },
    },
  });
  const sifu = await startSifu(config, { log: pino({ level: 'silent' }) });
  return { sifu, dataDir };
}

/** Starts `users` at once through the manager; resolves with each one's ms to ready. */
async function timeStarts(sifu: Sifu, users: string[]): Promise<number[]> {
  return Promise.all(
    users.map(async (user) => {
      await sifu.store.ensureUser(user);
      const t0 = performance.now();
      const progress = await sifu.manager.start(user, '');
      await progress.done;
      if (progress.outcome !== 'ready')
        throw new Error(`${user}: ${progress.error?.logDetail ?? progress.error}`);
      return performance.now() - t0;
    }),
  );
}

/** A pool measure is only one if every server came from the pool (its state has a slot). */
async function assertFromPool(sifu: Sifu, users: string[]): Promise<void> {
  for (const user of users) {
    const record = await sifu.store.getServer(user, '');
    if (!record?.state.slotDir)
      throw new Error(`${user}'s server was started cold, not claimed from the pool`);
  }
}

async function stopAll(sifu: Sifu): Promise<void> {
  await Promise.all(sifu.manager.runningRoutes().map((r) => sifu.manager.stop(r.userName, r.serverName)));
}

async function waitPoolFull(sifu: Sifu, size: number, instance: string, timeoutMs: number): Promise<void> {
  const Docker = (await import('dockerode')).default;
  const docker = new Docker();
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const pool = await docker.listContainers({
      filters: JSON.stringify({ label: [`sifu.instance=${instance}`, 'sifu.pool'] }),
    });
    const claimedIds = new Set(
      (await sifu.store.listServers()).map((s) => s.state.containerId as string | undefined),
    );
    const idle = pool.filter((c) => !claimedIds.has(c.Id));
    if (idle.length >= size) {
      const logs = await Promise.all(
        idle.map((c) => docker.getContainer(c.Id).logs({ stdout: true, stderr: true, follow: false })),
      );
      if (logs.every((l) => String(l).includes('ready for a claim'))) {
        // Sifu adds a server to its idle list once it has seen it answer (polled every 100 ms).
        await new Promise((r) => setTimeout(r, 500));
        return;
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the pool did not fill to ${size} within ${timeoutMs} ms`);
}

export async function benchDocker(options: DockerBenchOptions = {}): Promise<DockerBenchRow[]> {
  const rounds = options.rounds ?? 5;
  const burst = options.burst ?? 50;
  const log = options.log ?? (() => {});
  const image = await dockerForTests({ quiet: true });
  const Docker = (await import('dockerode')).default;
  const docker = new Docker();
  const rows: DockerBenchRow[] = [];
  const instance = `bench-${process.pid}`;

  const scenario = async (spawner: Record<string, unknown>, run: (sifu: Sifu) => Promise<void>) => {
    const { sifu, dataDir } = await startBenchSifu(image, instance, spawner);
    try {
      await run(sifu);
    } finally {
      await stopAll(sifu).catch(() => {});
      await sifu.stop();
      await removeLabelled(docker, `sifu.instance=${instance}`);
      await rm(dataDir, { recursive: true, force: true });
    }
  };

  log('docker cold starts');
  await scenario({}, async (sifu) => {
    await timeStarts(sifu, ['warmup']);
    const samples: number[] = [];
    for (let i = 0; i < rounds; i += 1) samples.push(...(await timeStarts(sifu, [`cold${i}`])));
    rows.push(row('cold start, one at a time', 'Sifu docker', samples));
  });

  log('docker warm-pool claims');
  await scenario({ pool: { size: 2 } }, async (sifu) => {
    const samples: number[] = [];
    for (let i = 0; i < rounds; i += 1) {
      await waitPoolFull(sifu, 2, instance, 120_000);
      samples.push(...(await timeStarts(sifu, [`pool${i}`])));
      await assertFromPool(sifu, [`pool${i}`]);
    }
    rows.push(row('warm-pool claim, one at a time', 'Sifu docker', samples));
  });

  log(`burst of ${burst} with a pool of ${burst}`);
  await scenario({ pool: { size: burst }, maxConcurrentStarts: 10 }, async (sifu) => {
    await waitPoolFull(sifu, burst, instance, 600_000);
    const users = Array.from({ length: burst }, (_, i) => `burst${i}`);
    const samples = await timeStarts(sifu, users);
    await assertFromPool(sifu, users);
    rows.push(row(`burst of ${burst} at once, pool of ${burst}`, 'Sifu docker', samples));
  });

  if (options.anchor ?? true) {
    log('JupyterHub 3.0 local spawner (anchor)');
    const hub = await benchSpawn({ systems: ['jupyterhub'], rounds });
    const samples = hub.samples.jupyterhub ?? [];
    rows.push(row('cold start, one at a time', 'JupyterHub 3.0 local', samples));
  }
  return rows;
}

export function dockerTable(rows: DockerBenchRow[]): string {
  const lines = ['| measure | system | p50 ms | p95 ms | n |', '|---|---|---:|---:|---:|'];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${r.system} | ${r.p50Ms.toFixed(0)} | ${r.p95Ms.toFixed(0)} | ${r.n} |`);
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  benchDocker({ rounds: arg('--rounds'), burst: arg('--burst'), log: (l) => console.error(l) }).then(
    (rows) => {
      process.stdout.write(dockerTable(rows));
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
