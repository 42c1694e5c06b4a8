/**
 * Proxy benchmark: Sifu as shipped (`make run`'s built process, default config, in front of a learner
 * server that is nginx answering a small body), beside the same kind of backend behind Sifu's proxy alone
 * (bench hooks), configurable-http-proxy and nginx, each proxy in its own process(es), loaded with wrk;
 * plus WebSocket round trips direct vs through Sifu's proxy vs through CHP. Results are ratios against the
 * anchors measured in the same run. Run alone: `node --import tsx bench/proxy.ts`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  fetchOnce,
  type RoundTrips,
  runWrk,
  type WrkResult,
  wrkCommand,
  wsRoundTrips,
} from './proxy-load.js';
import {
  BACKEND_BODY,
  BENCH_COOKIE_HEADERS,
  BENCH_ORIGIN,
  BENCH_WS_COOKIE,
  cpuSeconds,
  ProcessGroup,
  preemptions,
  REPO,
  type Service,
  startChp,
  startNginxBackend,
  startNginxProxy,
  startSifuProxy,
  startWsEchoBackend,
} from './proxy-processes.js';
import { startShippedSifu } from './proxy-shipped.js';
import { median } from './support/stats.js';

export interface Row {
  /** What was measured, e.g. `HTTP throughput`. */
  metric: string;
  /** `Sifu as shipped`, `CHP`, `nginx`, `direct`, ..., or a ratio such as `Sifu as shipped / CHP`. */
  system: string;
  value: number;
  unit: string;
  /** The goal for this row, e.g. `>= 3`, when there is one. */
  target?: string;
  met?: boolean;
  /** E.g. the value of each round, to show the spread behind a median. */
  note?: string;
}

export interface ProxyBenchOptions {
  /** Seconds of each measured wrk run (default 5), after a 1 s warm-up run. */
  seconds?: number;
  /** Rounds over the three proxies, in rotating order; medians are reported (default 5). */
  rounds?: number;
  /** wrk connections (default 50). */
  connections?: number;
  /** WebSocket round trips per system and round (default 3000, after 300 warm-up). */
  wsRoundTrips?: number;
  log?: (line: string) => void;
}

/**
 * `Sifu as shipped`: the built `sifu serve`, default config (`workers: auto`, one per core, as nginx's
 * `worker_processes auto`); `, 1 worker` is the same with `SIFU_WORKERS=1` (the default before issue 13).
 * `, writes at once` is the same with `SIFU_PROXY_BATCH_WRITES=false`: each response and request head is
 * written when it is ready instead of at the end of the loop turn (src/proxy/write-batch.ts).
 * `, Node's writes` is the same with `SIFU_PROXY_DIRECT_WRITES=false`: what the batch holds is written
 * through the sockets' Node streams instead of by one send(2) each (src/proxy/direct-write.ts).
 * `, raw server off` is the same with `SIFU_PROXY_RAW_SERVER=false`: Node's HTTP server takes every request
 * (what shipped before the raw server side, src/proxy/raw-server.ts).
 * `Sifu proxy only`: `createNotebookProxy` with bench hooks (bench/proxy-sifu-child.ts), the proxy's own
 * cost, one worker per core or one process.
 */
type Proxied =
  | 'Sifu as shipped'
  | 'Sifu as shipped, 1 worker'
  | 'Sifu as shipped, writes at once'
  | "Sifu as shipped, Node's writes"
  | 'Sifu as shipped, raw server off'
  | 'Sifu proxy only'
  | 'Sifu proxy only, 1 worker'
  | 'CHP'
  | 'nginx';
const order: Proxied[] = [
  'Sifu as shipped',
  'Sifu as shipped, 1 worker',
  'Sifu as shipped, writes at once',
  "Sifu as shipped, Node's writes",
  'Sifu as shipped, raw server off',
  'Sifu proxy only',
  'Sifu proxy only, 1 worker',
  'CHP',
  'nginx',
];
const WORKERS = os.availableParallelism();

export interface ProxyBench {
  rows: Row[];
  /** 1-minute load average before and after the run. */
  loadAverages: [number, number];
  /** nginx's CPU per request as a proxy (median, µs): what runs on different machines are compared by. */
  calibrationUs: number;
}

interface Measured extends WrkResult {
  /** CPU time (user + system) of the proxy's process(es) per request, in µs; NaN for the backend alone. */
  cpuUs: number;
  /** Involuntary context switches of the proxy's process(es) per request; NaN for the backend alone. */
  preemptions: number;
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));

