/**
 * WebSockets through Sifu as shipped (`make run`'s built process, default config), beside
 * configurable-http-proxy and direct, in one run: round-trip latency of small messages, and the memory
 * 1,000 idle sockets cost each proxy. The learner's server is a WebSocket echo (bench/support/
 * ws-echo-standin.mjs) that the `local` backend runs in its sandbox on the server's unix socket; CHP and
 * the direct client reach that same socket. The browser's upgrade carries what a browser's would: the
 * notebook cookies, Host `<user>.localhost:<port>`, Origin the user's origin.
 * Run alone: `node --import tsx bench/proxy-ws-shipped.ts`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WebSocket } from 'ws';
import { SERVER_SOCKET_NAME } from '../src/spawner/server-socket.js';
import type { Row } from './proxy.js';
import { proxyTable } from './proxy.js';
import { openWebSocket, type RoundTrips, roundTrip, roundTripStats } from './proxy-load.js';
import {
  BACKEND_BODY,
  cpuNanoseconds,
  ProcessGroup,
  proxyProcesses,
  REPO,
  type Service,
  startChp,
} from './proxy-processes.js';
import { startShippedSifu } from './proxy-shipped.js';
import { collectedHeapBytes } from './support/inspector-heap.js';
import { median } from './support/stats.js';

/** Past proxy-shipped.ts's range (400000-): the HTTP benchmark may run beside this one. */
const UID_BASE = 410_000;
const USER = 'bench';
/** A kernel's channels URL, as JupyterLab opens it (the echo server answers any path). */
const KERNEL_PATH = `/user/${USER}/api/kernels/k1/channels?session_id=s1`;
/**
 * Source addresses the idle sockets are spread over: Sifu caps each address at
 * `limits.maxConnectionsPerAddress` (256 by default) per worker, and the loopback is all of 127/8.
 */
const SOURCE_ADDRESSES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`);

export interface WsShippedOptions {
  /** Rounds of latency, the three paths taking turns message by message; medians reported (default 5). */
  rounds?: number;
  /** Round trips per path and round (default 3000, after a tenth as many warm-up). */
  roundTrips?: number;
  /** Idle WebSockets opened through each proxy (default 1000). */
  idleSockets?: number;
  log?: (line: string) => void;
}

export interface WsShippedBench {
  rows: Row[];
  /** /proc/loadavg before and after the run. */
  loadAverages: [string, string];
  /** From the sign-in (the server answering) until every worker admitted the upgrade. */
  admittedAfterMs: number;
}

/** The same built Sifu with `proxy.nativeRelay` off: the event loop relays (socket-relay.ts), as before the native relay. */
const EVENT_LOOP = 'Sifu, event-loop relay';
type Path = 'direct' | 'Sifu as shipped' | typeof EVENT_LOOP | 'CHP';
const PATHS: Path[] = ['direct', 'Sifu as shipped', EVENT_LOOP, 'CHP'];
/** One list per path (or proxy). */
const perPath = <K extends string, T>(keys: readonly K[], make: () => T) =>
  Object.fromEntries(keys.map((key) => [key, make()])) as Record<K, T>;

interface WsTarget {
  url: string;
  headers: Record<string, string>;
  origin?: string;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').trim();

/** The server's shell script: the echo server, copied beside it, on the socket `$1`. */
function echoScript(standinDir: string): string {
  return `#!/bin/sh\nexec /usr/bin/node ${join(standinDir, 'ws-echo-standin.mjs')} "$1" '${BACKEND_BODY}'\n`;
}

/** A built Sifu (default config plus `env`) whose learner's server is the echo, copied under `dir`. */
async function startEchoSifu(
  group: ProcessGroup,
  dir: string,
  uidBase: number,
  env: Record<string, string> = {},
) {
  const standin = join(dir, 'standin');
  await mkdir(standin, { recursive: true });
  await copyFile(join(REPO, 'bench/support/ws-echo-standin.mjs'), join(standin, 'ws-echo-standin.mjs'));
  return startShippedSifu(group, dir, USER, undefined, { script: echoScript(standin), uidBase }, env);
}

/** The socket the `local` backend gave the learner's server (`<dataDir>/run/<dir>/jupyter.sock`). */
function serverSocket(dataDir: string): string {
  const run = join(dataDir, 'run');
  for (const entry of readdirSync(run, { withFileTypes: true })) {
    if (entry.isDirectory() && readdirSync(join(run, entry.name)).includes(SERVER_SOCKET_NAME)) {
      return join(run, entry.name, SERVER_SOCKET_NAME);
    }
  }
  throw new Error(`no ${SERVER_SOCKET_NAME} under ${run}`);
}

