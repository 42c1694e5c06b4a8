/**
 * Several hosts: three replicas (h1, h2, h3) sharing one PostgreSQL, each with its relay on loopback,
 * their servers being stand-ins (bench/support/standin-servers.ts: one process, one unix socket per
 * server, answering the readiness check; not Jupyter).
 *
 * 1. Route convergence, in this process (one clock for all three): servers started and stopped through
 *    h1, the time from the row's change on h1 until h2 and h3 both follow it, with pushed changes
 *    (LISTEN/NOTIFY; route polling every 600 s) and, as the anchor, with polling only (every 2 s, the
 *    default; the NOTIFY triggers dropped from that run's database, so replicas listen but hear nothing).
 * 2. A thousand servers over three replicas, each replica a process of its own (bench/hosts-replica.ts):
 *    h1 restarted (its servers keep running) until it routes all 1,000 again, and each replica's memory
 *    at 0 and 1,000 routes.
 *
 * Run alone: `node --import tsx bench/hosts.ts`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { type Sifu, startSifu } from '../src/app/start.js';
import { openStore } from '../src/store/open-store.js';
import type { ServerRecord } from '../src/store/store.js';
import { freePort } from '../test/support/free-port.js';
import { startPostgres } from '../test/support/postgres.js';
import {
  type AdoptLog,
  benchLogger,
  type MemorySample,
  type ReplicaSettings,
  replicaConfig,
} from './hosts-replica.js';
import { StandinControl, StandinSpawner, startStandinProcess } from './support/standin-spawner.js';
import { median, percentile } from './support/stats.js';

export interface HostsBenchOptions {
  /** Start-and-stop cycles per convergence run (default 48). */
  cycles?: number;
  /** Cycles running at once, each on users of its own (default 8). */
  lanes?: number;
  /** Servers over the three replicas (default 1,000). */
  servers?: number;
  /** In-process restarts of h1 (default 3). */
  restarts?: number;
  log?: (line: string) => void;
}

type Mode = 'pushed' | 'polling';

export interface ConvergenceRun {
  mode: Mode;
  /** ms from the row turning `running` on h1 until h2 and h3 both route the server. */
  start: number[];
  /** ms from the row leaving `running` on h1 (the stop) until neither h2 nor h3 routes it. */
  stop: number[];
}

export interface RestartRun {
  /** ms from the call to startSifu until it resolved (listening, adoption done). */
  servingMs: number;
  /** ms from the call to startSifu until it routed every server (its own and the other hosts'). */
  routedMs: number;
  adopt: AdoptLog | undefined;
}

export interface HostsBenchResult {
  convergence: ConvergenceRun[];
  servers: number;
  /** ms from the first start until all three replicas route every server. */
  createMs: number;
  restarts: RestartRun[];
  /** h1 as a new process (the old one ended, the servers kept): its boot to every route. */
  processRestart: RestartRun;
  memory: Array<{ replica: string; when: string; routes: number; sample: MemorySample }>;
  loadAverages: [number, number];
}

const HOSTS = ['h1', 'h2', 'h3'] as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function databaseUrl(serverUrl: string, name: string): string {
  return serverUrl.replace(/\/postgres$/, `/${name}`);
}

async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
  return databaseUrl(serverUrl, name);
}

/** The polling anchor's database: migrated, then without the triggers that NOTIFY replicas of changes. */
async function silenceNotifications(url: string): Promise<void> {
  const store = await openStore(url);
  await store.migrate();
  await store.close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('drop trigger servers_notify_change on servers');
    await client.query('drop trigger hosts_notify_change on hosts');
  } finally {
    await client.end();
  }
}

/**
 * Resolves with the time each replica first satisfied `holds` (checked every ms), once all have;
 * rejects after `boundMs`.
 */
