/**
 * Relay benchmark: a learner served through its own replica (notebook proxy -> unix socket) against
 * through a remote replica (notebook proxy -> relay over TCP on loopback -> unix socket), small GETs
 * loaded with wrk as in the proxy benchmark. Anchors measured in the same run: the own-replica path,
 * and two other relays in the same place: a raw TCP-to-unix byte pipe (no HTTP parsing, no checks: the
 * floor of any relay) and a relay written on node:http alone (`http.createServer` + `http.request`).
 * Every server is a process of its own; this file is also their entry point (`--child <kind>`).
 * Run alone: `node --import tsx bench/relay.ts`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createNotebookProxy } from '../src/proxy/notebook-proxy.js';
import { createRelay } from '../src/proxy/relay.js';
import type { ProxyHooks } from '../src/proxy/types.js';
import { RELAY_KEY_HEADER, type Route } from '../src/routes.js';
import { proxyTable, type Row } from './proxy.js';
import { fetchOnce, runWrk, type WrkResult, wrkCommand } from './proxy-load.js';
import {
  BACKEND_BODY,
  BENCH_COOKIE,
  BENCH_ORIGIN,
  cpuSeconds,
  ProcessGroup,
  REPO,
  type Service,
} from './proxy-processes.js';
import { median } from './support/stats.js';

const RELAY_KEY = 'bench-relay-key';
const SECRET = 'bench-secret';
const NGINX = '/usr/sbin/nginx';

export interface RelayBenchOptions {
  /** Seconds of each measured wrk run (default 5), after a 1 s warm-up run. */
  seconds?: number;
  /** Rounds over the paths, in rotating order; medians are reported (default 5). */
  rounds?: number;
  /** wrk connections (default 50). */
  connections?: number;
  log?: (line: string) => void;
}

/** The paths measured; each but the first goes through a proxy and a relay, each in its own process. */
type Path = 'own replica' | 'remote, Sifu relay' | 'remote, byte pipe' | 'remote, node:http relay';
const paths: Path[] = ['own replica', 'remote, Sifu relay', 'remote, byte pipe', 'remote, node:http relay'];
const relayKinds: Record<Exclude<Path, 'own replica'>, string> = {
  'remote, Sifu relay': 'relay',
  'remote, byte pipe': 'pipe',
  'remote, node:http relay': 'node-http-relay',
};

interface Measured extends WrkResult {
  /** CPU (user + system) per request of the proxy and, when there is one, the relay, in µs. */
  proxyCpuUs: number;
  relayCpuUs: number;
  /**
   * Latency on one connection (wrk -c1), right after the loaded run: what a request pays when nothing
   * queues, so the difference between paths is the hop's own cost.
   */
  alone: WrkResult;
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));