/** Resident memory (VmRSS) of the proxy's processes, summed, in bytes. */
function residentBytes(service: Service): number {
  let kib = 0;
  for (const pid of proxyProcesses(service.pid, service.notProxy)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      kib += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
    } catch {
      // Ended meanwhile.
    }
  }
  return kib * 1024;
}

/**
 * Waits until `target` admits `needed` upgrades in a row (the workers take turns at new connections), and
 * returns how long that took: right after the start, a worker other than the one that started the
 * server can answer 503 SIFU_ERR_SERVER_NOT_RUNNING until its route table has followed the store.
 */
async function untilAdmitted(target: WsTarget, needed = 4, timeoutMs = 30_000): Promise<number> {
  const start = Date.now();
  let inRow = 0;
  let refusal: unknown;
  while (inRow < needed) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`still refused after ${timeoutMs} ms: ${String(refusal)}`);
    try {
      await closeAll([await openWebSocket(target.url, target.headers, target.origin)]);
      inRow++;
    } catch (error) {
      refusal = error;
      inRow = 0;
      await settle(50);
    }
  }
  return Date.now() - start;
}

/** Opens `count` sockets, `batch` at a time, spread over {@link SOURCE_ADDRESSES}. */
async function openIdleSockets(target: WsTarget, count: number, batch = 50): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  while (sockets.length < count) {
    const size = Math.min(batch, count - sockets.length);
    const start = sockets.length;
    sockets.push(
      ...(await Promise.all(
        Array.from({ length: size }, (_, i) =>
          openWebSocket(
            target.url,
            target.headers,
            target.origin,
            SOURCE_ADDRESSES[(start + i) % SOURCE_ADDRESSES.length],
          ),
        ),
      )),
    );
  }
  return sockets;
}

async function closeAll(sockets: WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((done) => {
          ws.once('close', () => done());
          ws.terminate();
        }),
    ),
  );
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `n` round trips of a 32-byte message on each socket, the paths taking turns message by message (in
 * rotating order), so that all of them meet the same machine: other work on it comes and goes.
 */
async function interleavedRoundTrips(
  sockets: Record<Path, WebSocket>,
  n: number,
): Promise<Record<Path, number[]>> {
  const message = 'x'.repeat(32);
  const samples = perPath(PATHS, (): number[] => []);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < PATHS.length; j++) {
      const path = PATHS[(i + j) % PATHS.length] as Path;
      samples[path].push(await roundTrip(sockets[path], message));
    }
  }
  return samples;
}

type Proxy = Exclude<Path, 'direct'>;
const PROXIES: Proxy[] = ['Sifu as shipped', EVENT_LOOP, 'CHP'];
/** Idle memory is measured for these (the event-loop relay's sockets are the same Node objects). */
type Measured = 'Sifu as shipped' | 'CHP';
const MEASURED: Measured[] = ['Sifu as shipped', 'CHP'];

interface IdleMemory {
  rssPerSocket: number;
  heapPerSocket: number;
  /** The totals before and after, for the table. */
  note: string;
}

/** The V8 heap of every process of `service` after a full collection (one at a time: one inspector port). */
async function collectedHeap(service: Service): Promise<number> {
  let bytes = 0;
  for (const pid of proxyProcesses(service.pid, service.notProxy)) bytes += await collectedHeapBytes(pid);
  return bytes;
}

/**
 * What `count` idle WebSockets through `service` cost it: the growth of its V8 heap (every process of
 * it, each after a full garbage collection) and of its resident memory (read after those collections),
 * from before they open to after they settle (2 s), divided by `count`.
 */
async function idleMemory(service: Service, target: WsTarget, count: number): Promise<IdleMemory> {
  const heapBefore = await collectedHeap(service);
  const rssBefore = residentBytes(service);
  const sockets = await openIdleSockets(target, count);
  await settle(2000);
  const heapAfter = await collectedHeap(service);
  const rssAfter = residentBytes(service);
  await closeAll(sockets);
  await settle(1000);
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  return {
    rssPerSocket: (rssAfter - rssBefore) / count,
    heapPerSocket: (heapAfter - heapBefore) / count,
    note: `RSS ${mib(rssBefore)} -> ${mib(rssAfter)} MiB, heap ${mib(heapBefore)} -> ${mib(heapAfter)} MiB`,
  };
}