async function whenAll(
  replicas: Sifu[],
  holds: (sifu: Sifu) => boolean,
  boundMs = 15_000,
): Promise<number[]> {
  const seen: Array<number | undefined> = replicas.map(() => undefined);
  const deadline = performance.now() + boundMs;
  for (;;) {
    const now = performance.now();
    replicas.forEach((sifu, i) => {
      if (seen[i] === undefined && holds(sifu)) seen[i] = now;
    });
    if (seen.every((t) => t !== undefined)) return seen as number[];
    if (now > deadline) throw new Error('the replicas did not follow within the bound');
    await sleep(1);
  }
}

/** Three in-process replicas on a database of their own, their backends sockets of the stand-in process. */
async function convergenceRun(
  mode: Mode,
  serverUrl: string,
  workDir: string,
  control: string,
  options: Required<Pick<HostsBenchOptions, 'cycles' | 'lanes'>>,
  log: (line: string) => void,
): Promise<ConvergenceRun> {
  const url = await createDatabase(serverUrl, `converge_${mode}`);
  if (mode === 'polling') await silenceNotifications(url);
  const storageRoot = join(workDir, `${mode}-homes`);
  const replicas: Sifu[] = [];
  const controls: StandinControl[] = [];
  try {
    for (const hostId of HOSTS) {
      const settings: ReplicaSettings = {
        hostId,
        storeUrl: url,
        dataDir: join(workDir, `${mode}-${hostId}`),
        storageRoot,
        relayPort: await freePort(),
        control,
        routeSyncInterval: mode === 'pushed' ? 600 : 2,
        maxConcurrentStarts: 10,
      };
      const connection = await StandinControl.connect(control);
      controls.push(connection);
      replicas.push(
        await startSifu(await replicaConfig(settings), {
          spawner: new StandinSpawner(connection, hostId),
          log: benchLogger(() => {}, `${mode} ${hostId}`),
        }),
      );
    }
    const [h1, ...others] = replicas as [Sifu, Sifu, Sifu];
    // When h1's writes of a server's row were acknowledged: where convergence starts.
    const changed = new Map<string, { running?: number; pending?: number }>();
    const store = h1.store as { updateServer(record: ServerRecord): Promise<void> };
    const updateServer = store.updateServer.bind(store);
    store.updateServer = async (record) => {
      await updateServer(record);
      const at = performance.now();
      const marks = changed.get(record.userName) ?? {};
      if (record.status === 'running') marks.running = at;
      else marks.pending ??= at;
      changed.set(record.userName, marks);
    };
    // Polling phases must not line up with the cycles: each step waits a random part of a round first.
    const jitterMs = mode === 'pushed' ? 20 : 2_000;
    const result: ConvergenceRun = { mode, start: [], stop: [] };
    const perLane = Math.ceil(options.cycles / options.lanes);
    const lane = async (laneIndex: number) => {
      for (let i = 0; i < perLane; i++) {
        const user = `c${laneIndex}n${i}`;
        await h1.store.ensureUser(user);
        await sleep(Math.random() * jitterMs);
        changed.delete(user);
        const routed = whenAll(others, (sifu) => sifu.manager.route(user, '') !== undefined);
        const progress = await h1.manager.start(user, '', { here: true });
        await progress.done;
        if (progress.outcome !== 'ready') throw new Error(`${user}: ${progress.error?.message}`);
        const startedAt = changed.get(user)?.running as number;
        result.start.push(Math.max(...(await routed)) - startedAt);

        await sleep(Math.random() * jitterMs);
        changed.set(user, {});
        const unrouted = whenAll(others, (sifu) => sifu.manager.route(user, '') === undefined);
        await h1.manager.stop(user, '');
        const stoppedAt = changed.get(user)?.pending as number;
        result.stop.push(Math.max(...(await unrouted)) - stoppedAt);
      }
    };
    await Promise.all(Array.from({ length: options.lanes }, (_, i) => lane(i)));
    log(
      `${mode}: start p50 ${percentile(result.start, 50).toFixed(1)} ms, p99 ${percentile(result.start, 99).toFixed(1)} ms; stop p50 ${percentile(result.stop, 50).toFixed(1)} ms, p99 ${percentile(result.stop, 99).toFixed(1)} ms (n ${result.start.length})`,
    );
    return result;
  } finally {
    for (const sifu of replicas.reverse()) await sifu.stop().catch(() => {});
    for (const connection of controls) connection.close();
  }
}