/** nginx answering a small body on a unix socket, as a learner's server listens (one worker). */
async function startUnixBackend(group: ProcessGroup, dir: string): Promise<string> {
  const socket = join(dir, 'jupyter.sock');
  const config = [
    'daemon off;',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
    `  server { listen unix:${socket}; keepalive_requests 1000000;`,
    `    location / { default_type text/plain; return 200 '${BACKEND_BODY}'; } }`,
    '}',
    '',
  ].join('\n');
  await writeFile(join(dir, 'nginx.conf'), config);
  group.start(NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')]);
  const deadline = Date.now() + 15_000;
  for (;;) {
    const up = await new Promise<boolean>((done) => {
      const probe = net.connect({ path: socket }, () => {
        probe.destroy();
        done(true);
      });
      probe.on('error', () => done(false));
    });
    if (up) return socket;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${socket}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startChild(group: ProcessGroup, kind: string, args: string[]): Promise<Service> {
  const script = join(REPO, 'bench', 'relay.ts');
  const child = group.start(process.execPath, ['--import', 'tsx', script, '--child', kind, ...args]);
  const match = await group.waitForLine(child, /listening on (\d+)/);
  return { url: `http://127.0.0.1:${match[1]}`, pid: child.pid as number };
}

export interface RelayBenchResult {
  rows: Row[];
  /** The 1-minute load average before and after the run: other work on the machine shows here. */
  loadAverages: [number, number];
}

export async function benchRelay(options: RelayBenchOptions = {}): Promise<RelayBenchResult> {
  const loadBefore = os.loadavg()[0] as number;
  const seconds = options.seconds ?? 5;
  const rounds = options.rounds ?? 5;
  const connections = options.connections ?? 50;
  const log = options.log ?? (() => {});
  const workDir = await mkdtemp(join(os.tmpdir(), 'sifu-bench-relay-'));
  const group = new ProcessGroup();
  group.ownDirectory(workDir);
  try {
    const socket = await startUnixBackend(group, workDir);
    const proxies = {} as Record<Path, Service>;
    const relays = {} as Record<Path, Service | undefined>;
    proxies['own replica'] = await startChild(group, 'proxy', [`unix:${socket}`]);
    for (const [path, kind] of Object.entries(relayKinds) as [Path, string][]) {
      const relay = await startChild(group, kind, [socket]);
      relays[path] = relay;
      proxies[path] = await startChild(group, 'proxy', [relay.url, RELAY_KEY]);
    }
    const urlOf = (path: Path) => `${proxies[path].url}/user/bench/`;
    for (const path of paths) {
      const answer = await fetchOnce(urlOf(path), { cookie: BENCH_COOKIE });
      if (answer.status !== 200 || answer.body !== BACKEND_BODY) {
        throw new Error(`${path} answered ${answer.status} ${answer.body.slice(0, 200)}`);
      }
    }

    const load = async (path: Path, runSeconds: number): Promise<Measured> => {
      const spec = { url: urlOf(path), headers: [`Cookie: ${BENCH_COOKIE}`], connections };
      await runWrk({ ...spec, seconds: 1 });
      const relayPid = relays[path]?.pid;
      const proxyBefore = cpuSeconds(proxies[path].pid);
      const relayBefore = relayPid === undefined ? 0 : cpuSeconds(relayPid);
      const result = await runWrk({ ...spec, seconds: runSeconds });
      if (result.errors > 0) throw new Error(`${path}: ${result.errors} errors under load`);
      const perRequest = (s: number) => (s / result.requests) * 1e6;
      const proxyCpu = cpuSeconds(proxies[path].pid) - proxyBefore;
      const relayCpu = relayPid === undefined ? 0 : cpuSeconds(relayPid) - relayBefore;
      const alone = await runWrk({
        ...spec,
        connections: 1,
        seconds: Math.max(1, Math.ceil(runSeconds / 2)),
      });
      if (alone.errors > 0) throw new Error(`${path}: ${alone.errors} errors on one connection`);
      return {
        ...result,
        alone,
        proxyCpuUs: perRequest(proxyCpu),
        relayCpuUs: perRequest(relayCpu),
      };
    };
    // An untimed round first, so that no measured run pays for start-up (JIT, pools filling).
    for (const path of paths) await load(path, 2);
    const runs: Record<Path, Measured[]> = {
      'own replica': [],
      'remote, Sifu relay': [],
      'remote, byte pipe': [],
      'remote, node:http relay': [],
    };
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < paths.length; i++) {
        const path = paths[(i + r) % paths.length] as Path;
        const result = await load(path, seconds);
        runs[path].push(result);
        log(
          `round ${r + 1} ${path}: ${result.requestsPerSec} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, CPU/req proxy ${result.proxyCpuUs.toFixed(1)} µs, relay ${result.relayCpuUs.toFixed(1)} µs; 1 connection: p50 ${result.alone.p50Ms} ms, p99 ${result.alone.p99Ms} ms`,
        );
      }
    }
    return { rows: relayRows(runs), loadAverages: [loadBefore, os.loadavg()[0] as number] };
  } finally {
    await group.stopAll();
    await rm(workDir, { recursive: true, force: true });
  }
}

function relayRows(runs: Record<Path, Measured[]>): Row[] {
  const rows: Row[] = [];
  const values = (path: Path, pick: (m: Measured) => number) => runs[path].map(pick);
  const med = (path: Path, pick: (m: Measured) => number) => median(values(path, pick));
  const spread = (list: number[], digits: number) => list.map((v) => v.toFixed(digits)).join(', ');
  const metrics: [string, (m: Measured) => number, string, number][] = [
    ['HTTP throughput', (m) => m.requestsPerSec, 'req/s', 0],
    ['HTTP latency p50', (m) => m.p50Ms, 'ms', 2],
    ['HTTP latency p99', (m) => m.p99Ms, 'ms', 2],
    ['HTTP latency p50, 1 connection', (m) => m.alone.p50Ms, 'ms', 3],
    ['HTTP latency p99, 1 connection', (m) => m.alone.p99Ms, 'ms', 3],
    ['CPU per request, proxy', (m) => m.proxyCpuUs, 'µs', 1],
    ['CPU per request, relay', (m) => m.relayCpuUs, 'µs', 1],
  ];
  for (const [metric, pick, unit, digits] of metrics) {
    for (const path of paths) {
      if (metric.endsWith('relay') && path === 'own replica') continue;
      const list = values(path, pick);
      rows.push({
        metric,
        system: path,
        value: round(median(list), digits),
        unit,
        note: spread(list, digits),
      });
    }
  }
  const own = 'own replica';
  const ratio = (metric: string, system: string, a: number[], b: number[]): Row => ({
    metric,
    system,
    value: round(median(a) / median(b), 2),
    unit: 'x',
    note: spread(
      a.map((x, i) => x / (b[i] as number)),
      2,
    ),
  });
  const rps = (path: Path) => values(path, (m) => m.requestsPerSec);
  for (const path of paths.slice(1))
    rows.push(ratio('HTTP throughput', `${path} / ${own}`, rps(path), rps(own)));
  rows.push(
    ratio('HTTP throughput', 'Sifu relay / byte pipe', rps('remote, Sifu relay'), rps('remote, byte pipe')),
  );
  rows.push(
    ratio(
      'HTTP throughput',
      'Sifu relay / node:http relay',
      rps('remote, Sifu relay'),
      rps('remote, node:http relay'),
    ),
  );
  for (const [metric, pick] of [
    ['HTTP latency p50, 1 connection', (m: Measured) => m.alone.p50Ms],
    ['HTTP latency p99, 1 connection', (m: Measured) => m.alone.p99Ms],
  ] as const) {
    for (const path of paths.slice(1)) {
      const added = values(path, pick).map((x, i) => x - (values(own, pick)[i] as number));
      rows.push({
        metric: `${metric}: added by the relay hop`,
        system: path,
        value: round(med(path, pick) - med(own, pick), 3),
        unit: 'ms',
        note: spread(added, 3),
      });
    }
  }
  return rows;
}

/** The command that reproduces a run by hand, for the results page. */
export function relayBenchCommands(options: RelayBenchOptions = {}): string {
  return wrkCommand({
    url: 'http://127.0.0.1:<proxy port>/user/bench/',
    headers: [`Cookie: ${BENCH_COOKIE}`],
    connections: options.connections ?? 50,
    seconds: options.seconds ?? 5,
  })
    .map((arg) => (/[\s:;]/.test(arg) ? `'${arg}'` : arg))
    .join(' ');
}

/* The benchmark's servers, each run as `node --import tsx bench/relay.ts --child <kind> <args>`. */

function announce(server: net.Server): void {
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening on ${(server.address() as AddressInfo).port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

/** The real notebook proxy (one process, as `workers: 1`), routing `bench` to `target`. */
function childProxy(target: string, relayKey: string | undefined): void {
  const route: Route = { userName: 'bench', serverName: '', target, secret: SECRET, relayKey };
  const hooks: ProxyHooks = {
    route: (userName) => (userName === 'bench' ? route : undefined),
    visitor: (req: IncomingMessage) =>
      (req.headers.cookie ?? '').includes(BENCH_COOKIE) ? { userName: 'bench', admin: false } : null,
    completeHandoff: async () => null,
    activity: () => {},
  };
  const proxy = createNotebookProxy(hooks, {
    notebookOrigin: BENCH_ORIGIN,
    hubOrigin: 'http://hub.bench',
    allowedOrigins: [],
    frameAncestors: ["'self'"],
    upstreamIdleTimeoutMs: 60_000,
    clientIdleTimeoutMs: 300_000,
  });
  announce(proxy.server);
}

/** Sifu's relay in front of the unix socket. */
function childRelay(socket: string): void {
  const route: Route = { userName: 'bench', serverName: '', target: `unix:${socket}`, secret: SECRET };
  const relay = createRelay(
    { key: RELAY_KEY, localRoute: (userName) => (userName === 'bench' ? route : undefined) },
    { idleTimeoutMs: 300_000 },
  );
  announce(relay.server);
}

/** The floor of any relay: each TCP connection piped to a unix socket connection, bytes untouched. */
function childPipe(socket: string): void {
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ path: socket });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  announce(server);
}

/** A relay on node:http alone: the key checked, the request re-issued with http.request over keep-alive. */
function childNodeHttpRelay(socket: string): void {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  const server = http.createServer({ noDelay: true }, (req, res) => {
    if (req.headers[RELAY_KEY_HEADER] !== RELAY_KEY) {
      res.writeHead(403).end();
      return;
    }
    const headers: http.OutgoingHttpHeaders = { ...req.headers, host: 'localhost' };
    delete headers[RELAY_KEY_HEADER];
    const upstream = http.request(
      { socketPath: socket, agent, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  announce(server);
}

function runChild(kind: string | undefined, args: string[]): void {
  const [first, second] = args;
  if (kind === 'proxy' && first !== undefined) childProxy(first, second);
  else if (kind === 'relay' && first !== undefined) childRelay(first);
  else if (kind === 'pipe' && first !== undefined) childPipe(first);
  else if (kind === 'node-http-relay' && first !== undefined) childNodeHttpRelay(first);
  else throw new Error(`usage: bench/relay.ts --child proxy|relay|pipe|node-http-relay <target or socket>`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') runChild(argv[1], argv.slice(2));
  else {
    const { rows } = await benchRelay({ log: (line) => console.error(line) });
    console.log(proxyTable(rows));
  }
}
