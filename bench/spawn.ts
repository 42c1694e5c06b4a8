/**
 * Cold-start benchmark: time from `POST /hub/api/users/<name>/server` until the JupyterHub-API client
 * sees `servers[""].ready === true`, for Sifu and for JupyterHub 3.0, in the same run, same notebook
 * server (notebook 6.4.12) behind both. Run alone: `node --import tsx bench/spawn.ts [--rounds N]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { hostHeaderOf, httpAddressOf } from '../src/routes.js';
import { freePort } from '../test/support/free-port.js';
import { type HubApiTarget, hubApi } from './support/api.js';
import { startJupyterHub } from './support/jupyterhub.js';
import { percentile } from './support/stats.js';

export type SpawnSystem = 'sifu' | 'jupyterhub';

export interface SpawnBenchRow {
  /** What was measured, e.g. `cold start (POST .../server -> ready)`. */
  name: string;
  /** `Sifu` or `JupyterHub 3.0`. */
  system: string;
  p50Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
  n: number;
}

export interface SpawnBenchResult {
  /** One row per system measured: Sifu first, then JupyterHub. */
  rows: SpawnBenchRow[];
  /** Sifu p50 / JupyterHub p50 (below 1: Sifu is faster); NaN unless both systems ran. */
  ratio: number;
  /** Every timed start, in ms, in the order taken. */
  samples: Partial<Record<SpawnSystem, number[]>>;
  /** The single-user command each system ran, and the notebook version each server reported. */
  singleUser: Partial<Record<SpawnSystem, { command: string; notebookVersion: string }>>;
}

export interface SpawnBenchOptions {
  /** Timed starts per system (default 5), each for a fresh user, after one untimed warm-up start. */
  rounds?: number;
  /** Which systems to measure (default both). */
  systems?: SpawnSystem[];
  /** Aborts the run (cleanup still happens). */
  signal?: AbortSignal;
  /** Bound on the whole run before cleanup (default 170 s); exceeding it fails the run. */
  timeoutMs?: number;
}

const MEASURE = 'cold start (POST .../server -> ready)';
const LABEL: Record<SpawnSystem, string> = { sifu: 'Sifu', jupyterhub: 'JupyterHub 3.0' };
/** How often the client polls `GET /hub/api/users/<name>`. */
const POLL_MS = 10;
/** Bound on one start or one stop. */
const STEP_TIMEOUT_MS = 60_000;
/** Bound on stopping one system at the end. */
const CLEANUP_TIMEOUT_MS = 30_000;