/** A replica process (bench/hosts-replica.ts) and its IPC calls. */
class ReplicaProcess {
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(
    readonly hostId: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (message: { seq: number; result?: unknown; error?: string }) => {
      const waiter = this.waiting.get(message.seq);
      this.waiting.delete(message.seq);
      if (message.error !== undefined) waiter?.reject(new Error(`${hostId}: ${message.error}`));
      else waiter?.resolve(message.result);
    });
    child.on('exit', (code, signal) => {
      for (const waiter of this.waiting.values())
        waiter.reject(new Error(`${hostId} exited (${code ?? signal})`));
      this.waiting.clear();
    });
  }

  static spawn(hostId: string): ReplicaProcess {
    const child = fork(join(import.meta.dirname, 'hosts-replica.ts'), [], {
      execArgv: ['--expose-gc', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new ReplicaProcess(hostId, child);
  }

  call<T>(command: Record<string, unknown>): Promise<T> {
    this.seq += 1;
    const seq = this.seq;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ seq, command });
    });
  }

  async end(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.call({ op: 'stop' }).catch(() => {});
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.disconnect();
    await Promise.race([exited, sleep(5_000)]);
    this.child.kill('SIGKILL');
  }
}

async function scaleRun(
  serverUrl: string,
  workDir: string,
  control: string,
  options: Required<Pick<HostsBenchOptions, 'servers' | 'restarts'>>,
  log: (line: string) => void,
): Promise<Omit<HostsBenchResult, 'convergence' | 'loadAverages'>> {
  const url = await createDatabase(serverUrl, 'scale');
  const storageRoot = join(workDir, 'scale-homes');
  const settingsOf = async (hostId: string): Promise<ReplicaSettings> => ({
    hostId,
    storeUrl: url,
    dataDir: join(workDir, `scale-${hostId}`),
    storageRoot,
    relayPort: await freePort(),
    control,
    routeSyncInterval: 2,
    maxConcurrentStarts: 100,
  });
  const settings = new Map<string, ReplicaSettings>();
  const replicas: ReplicaProcess[] = [];
  const memory: HostsBenchResult['memory'] = [];
  try {
    for (const hostId of HOSTS) {
      settings.set(hostId, await settingsOf(hostId));
      const replica = ReplicaProcess.spawn(hostId);
      replicas.push(replica);
      await replica.call({ op: 'boot', settings: settings.get(hostId) });
    }
    for (const replica of replicas) {
      memory.push({
        replica: replica.hostId,
        when: 'booted, no servers',
        routes: 0,
        sample: await replica.call<MemorySample>({ op: 'memory' }),
      });
    }
    const users = Array.from({ length: options.servers }, (_, i) => `u${String(i).padStart(4, '0')}`);
    const share = Math.floor(options.servers / HOSTS.length);
    const t0 = performance.now();
    const created = await Promise.all(
      replicas.map((replica, i) =>
        replica.call<{ ms: number; failed: string[] }>({
          op: 'create',
          users: users.slice(i * share, i === replicas.length - 1 ? undefined : (i + 1) * share),
          concurrency: 50,
        }),
      ),
    );
    const failed = created.flatMap((c) => c.failed);
    if (failed.length > 0) throw new Error(`${failed.length} starts failed, e.g. ${failed[0]}`);
    for (;;) {
      const counts = await Promise.all(replicas.map((r) => r.call<{ total: number }>({ op: 'routes' })));
      if (counts.every((c) => c.total === options.servers)) break;
      if (performance.now() - t0 > 120_000)
        throw new Error(`routes: ${counts.map((c) => c.total).join(', ')}`);
      await sleep(20);
    }
    const createMs = performance.now() - t0;
    log(`${options.servers} servers started and routed everywhere in ${createMs.toFixed(0)} ms`);
    for (const replica of replicas) {
      memory.push({
        replica: replica.hostId,
        when: 'after starting its share',
        routes: options.servers,
        sample: await replica.call<MemorySample>({ op: 'memory' }),
      });
    }

    const h1 = replicas[0] as ReplicaProcess;
    const restarts: RestartRun[] = [];
    for (let i = 0; i < options.restarts; i++) {
      await sleep(500);
      const run = await h1.call<RestartRun>({ op: 'restart', expectRoutes: options.servers });
      restarts.push(run);
      log(
        `restart ${i + 1}: serving after ${run.servingMs.toFixed(0)} ms, ${options.servers} routes after ${run.routedMs.toFixed(0)} ms; adopt ${JSON.stringify(run.adopt)}`,
      );
    }
    memory.push({
      replica: 'h1',
      when: `after ${options.restarts} restarts in its process`,
      routes: options.servers,
      sample: await h1.call<MemorySample>({ op: 'memory' }),
    });

    // h1 as a new process: the old one ends (its servers are the stand-in process's, they stay).
    await h1.end();
    const fresh = ReplicaProcess.spawn('h1');
    replicas[0] = fresh;
    const { servingMs } = await fresh.call<{ servingMs: number }>({
      op: 'boot',
      settings: settings.get('h1'),
    });
    const routed = await fresh.call<{ routedMs: number; adopt: AdoptLog }>({
      op: 'routed',
      count: options.servers,
    });
    const processRestart: RestartRun = { servingMs, routedMs: routed.routedMs, adopt: routed.adopt };
    log(
      `new h1 process: serving after ${servingMs.toFixed(0)} ms, all routes after ${routed.routedMs.toFixed(0)} ms; adopt ${JSON.stringify(routed.adopt)}`,
    );
    memory.push({
      replica: 'h1',
      when: 'new process, booted onto the servers',
      routes: options.servers,
      sample: await fresh.call<MemorySample>({ op: 'memory' }),
    });
    return { servers: options.servers, createMs, restarts, processRestart, memory };
  } finally {
    for (const replica of replicas) await replica.end();
  }
}