function ratio(metric: string, system: string, value: number, goal?: number): Row {
  return {
    metric,
    system,
    value: Number(value.toFixed(2)),
    unit: 'x',
    ...(goal === undefined ? {} : { target: `<= ${goal}`, met: value <= goal }),
  };
}

/** A row whose value is the median of per-round values, with every round in its note. */
function perRoundRow(metric: string, system: string, values: number[], unit: string, goal?: number): Row {
  const digits = unit === 'x' ? 2 : 1;
  const row =
    unit === 'x'
      ? ratio(metric, system, median(values), goal)
      : { metric, system, value: Number(median(values).toFixed(digits)), unit };
  return { ...row, note: values.map((v) => v.toFixed(digits)).join(', ') };
}

function wsRows(
  trips: Record<Path, RoundTrips[]>,
  cpu: Record<Proxy, number[]>,
  memory: Record<Measured, IdleMemory>,
): Row[] {
  const shipped = 'Sifu as shipped';
  const rounds = trips.direct.length;
  const byRound = (of: (r: number) => number) => Array.from({ length: rounds }, (_, r) => of(r));
  const mean = (path: Path, r: number) => (trips[path][r] as RoundTrips).meanUs;
  const p99 = (path: Path, r: number) => (trips[path][r] as RoundTrips).p99Us;
  const added = (path: Path, r: number) => mean(path, r) - mean('direct', r);
  // The paths took turns within each round, so each round's ratio is a fair one: the rows give their median.
  const perRound: [string, string, (r: number) => number, string, number?][] = [
    ...PATHS.map((path): [string, string, (r: number) => number, string] => [
      'WebSocket round trip mean',
      path,
      (r) => mean(path, r),
      'µs',
    ]),
    ...PATHS.map((path): [string, string, (r: number) => number, string] => [
      'WebSocket round trip p99',
      path,
      (r) => p99(path, r),
      'µs',
    ]),
    ['WebSocket round trip mean', `${shipped} / CHP`, (r) => mean(shipped, r) / mean('CHP', r), 'x'],
    ['WebSocket round trip p99', `${shipped} / CHP`, (r) => p99(shipped, r) / p99('CHP', r), 'x'],
    ['WebSocket latency added (mean)', shipped, (r) => added(shipped, r), 'µs'],
    ['WebSocket latency added (mean)', EVENT_LOOP, (r) => added(EVENT_LOOP, r), 'µs'],
    ['WebSocket latency added (mean)', 'CHP', (r) => added('CHP', r), 'µs'],
    [
      'WebSocket latency added (mean)',
      `${shipped} / CHP`,
      (r) => added(shipped, r) / added('CHP', r),
      'x',
      1,
    ],
    [
      'WebSocket latency added (mean)',
      `${EVENT_LOOP} / CHP`,
      (r) => added(EVENT_LOOP, r) / added('CHP', r),
      'x',
    ],
    [
      'WebSocket latency added (mean)',
      `${shipped} / event-loop relay`,
      (r) => added(shipped, r) / added(EVENT_LOOP, r),
      'x',
    ],
  ];
  const cpuOf = (proxy: Proxy, r: number) => cpu[proxy][r] as number;
  perRound.push(
    ...PROXIES.map((proxy): [string, string, (r: number) => number, string] => [
      'WebSocket proxy CPU per round trip',
      proxy,
      (r) => cpuOf(proxy, r),
      'µs',
    ]),
    [
      'WebSocket proxy CPU per round trip',
      `${shipped} / CHP`,
      (r) => cpuOf(shipped, r) / cpuOf('CHP', r),
      'x',
    ],
    [
      'WebSocket proxy CPU per round trip',
      `${EVENT_LOOP} / CHP`,
      (r) => cpuOf(EVENT_LOOP, r) / cpuOf('CHP', r),
      'x',
    ],
  );
  const rows = perRound.map(([metric, system, of, unit, goal]) =>
    perRoundRow(metric, system, byRound(of), unit, goal),
  );
  for (const [metric, of] of [
    ['idle WebSocket memory (RSS)', (m: IdleMemory) => m.rssPerSocket],
    ['idle WebSocket memory (V8 heap used)', (m: IdleMemory) => m.heapPerSocket],
  ] as const) {
    for (const proxy of MEASURED) {
      const value = Math.round(of(memory[proxy]));
      rows.push({ metric, system: proxy, value, unit: 'B/socket', note: memory[proxy].note });
    }
    rows.push(ratio(metric, `${shipped} / CHP`, of(memory[shipped]) / of(memory.CHP)));
  }
  return rows;
}