/** A running system as the benchmark drives it: JupyterHub's REST API plus an end-to-end check. */
interface Target extends HubApiTarget {
  system: SpawnSystem;
  command: string;
  /** Asks the user's running server for `/api` (its version); throws unless it answers 200. */
  checkServer(name: string): Promise<string>;
  stop(): Promise<void>;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** One API request, bounded by STEP_TIMEOUT_MS. */
const call = (target: Target, method: string, path: string, signal?: AbortSignal) =>
  hubApi(target, method, path, { timeoutMs: STEP_TIMEOUT_MS, signal });

function expectStatus(
  what: string,
  system: SpawnSystem,
  got: { status: number; body: unknown },
  ok: number[],
) {
  if (!ok.includes(got.status)) {
    throw new Error(`${LABEL[system]}: ${what} answered ${got.status}: ${JSON.stringify(got.body)}`);
  }
}

interface ServerModel {
  ready?: boolean;
  pending?: string | null;
}

async function defaultServer(
  target: Target,
  name: string,
  signal?: AbortSignal,
): Promise<ServerModel | undefined> {
  const got = await call(target, 'GET', `/users/${name}`, signal);
  expectStatus(`GET /hub/api/users/${name}`, target.system, got, [200]);
  return (got.body as { servers?: Record<string, ServerModel> }).servers?.[''];
}

/** Starts `name`'s server and returns the ms until `servers[""].ready`; leaves it running. */
async function timedStart(target: Target, name: string, signal?: AbortSignal): Promise<number> {
  const t0 = performance.now();
  const started = await call(target, 'POST', `/users/${name}/server`, signal);
  expectStatus(`POST /hub/api/users/${name}/server`, target.system, started, [201, 202]);
  const deadline = t0 + STEP_TIMEOUT_MS;
  for (;;) {
    const server = await defaultServer(target, name, signal);
    if (server?.ready === true) return performance.now() - t0;
    if (!server?.pending) {
      throw new Error(
        `${LABEL[target.system]}: ${name}'s server is neither ready nor pending: ${JSON.stringify(server)}`,
      );
    }
    if (performance.now() > deadline)
      throw new Error(`${LABEL[target.system]}: ${name}'s server never became ready`);
    await sleep(POLL_MS, signal);
  }
}

/** Stops `name`'s server and waits until the API shows it gone. */
async function stopServer(target: Target, name: string): Promise<void> {
  const got = await call(target, 'DELETE', `/users/${name}/server`);
  expectStatus(`DELETE /hub/api/users/${name}/server`, target.system, got, [202, 204]);
  const deadline = performance.now() + STEP_TIMEOUT_MS;
  for (;;) {
    const server = await defaultServer(target, name);
    if (!server || (!server.ready && !server.pending)) return;
    if (performance.now() > deadline)
      throw new Error(`${LABEL[target.system]}: ${name}'s server did not stop`);
    await sleep(50);
  }
}

/**
 * One round for a fresh user: create it, time the start, check the server answers, stop the server.
 * The stop is never aborted: an interrupted run still stops, through the API, the server it started.
 */
async function round(
  target: Target,
  name: string,
  signal?: AbortSignal,
): Promise<{ ms: number; version: string }> {
  const created = await call(target, 'POST', `/users/${name}`, signal);
  expectStatus(`POST /hub/api/users/${name}`, target.system, created, [201]);
  let ok = false;
  try {
    const ms = await timedStart(target, name, signal);
    const version = await target.checkServer(name);
    ok = true;
    return { ms, version };
  } finally {
    const stopping = stopServer(target, name);
    if (ok) await stopping;
    else await stopping.catch(() => {});
  }
}

async function startJupyterHubTarget(): Promise<Target> {
  const hub = await startJupyterHub();
  return {
    system: 'jupyterhub',
    apiUrl: hub.url,
    token: hub.apiToken,
    command: hub.singleUserCommand.join(' '),
    // Through CHP and the single-user server's own hub-token check, as a browser's request would go.
    async checkServer(name) {
      const res = await fetch(`${hub.url}/user/${name}/api`, {
        headers: { authorization: `token ${hub.apiToken}` },
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (res.status !== 200)
        throw new Error(`JupyterHub: GET /user/${name}/api answered ${res.status}: ${text}`);
      return (JSON.parse(text) as { version: string }).version;
    },
    stop: () => hub.stop(),
  };
}

async function startSifuTarget(): Promise<Target> {
  // Loaded on demand, so a JupyterHub-only run does not need the whole of Sifu.
  const [{ startSifu }, { loadConfig }, { DEFAULT_SPAWNER_COMMAND }, { baseUrlOf }] = await Promise.all([
    import('../src/app/start.js'),
    import('../src/config/load.js'),
    import('../src/config/schema.js'),
    import('../src/routes.js'),
  ]);
  const dataDir = await mkdtemp(join(tmpdir(), 'sifu-bench-spawn-'));
  const token = `bench-${crypto.randomUUID()}`;
  let sifu: Awaited<ReturnType<typeof startSifu>> | undefined;
  const stop = async () => {
    if (sifu) {
      for (const route of sifu.manager.runningRoutes()) {
        await sifu.manager.stop(route.userName, route.serverName, 'benchmark over').catch(() => {});
      }
      await sifu.stop();
      sifu = undefined;
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const config = loadConfig({
      overrides: {
        dataDir,
        adminToken: token,
        hub: { host: '127.0.0.1', port: await freePort() },
        notebook: { host: '127.0.0.1', port: await freePort() },
        culler: { enabled: false },
        log: { level: 'silent' },
      },
    });
    sifu = await startSifu(config);
  } catch (err) {
    await stop();
    throw err;
  }
  const running = sifu;
  return {
    system: 'sifu',
    apiUrl: running.hubUrl,
    token,
    command: DEFAULT_SPAWNER_COMMAND,
    // Sifu's notebook proxy admits only a signed-in browser; ask the server at its route, with its secret,
    // exactly as the proxy would forward the request.
    async checkServer(name) {
      const route = running.manager.route(name, '');
      if (!route) throw new Error(`Sifu: ${name}'s server is ready but has no route`);
      const { status, text } = await getAt(route.target, `${baseUrlOf(name, '')}api`, route.secret);
      if (status !== 200) throw new Error(`Sifu: ${name}'s server answered ${status} at /api: ${text}`);
      return (JSON.parse(text) as { version: string }).version;
    },
    stop,
  };
}

/** A GET of a route target (a unix socket since servers listen on them, or an origin), as the proxy makes it. */
function getAt(target: string, path: string, secret: string): Promise<{ status: number; text: string }> {
  const address = httpAddressOf(target);
  if (!address) return Promise.reject(new Error(`not a route target: ${target}`));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        ...address,
        path,
        headers: { host: hostHeaderOf(target), authorization: `token ${secret}` },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer`)));
    req.on('error', reject);
    req.end();
  });
}

const round1 = (ms: number) => Math.round(ms * 10) / 10;

function summarize(system: SpawnSystem, samples: number[]): SpawnBenchRow {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    name: MEASURE,
    system: LABEL[system],
    p50Ms: round1(percentile(samples, 50)),
    meanMs: round1(samples.reduce((a, b) => a + b, 0) / samples.length),
    minMs: round1(sorted[0] as number),
    maxMs: round1(sorted[sorted.length - 1] as number),
    n: samples.length,
  };
}

/**
 * Starts both systems, warms each up with one untimed start, then times `rounds` starts per system for
 * fresh users, alternating which system goes first each round. Every server is stopped through the API
 * before the next start; both systems are stopped (and their temp dirs removed) even on failure.
 */
export async function benchSpawn(options: SpawnBenchOptions = {}): Promise<SpawnBenchResult> {
  const rounds = options.rounds ?? 5;
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`rounds must be a positive integer, not ${rounds}`);
  const systems: SpawnSystem[] = (['sifu', 'jupyterhub'] as const).filter(
    (s) => options.systems?.includes(s) ?? true,
  );
  const limit = options.timeoutMs ?? 170_000;
  const overdue = new AbortController();
  const overdueTimer = setTimeout(
    () => overdue.abort(new Error(`the spawn benchmark took longer than ${limit} ms`)),
    limit,
  );
  const signal = options.signal ? AbortSignal.any([options.signal, overdue.signal]) : overdue.signal;
  const targets: Target[] = [];
  const result: SpawnBenchResult = { rows: [], ratio: Number.NaN, samples: {}, singleUser: {} };
  try {
    for (const system of systems) {
      signal.throwIfAborted();
      targets.push(system === 'sifu' ? await startSifuTarget() : await startJupyterHubTarget());
    }
    for (const target of targets) {
      // Untimed: the first start pays for reading Python and Jupyter from disk.
      const { version } = await round(target, 'warmup', signal);
      result.singleUser[target.system] = { command: target.command, notebookVersion: version };
      result.samples[target.system] = [];
    }
    for (let i = 1; i <= rounds; i++) {
      const order = i % 2 === 1 ? targets : [...targets].reverse();
      for (const target of order) {
        const { ms, version } = await round(target, `bench${i}`, signal);
        const seen = result.singleUser[target.system];
        if (seen && seen.notebookVersion !== version) seen.notebookVersion += `, ${version}`;
        result.samples[target.system]?.push(ms);
      }
    }
  } finally {
    clearTimeout(overdueTimer);
    const failures: unknown[] = [];
    for (const target of targets.reverse()) {
      // Bounded: a system that cannot stop must not hang the run (its servers were stopped first).
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${LABEL[target.system]} did not stop within ${CLEANUP_TIMEOUT_MS} ms`)),
          CLEANUP_TIMEOUT_MS,
        );
      });
      await Promise.race([target.stop(), bound])
        .catch((err: unknown) => failures.push(err))
        .finally(() => clearTimeout(timer));
    }
    if (failures.length > 0) console.error('bench/spawn: cleanup failed:', ...failures);
  }
  result.rows = systems.flatMap((s) => (result.samples[s]?.length ? [summarize(s, result.samples[s])] : []));
  const sifu = result.rows.find((r) => r.system === LABEL.sifu);
  const hub = result.rows.find((r) => r.system === LABEL.jupyterhub);
  if (sifu && hub) result.ratio = Math.round((sifu.p50Ms / hub.p50Ms) * 1000) / 1000;
  return result;
}