export async function benchHosts(options: HostsBenchOptions = {}): Promise<HostsBenchResult> {
  const log = options.log ?? (() => {});
  const loadBefore = os.loadavg()[0] as number;
  const workDir = await mkdtemp(join(os.tmpdir(), 'sifu-bench-hosts-'));
  const standinDir = join(workDir, 'standin');
  await mkdir(standinDir);
  const postgres = await startPostgres();
  const standin = await startStandinProcess(standinDir);
  try {
    const lanes = { cycles: options.cycles ?? 48, lanes: options.lanes ?? 8 };
    const convergence: ConvergenceRun[] = [];
    for (const mode of ['pushed', 'polling'] as const) {
      convergence.push(await convergenceRun(mode, postgres.url, workDir, standin.control, lanes, log));
    }
    const scale = await scaleRun(
      postgres.url,
      workDir,
      standin.control,
      { servers: options.servers ?? 1000, restarts: options.restarts ?? 3 },
      log,
    );
    return { convergence, ...scale, loadAverages: [loadBefore, os.loadavg()[0] as number] };
  } finally {
    await standin.stop();
    await postgres.stop();
    await rm(workDir, { recursive: true, force: true });
  }
}

const MiB = 1024 * 1024;
const ms = (value: number) => value.toFixed(1);