export async function benchShippedWebSockets(options: WsShippedOptions = {}): Promise<WsShippedBench> {
  const loadBefore = loadavg();
  const rounds = options.rounds ?? 5;
  const n = options.roundTrips ?? 3000;
  const idle = options.idleSockets ?? 1000;
  const log = options.log ?? (() => {});
  const workDir = await mkdtemp(join(os.tmpdir(), 'sifu-bench-ws-'));
  const group = new ProcessGroup();
  group.ownDirectory(workDir);
  try {
    const dir = join(workDir, 'shipped');
    const sifu = await startEchoSifu(group, dir, UID_BASE);
    const socket = serverSocket(join(dir, 'data'));
    const loopSifu = await startEchoSifu(group, join(workDir, 'event-loop'), UID_BASE + 500, {
      SIFU_PROXY_NATIVE_RELAY: 'false',
    });
    const chp = await startChp(group, { [`/user/${USER}`]: `http+unix://${encodeURIComponent(socket)}` });
    const userOrigin = `http://${sifu.headers.Host}`;
    const targets: Record<Path, WsTarget> = {
      direct: { url: `ws+unix://${socket}:${KERNEL_PATH}`, headers: {} },
      'Sifu as shipped': {
        url: `${sifu.url.replace('http:', 'ws:')}${KERNEL_PATH}`,
        headers: sifu.headers,
        origin: userOrigin,
      },
      [EVENT_LOOP]: {
        url: `${loopSifu.url.replace('http:', 'ws:')}${KERNEL_PATH}`,
        headers: loopSifu.headers,
        origin: `http://${loopSifu.headers.Host}`,
      },
      CHP: { url: `${chp.url.replace('http:', 'ws:')}${KERNEL_PATH}`, headers: {}, origin: userOrigin },
    };

    const sockets = {} as Record<Path, WebSocket>;
    const admittedAfterMs = await untilAdmitted(targets['Sifu as shipped']);
    await untilAdmitted(targets[EVENT_LOOP]);
    log(`every worker admitted the upgrade ${admittedAfterMs} ms after the sign-in`);
    for (const path of PATHS) {
      const { url, headers, origin } = targets[path];
      sockets[path] = await openWebSocket(url, headers, origin);
    }
    const trips = perPath(PATHS, (): RoundTrips[] => []);
    const services: Record<Proxy, Service> = { 'Sifu as shipped': sifu, [EVENT_LOOP]: loopSifu, CHP: chp };
    const cpu = perPath(PROXIES, (): number[] => []);
    const cpuNow = () =>
      PROXIES.map((proxy) => cpuNanoseconds(services[proxy].pid, services[proxy].notProxy));
    try {
      await interleavedRoundTrips(sockets, 1000);
      for (let r = 0; r < rounds; r++) {
        const before = cpuNow();
        const samples = await interleavedRoundTrips(sockets, n);
        const after = cpuNow();
        // Each proxy's CPU over the round, per round trip through it (the others' messages do not reach it).
        PROXIES.forEach((proxy, i) => {
          cpu[proxy].push(((after[i] as number) - (before[i] as number)) / 1000 / n);
        });
        for (const path of PATHS) trips[path].push(roundTripStats(samples[path]));
        log(
          `round ${r + 1}: ${PATHS.map((p) => `${p} mean ${(trips[p].at(-1) as RoundTrips).meanUs.toFixed(1)} µs`).join(', ')}`,
        );
      }
    } finally {
      await closeAll(Object.values(sockets));
    }

    const memory: Record<Measured, IdleMemory> = {
      'Sifu as shipped': await idleMemory(sifu, targets['Sifu as shipped'], idle),
      CHP: await idleMemory(chp, targets.CHP, idle),
    };
    for (const proxy of MEASURED) {
      log(`${idle} idle through ${proxy}: ${memory[proxy].note}`);
    }

    return { rows: wsRows(trips, cpu, memory), loadAverages: [loadBefore, loadavg()], admittedAfterMs };
  } finally {
    await group.stopAll();
    await rm(workDir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { rows, loadAverages } = await benchShippedWebSockets({ log: (line) => console.error(line) });
  console.log(proxyTable(rows));
  console.log(`load: ${loadAverages.join(' before, ')} after`);
}