function ratioRow(metric: string, system: string, value: number, target?: '>=' | '<=', goal?: number): Row {
  const row: Row = { metric, system, value: round(value, 2), unit: 'x' };
  if (target !== undefined && goal !== undefined) {
    row.target = `${target} ${goal}`;
    row.met = target === '>=' ? value >= goal : value <= goal;
    // 0.745 is not 0.75: a value that rounds onto its goal shows the digit that decides.
    if (row.value === goal) row.value = Number(value.toPrecision(4));
  }
  return row;
}

export async function benchProxy(options: ProxyBenchOptions = {}): Promise<ProxyBench> {
  const loadBefore = os.loadavg()[0] as number;
  const seconds = options.seconds ?? 5;
  const rounds = options.rounds ?? 5;
  const connections = options.connections ?? 50;
  const wsN = options.wsRoundTrips ?? 3000;
  const log = options.log ?? (() => {});
  const workDir = await mkdtemp(join(os.tmpdir(), 'sifu-bench-proxy-'));
  const group = new ProcessGroup();
  group.ownDirectory(workDir);
  try {
    const backend = await startNginxBackend(group, workDir);
    const wsBackend = await startWsEchoBackend(group);
    const services: Record<Proxied, Service> = {
      'Sifu as shipped': await startShippedSifu(group, join(workDir, 'shipped'), 'bench'),
      'Sifu as shipped, 1 worker': await startShippedSifu(group, join(workDir, 'shipped-1'), 'bench', 1),
      'Sifu as shipped, writes at once': await startShippedSifu(
        group,
        join(workDir, 'shipped-unbatched'),
        'bench',
        undefined,
        undefined,
        { SIFU_PROXY_BATCH_WRITES: 'false' },
      ),
      "Sifu as shipped, Node's writes": await startShippedSifu(
        group,
        join(workDir, 'shipped-node-writes'),
        'bench',
        undefined,
        undefined,
        { SIFU_PROXY_DIRECT_WRITES: 'false' },
      ),
      'Sifu as shipped, raw server off': await startShippedSifu(
        group,
        join(workDir, 'shipped-node'),
        'bench',
        undefined,
        undefined,
        { SIFU_PROXY_RAW_SERVER: 'false' },
      ),
      'Sifu proxy only': await startSifuProxy(group, backend, wsBackend, WORKERS),
      'Sifu proxy only, 1 worker': await startSifuProxy(group, backend, wsBackend, 1),
      CHP: await startChp(group, { '/user/bench': backend, '/user/benchws': wsBackend }),
      nginx: await startNginxProxy(group, workDir, backend),
    };
    const path = '/user/bench/';
    const headersOf = (service?: Service) => service?.headers ?? BENCH_COOKIE_HEADERS;
    const bases: [string, Service | undefined, string][] = [
      ['direct', undefined, backend],
      ...order.map((n): [string, Service, string] => [n, services[n], services[n].url]),
    ];
    for (const [name, service, base] of bases) {
      const answer = await fetchOnce(`${base}${path}`, headersOf(service));
      if (answer.status !== 200 || answer.body !== BACKEND_BODY) {
        throw new Error(
          `${name} answered ${answer.status} ${answer.body.slice(0, 200)}\n${service?.output?.() ?? ''}`,
        );
      }
    }

    const spec = (base: string, service?: Service) => ({
      url: `${base}${path}`,
      headers: Object.entries(headersOf(service)).map(([name, value]) => `${name}: ${value}`),
      connections,
    });
    /** One measured wrk run after a 1 s warm-up; with the CPU the proxy process used per request. */
    const load = async (base: string, service?: Service): Promise<Measured> => {
      await runWrk({ ...spec(base, service), seconds: 1 });
      const cpu = () => (service ? cpuSeconds(service.pid, service.notProxy) : 0);
      const switches = () => (service ? preemptions(service.pid, service.notProxy) : 0);
      const cpuBefore = cpu();
      const switchesBefore = switches();
      const result = await runWrk({ ...spec(base, service), seconds });
      const cpuUs = service ? ((cpu() - cpuBefore) / result.requests) * 1e6 : Number.NaN;
      const preempted = service ? (switches() - switchesBefore) / result.requests : Number.NaN;
      if (result.errors > 0) throw new Error(`${base}: ${result.errors} errors under load`);
      return { ...result, cpuUs, preemptions: preempted };
    };
    const direct = await load(backend);
    log(`direct: ${direct.requestsPerSec} req/s`);
    const http = Object.fromEntries(order.map((name) => [name, [] as Measured[]])) as Record<
      Proxied,
      Measured[]
    >;
    // An untimed round first: the first measured run used to pay for everyone's start-up.
    for (const name of order) await runWrk({ ...spec(services[name].url, services[name]), seconds: 2 });
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < order.length; i++) {
        const name = order[(i + r) % order.length] as Proxied;
        const result = await load(services[name].url, services[name]);
        http[name].push(result);
        log(
          `round ${r + 1} ${name}: ${result.requestsPerSec} req/s, p99 ${result.p99Ms} ms, ${result.cpuUs.toFixed(1)} µs CPU/req`,
        );
      }
    }

    const wsTargets: [string, string, string | undefined][] = [
      ['direct', `${wsBackend.replace('http:', 'ws:')}/`, undefined],
      [
        'Sifu proxy only',
        `${services['Sifu proxy only'].url.replace('http:', 'ws:')}/user/benchws/`,
        BENCH_ORIGIN,
      ],
      ['CHP', `${services.CHP.url.replace('http:', 'ws:')}/user/benchws/`, BENCH_ORIGIN],
    ];
    const ws: Record<string, RoundTrips[]> = { direct: [], 'Sifu proxy only': [], CHP: [] };
    for (const [, url, origin] of wsTargets)
      await wsRoundTrips(url, { cookie: BENCH_WS_COOKIE }, origin, 1000, 0);
    for (let r = 0; r < rounds; r++) {
      for (const [name, url, origin] of wsTargets) {
        const trips = await wsRoundTrips(url, { cookie: BENCH_WS_COOKIE }, origin, wsN, Math.ceil(wsN / 10));
        (ws[name] as RoundTrips[]).push(trips);
        log(`round ${r + 1} ws ${name}: mean ${trips.meanUs.toFixed(1)} us`);
      }
    }

    const rows: Row[] = [];
    const perRoundValues = (values: number[], digits: number) =>
      values.map((v) => v.toFixed(digits)).join(', ');
    const rps = (name: Proxied) => median(http[name].map((x) => x.requestsPerSec));
    const p50 = (name: Proxied) => median(http[name].map((x) => x.p50Ms));
    const p99 = (name: Proxied) => median(http[name].map((x) => x.p99Ms));
    rows.push({
      metric: 'HTTP throughput',
      system: 'direct',
      value: Math.round(direct.requestsPerSec),
      unit: 'req/s',
    });
    for (const name of order) {
      const note = perRoundValues(
        http[name].map((x) => x.requestsPerSec),
        0,
      );
      rows.push({
        metric: 'HTTP throughput',
        system: name,
        value: Math.round(rps(name)),
        unit: 'req/s',
        note,
      });
    }
    for (const name of order) {
      const note = perRoundValues(
        http[name].map((x) => x.p50Ms),
        2,
      );
      rows.push({ metric: 'HTTP latency p50', system: name, value: round(p50(name), 2), unit: 'ms', note });
    }
    for (const name of order) {
      const note = perRoundValues(
        http[name].map((x) => x.p99Ms),
        2,
      );
      rows.push({ metric: 'HTTP latency p99', system: name, value: round(p99(name), 2), unit: 'ms', note });
    }
    // A row of each system's median over the rounds, every round in its note.
    const medianRows = (metric: string, unit: string, digits: number, of: (m: Measured) => number) => {
      for (const name of order) {
        const values = http[name].map(of);
        rows.push({
          metric,
          system: name,
          value: round(median(values), digits),
          unit,
          note: perRoundValues(values, digits),
        });
      }
    };
    medianRows('proxy CPU per request', 'µs', 1, (x) => x.cpuUs);
    // What the CPU rows pay for sharing the cores with the load generator, the backend and each other.
    medianRows('involuntary context switches per request', 'switches', 3, (x) => x.preemptions);
    const perRound = (numerator: number[], denominator: number[], digits = 2) =>
      perRoundValues(
        numerator.map((n, i) => n / (denominator[i] as number)),
        digits,
      );
    const rpsOf = (name: Proxied) => http[name].map((x) => x.requestsPerSec);
    const p99Of = (name: Proxied) => http[name].map((x) => x.p99Ms);
    const cpu = (name: Proxied) => median(http[name].map((x) => x.cpuUs));
    const cpuOf = (name: Proxied) => http[name].map((x) => x.cpuUs);
    const shipped = 'Sifu as shipped';
    const proxyOnly = 'Sifu proxy only';
    const rawOff = 'Sifu as shipped, raw server off';
    const unbatched = 'Sifu as shipped, writes at once';
    const nodeWrites = "Sifu as shipped, Node's writes";
    // Issue 13's targets hold for what ships; the proxy-only rows show what the app adds to the proxy.
    const ratios: [
      string,
      Proxied,
      Proxied,
      (n: Proxied) => number[],
      '>=' | '<=' | undefined,
      number | undefined,
    ][] = [
      ['HTTP throughput', shipped, 'CHP', rpsOf, '>=', 5],
      ['HTTP throughput', shipped, 'nginx', rpsOf, '>=', 0.75],
      ['HTTP throughput', 'Sifu as shipped, 1 worker', 'nginx', rpsOf, undefined, undefined],
      ['HTTP throughput', shipped, unbatched, rpsOf, undefined, undefined],
      ['HTTP throughput', unbatched, 'nginx', rpsOf, undefined, undefined],
      ['HTTP throughput', shipped, nodeWrites, rpsOf, undefined, undefined],
      ['HTTP throughput', shipped, rawOff, rpsOf, undefined, undefined],
      ['HTTP throughput', rawOff, 'nginx', rpsOf, undefined, undefined],
      ['HTTP throughput', rawOff, 'CHP', rpsOf, undefined, undefined],
      ['HTTP throughput', proxyOnly, 'CHP', rpsOf, undefined, undefined],
      ['HTTP throughput', proxyOnly, 'nginx', rpsOf, undefined, undefined],
      ['HTTP throughput', 'Sifu proxy only, 1 worker', 'nginx', rpsOf, undefined, undefined],
      ['HTTP throughput', shipped, proxyOnly, rpsOf, undefined, undefined],
      ['HTTP latency p99', shipped, 'CHP', p99Of, '<=', 1],
      ['HTTP latency p99', proxyOnly, 'CHP', p99Of, undefined, undefined],
      ['HTTP latency p99', rawOff, 'CHP', p99Of, undefined, undefined],
      ['proxy CPU per request', shipped, 'nginx', cpuOf, '<=', 1.5],
      ['proxy CPU per request', shipped, 'CHP', cpuOf, undefined, undefined],
      ['proxy CPU per request', shipped, unbatched, cpuOf, undefined, undefined],
      ['proxy CPU per request', unbatched, 'nginx', cpuOf, undefined, undefined],
      ['proxy CPU per request', shipped, nodeWrites, cpuOf, undefined, undefined],
      ['proxy CPU per request', nodeWrites, 'nginx', cpuOf, undefined, undefined],
      ['proxy CPU per request', shipped, rawOff, cpuOf, undefined, undefined],
      ['proxy CPU per request', rawOff, 'nginx', cpuOf, undefined, undefined],
      ['proxy CPU per request', proxyOnly, 'nginx', cpuOf, undefined, undefined],
      ['proxy CPU per request', proxyOnly, 'CHP', cpuOf, undefined, undefined],
    ];
    // A ratio is the median of the rounds' ratios: each pairs two runs a few seconds apart, so a round
    // the whole machine was slower in does not tilt it, as a ratio of two medians from different rounds can.
    for (const [metric, a, b, perRoundOf, target, goal] of ratios) {
      const [top, bottom] = [perRoundOf(a), perRoundOf(b)];
      const paired = median(top.map((n, i) => n / (bottom[i] as number)));
      rows.push({
        ...ratioRow(metric, `${a} / ${b}`, paired, target, goal),
        note: perRound(top, bottom),
      });
    }
    const wsMean = (name: string) => median((ws[name] as RoundTrips[]).map((x) => x.meanUs));
    const wsP99 = (name: string) => median((ws[name] as RoundTrips[]).map((x) => x.p99Us));
    for (const name of ['direct', 'Sifu proxy only', 'CHP']) {
      const trips = ws[name] as RoundTrips[];
      const meanNote = perRoundValues(
        trips.map((x) => x.meanUs),
        1,
      );
      const p99Note = perRoundValues(
        trips.map((x) => x.p99Us),
        1,
      );
      rows.push({
        metric: 'WebSocket round trip mean',
        system: name,
        value: round(wsMean(name), 1),
        unit: 'µs',
        note: meanNote,
      });
      rows.push({
        metric: 'WebSocket round trip p99',
        system: name,
        value: round(wsP99(name), 1),
        unit: 'µs',
        note: p99Note,
      });
    }
    // No target was set for WebSockets: reported for comparison.
    rows.push(
      ratioRow(
        'WebSocket round trip mean',
        'Sifu proxy only / direct',
        wsMean('Sifu proxy only') / wsMean('direct'),
      ),
    );
    rows.push(ratioRow('WebSocket round trip mean', 'CHP / direct', wsMean('CHP') / wsMean('direct')));
    rows.push(
      ratioRow(
        'WebSocket round trip mean',
        'Sifu proxy only / CHP',
        wsMean('Sifu proxy only') / wsMean('CHP'),
      ),
    );
    rows.push(
      ratioRow('WebSocket round trip p99', 'Sifu proxy only / CHP', wsP99('Sifu proxy only') / wsP99('CHP')),
    );
    rows.push(
      ratioRow(
        'WebSocket latency added by the proxy',
        'Sifu proxy only / CHP',
        (wsMean('Sifu proxy only') - wsMean('direct')) / (wsMean('CHP') - wsMean('direct')),
      ),
    );
    return { rows, loadAverages: [loadBefore, os.loadavg()[0] as number], calibrationUs: cpu('nginx') };
  } finally {
    await group.stopAll();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The command that reproduces the HTTP part by hand, for the results page. */
export function proxyBenchCommands(options: ProxyBenchOptions = {}): string {
  return wrkCommand({
    url: 'http://127.0.0.1:<port>/user/bench/',
    headers: Object.entries(BENCH_COOKIE_HEADERS).map(([name, value]) => `${name}: ${value}`),
    connections: options.connections ?? 50,
    seconds: options.seconds ?? 5,
  })
    .map((arg) => (/[\s:;]/.test(arg) ? `'${arg}'` : arg))
    .join(' ');
}

/** The first line a tool prints about its version (nginx says it on stderr, wrk exits 1). */
function version(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trim().split('\n')[0] ?? '?';
}

/** The CPU as /proc/cpuinfo names it (the model name alone can be as vague as `AMD EPYC`). */
export function cpuModel(): string {
  const info = readFileSync('/proc/cpuinfo', 'utf8').split('\n\n')[0] ?? '';
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '?';
  return `${field('model name')} (${field('vendor_id')} family ${field('cpu family')} model ${field('model')} stepping ${field('stepping')}, ${Math.round(Number(field('cpu MHz')))} MHz, ${field('cache size')} cache)`;
}

/** The machine and the versions of everything measured. */
export function proxyBenchMachine(): string {
  const cpus = os.cpus();
  const chp = JSON.parse(
    readFileSync(join(REPO, 'node_modules/configurable-http-proxy/package.json'), 'utf8'),
  ) as {
    version: string;
  };
  const nginx = version('/usr/sbin/nginx', ['-v']).replace('nginx version: ', '');
  const wrk = version('/usr/bin/wrk', ['--version']).split(' [')[0] ?? '';
  return [
    `${cpus.length} × ${cpuModel()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}`,
    `Node ${process.version}; configurable-http-proxy ${chp.version}; ${nginx}; ${wrk}`,
  ].join('\n');
}

/** A Markdown table of the rows, columns aligned as Biome formats Markdown. */
export function proxyTable(rows: Row[]): string {
  const header = ['metric', 'system', 'value', 'target', 'met', 'spread'];
  const right = [false, false, true, false, false, false];
  const body = rows.map((row) => [
    row.metric,
    row.system,
    `${row.value} ${row.unit}`,
    row.target ?? '',
    row.met === undefined ? '' : row.met ? 'yes' : '**no**',
    row.note ?? '',
  ]);
  const widths = header.map((title, i) =>
    Math.max(3, title.length, ...body.map((cells) => (cells[i] as string).length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (right[i] ? cell.padStart(widths[i] as number) : cell.padEnd(widths[i] as number))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { rows } = await benchProxy({ log: (line) => console.error(line) });
  console.log(proxyTable(rows));
}