/** The section body for bench/RESULTS.md. */
export function renderHosts(result: HostsBenchResult): string {
  const lines: string[] = [];
  const [pushed, polling] = result.convergence as [ConvergenceRun, ConvergenceRun];
  lines.push(
    '| convergence (h1 -> h2 and h3) | system | p50 ms | p99 ms | max ms | n |',
    '|---|---|---:|---:|---:|---:|',
  );
  for (const [what, pick] of [
    ['start: row `running` on h1 -> both route it', (r: ConvergenceRun) => r.start],
    ['stop: row leaves `running` on h1 -> neither routes it', (r: ConvergenceRun) => r.stop],
  ] as const) {
    for (const run of [pushed, polling]) {
      const samples = pick(run);
      const label =
        run.mode === 'pushed' ? 'pushed (NOTIFY; polling every 600 s)' : 'polling only (every 2 s)';
      lines.push(
        `| ${what} | ${label} | ${ms(percentile(samples, 50))} | ${ms(percentile(samples, 99))} | ${ms(Math.max(...samples))} | ${samples.length} |`,
      );
    }
  }
  const ratio = (pick: (r: ConvergenceRun) => number[], p: number) =>
    (percentile(pick(polling), p) / percentile(pick(pushed), p)).toFixed(0);
  lines.push(
    '',
    `Ratio polling / pushed: start p50 ${ratio((r) => r.start, 50)}x, p99 ${ratio((r) => r.start, 99)}x; stop p50 ${ratio((r) => r.stop, 50)}x, p99 ${ratio((r) => r.stop, 99)}x.`,
    '',
  );

  const runs = [...result.restarts];
  const medianRouted = median(runs.map((r) => r.routedMs));
  lines.push(
    `| ${result.servers} servers over h1, h2, h3 | ms | adopt log (adopted, forgotten, orphans, remote) |`,
    '|---|---:|---|',
    `| all started (${HOSTS.length} replicas at once, 50 starts in flight each) and routed on every replica | ${result.createMs.toFixed(0)} | |`,
  );
  const adopt = (a: AdoptLog | undefined) =>
    a ? `${a.adopted}, ${a.forgotten}, ${a.orphans}, ${a.remote}` : 'not logged';
  runs.forEach((run, i) => {
    lines.push(
      `| h1 restart ${i + 1} (stop(), startSifu in its process): startSifu resolved | ${run.servingMs.toFixed(0)} | ${adopt(run.adopt)} |`,
      `| h1 restart ${i + 1}: ... and all ${result.servers} routes | ${run.routedMs.toFixed(0)} | |`,
    );
  });
  lines.push(
    `| h1 restart, median to all routes (target < 3000) | ${medianRouted.toFixed(0)} | ${medianRouted < 3000 ? 'met' : 'NOT met'} |`,
    `| h1 as a new process: startSifu resolved | ${result.processRestart.servingMs.toFixed(0)} | ${adopt(result.processRestart.adopt)} |`,
    `| h1 as a new process: ... and all ${result.servers} routes | ${result.processRestart.routedMs.toFixed(0)} | |`,
    '',
    '| replica | when | routes | RSS MiB | heap used MiB |',
    '|---|---|---:|---:|---:|',
  );
  for (const m of result.memory) {
    lines.push(
      `| ${m.replica} | ${m.when} | ${m.routes} | ${(m.sample.rss / MiB).toFixed(1)} | ${(m.sample.heapUsed / MiB).toFixed(1)} |`,
    );
  }
  const at = (replica: string, when: string) =>
    result.memory.find((m) => m.replica === replica && m.when.startsWith(when))?.sample as MemorySample;
  const zero = at('h1', 'booted');
  const full = at('h1', 'new process');
  const perRoute = (field: 'rss' | 'heapUsed') => ((full[field] - zero[field]) / result.servers).toFixed(0);
  lines.push(
    '',
    `Bytes per route (h1, a new process at ${result.servers} routes against the first boot at 0, both after a forced GC): heap ${perRoute('heapUsed')}, RSS ${perRoute('rss')}.`,
    '',
    `Machine: ${os.cpus().length} cores, ${(os.totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}; 1-minute load average ${result.loadAverages.map((x) => x.toFixed(2)).join(' before, ')} after.`,
  );
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchHosts({ log: (line) => console.error(line) });
  console.log(renderHosts(result));
}