/** The result as a Markdown table plus the ratio and the single-user commands. */
export function renderSpawnTable(result: SpawnBenchResult): string {
  const lines = [
    '| benchmark | system | p50 ms | mean ms | min ms | max ms | n |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...result.rows.map(
      (r) => `| ${r.name} | ${r.system} | ${r.p50Ms} | ${r.meanMs} | ${r.minMs} | ${r.maxMs} | ${r.n} |`,
    ),
    '',
    `Ratio Sifu / JupyterHub (p50): ${Number.isNaN(result.ratio) ? 'n/a' : result.ratio}`,
    '',
  ];
  for (const system of ['sifu', 'jupyterhub'] as const) {
    const su = result.singleUser[system];
    if (su) {
      lines.push(`- ${LABEL[system]} single-user server: \`${su.command}\` (notebook ${su.notebookVersion})`);
    }
    const samples = result.samples[system];
    if (samples?.length)
      lines.push(`- ${LABEL[system]} samples (ms, in order): ${samples.map(round1).join(', ')}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = args.indexOf('--rounds');
  const rounds = at >= 0 ? Number(args[at + 1]) : undefined;
  const systems = args.includes('--jupyterhub-only')
    ? (['jupyterhub'] as SpawnSystem[])
    : args.includes('--sifu-only')
      ? (['sifu'] as SpawnSystem[])
      : undefined;
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const result = await benchSpawn({ rounds, systems, signal: abort.signal });
  console.log(renderSpawnTable(result));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
