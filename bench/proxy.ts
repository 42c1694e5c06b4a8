/**
 * Proxy benchmark: one fast backend (nginx answering a small body) behind Sifu's proxy, behind
 * configurable-http-proxy and behind nginx, each proxy in its own process, loaded with wrk; plus
 * WebSocket round trips direct vs through Sifu vs through CHP. Results are ratios against the
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
  BENCH_COOKIE,
  BENCH_ORIGIN,
  BENCH_WS_COOKIE,
  cpuSeconds,
  ProcessGroup,
  REPO,
  type Service,
  startChp,
  startNginxBackend,
  startNginxProxy,
  startSifuProxy,
  startWsEchoBackend,
} from './proxy-processes.js';
import { median } from './support/stats.js';

export interface Row {
  /** What was measured, e.g. `HTTP throughput`. */
  metric: string;
  /** `Sifu`, `CHP`, `nginx`, `direct`, or a ratio such as `Sifu / CHP`. */
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
 * `Sifu` runs as `sifu serve --workers <cores>` does (one worker per core, as nginx's `worker_processes
 * auto`); `Sifu 1 worker` is the default single process, measured beside it.
 */
type Proxied = 'Sifu' | 'Sifu 1 worker' | 'CHP' | 'nginx';
const order: Proxied[] = ['Sifu', 'Sifu 1 worker', 'CHP', 'nginx'];
const WORKERS = os.availableParallelism();

interface Measured extends WrkResult {
  /** CPU time (user + system) of the proxy's process(es) per request, in µs; NaN for the backend alone. */
  cpuUs: number;
}

const round = (value: number, digits: number): number => Number(value.toFixed(digits));

function ratioRow(metric: string, system: string, value: number, target?: '>=' | '<=', goal?: number): Row {
  const row: Row = { metric, system, value: round(value, 2), unit: 'x' };
  if (target !== undefined && goal !== undefined) {
    row.target = `${target} ${goal}`;
    row.met = target === '>=' ? value >= goal : value <= goal;
  }
  return row;
}

export async function benchProxy(options: ProxyBenchOptions = {}): Promise<Row[]> {
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
      Sifu: await startSifuProxy(group, backend, wsBackend, WORKERS),
      'Sifu 1 worker': await startSifuProxy(group, backend, wsBackend, 1),
      CHP: await startChp(group, { '/user/bench': backend, '/user/benchws': wsBackend }),
      nginx: await startNginxProxy(group, workDir, backend),
    };
    const path = '/user/bench/';
    const bases: [string, string][] = [
      ['direct', backend],
      ...order.map((n): [string, string] => [n, services[n].url]),
    ];
    for (const [name, base] of bases) {
      const answer = await fetchOnce(`${base}${path}`, { cookie: BENCH_COOKIE });
      if (answer.status !== 200 || answer.body !== BACKEND_BODY) {
        throw new Error(`${name} answered ${answer.status} ${answer.body.slice(0, 200)}`);
      }
    }

    /** One measured wrk run after a 1 s warm-up; with the CPU the proxy process used per request. */
    const load = async (base: string, pid?: number): Promise<Measured> => {
      const spec = { url: `${base}${path}`, headers: [`Cookie: ${BENCH_COOKIE}`], connections };
      await runWrk({ ...spec, seconds: 1 });
      const cpuBefore = pid === undefined ? 0 : cpuSeconds(pid);
      const result = await runWrk({ ...spec, seconds });
      const cpuUs = pid === undefined ? Number.NaN : ((cpuSeconds(pid) - cpuBefore) / result.requests) * 1e6;
      if (result.errors > 0) throw new Error(`${base}: ${result.errors} errors under load`);
      return { ...result, cpuUs };
    };
    const direct = await load(backend);
    log(`direct: ${direct.requestsPerSec} req/s`);
    const http: Record<Proxied, Measured[]> = { Sifu: [], 'Sifu 1 worker': [], CHP: [], nginx: [] };
    // An untimed round first: the first measured run used to pay for everyone's start-up.
    for (const name of order) {
      await runWrk({
        url: `${services[name].url}${path}`,
        headers: [`Cookie: ${BENCH_COOKIE}`],
        connections,
        seconds: 2,
      });
    }
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < order.length; i++) {
        const name = order[(i + r) % order.length] as Proxied;
        const result = await load(services[name].url, services[name].pid);
        http[name].push(result);
        log(
          `round ${r + 1} ${name}: ${result.requestsPerSec} req/s, p99 ${result.p99Ms} ms, ${result.cpuUs.toFixed(1)} µs CPU/req`,
        );
      }
    }

    const wsTargets: [string, string, string | undefined][] = [
      ['direct', `${wsBackend.replace('http:', 'ws:')}/`, undefined],
      ['Sifu', `${services.Sifu.url.replace('http:', 'ws:')}/user/benchws/`, BENCH_ORIGIN],
      ['CHP', `${services.CHP.url.replace('http:', 'ws:')}/user/benchws/`, BENCH_ORIGIN],
    ];
    const ws: Record<string, RoundTrips[]> = { direct: [], Sifu: [], CHP: [] };
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
    for (const name of order) {
      const values = http[name].map((x) => x.cpuUs);
      rows.push({
        metric: 'proxy CPU per request',
        system: name,
        value: round(median(values), 1),
        unit: 'µs',
        note: perRoundValues(values, 1),
      });
    }
    const perRound = (numerator: number[], denominator: number[], digits = 2) =>
      perRoundValues(
        numerator.map((n, i) => n / (denominator[i] as number)),
        digits,
      );
    const rpsOf = (name: Proxied) => http[name].map((x) => x.requestsPerSec);
    const p99Of = (name: Proxied) => http[name].map((x) => x.p99Ms);
    rows.push({
      ...ratioRow('HTTP throughput', 'Sifu / CHP', rps('Sifu') / rps('CHP'), '>=', 3),
      note: perRound(rpsOf('Sifu'), rpsOf('CHP')),
    });
    rows.push({
      ...ratioRow('HTTP throughput', 'Sifu / nginx', rps('Sifu') / rps('nginx'), '>=', 0.5),
      note: perRound(rpsOf('Sifu'), rpsOf('nginx')),
    });
    rows.push({
      ...ratioRow('HTTP throughput', 'Sifu 1 worker / nginx', rps('Sifu 1 worker') / rps('nginx')),
      note: perRound(rpsOf('Sifu 1 worker'), rpsOf('nginx')),
    });
    rows.push({
      ...ratioRow('HTTP latency p99', 'Sifu / CHP', p99('Sifu') / p99('CHP'), '<=', 1),
      note: perRound(p99Of('Sifu'), p99Of('CHP')),
    });
    const cpu = (name: Proxied) => median(http[name].map((x) => x.cpuUs));
    rows.push(ratioRow('proxy CPU per request', 'Sifu / CHP', cpu('Sifu') / cpu('CHP')));
    rows.push(ratioRow('proxy CPU per request', 'Sifu / nginx', cpu('Sifu') / cpu('nginx')));
    const wsMean = (name: string) => median((ws[name] as RoundTrips[]).map((x) => x.meanUs));
    const wsP99 = (name: string) => median((ws[name] as RoundTrips[]).map((x) => x.p99Us));
    for (const name of ['direct', 'Sifu', 'CHP']) {
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
    rows.push(ratioRow('WebSocket round trip mean', 'Sifu / direct', wsMean('Sifu') / wsMean('direct')));
    rows.push(ratioRow('WebSocket round trip mean', 'CHP / direct', wsMean('CHP') / wsMean('direct')));
    rows.push(ratioRow('WebSocket round trip mean', 'Sifu / CHP', wsMean('Sifu') / wsMean('CHP')));
    rows.push(ratioRow('WebSocket round trip p99', 'Sifu / CHP', wsP99('Sifu') / wsP99('CHP')));
    rows.push(
      ratioRow(
        'WebSocket latency added by the proxy',
        'Sifu / CHP',
        (wsMean('Sifu') - wsMean('direct')) / (wsMean('CHP') - wsMean('direct')),
      ),
    );
    return rows;
  } finally {
    await group.stopAll();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The command that reproduces the HTTP part by hand, for the results page. */
export function proxyBenchCommands(options: ProxyBenchOptions = {}): string {
  return wrkCommand({
    url: 'http://127.0.0.1:<port>/user/bench/',
    headers: [`Cookie: ${BENCH_COOKIE}`],
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
    `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}`,
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
  const rows = await benchProxy({ log: (line) => console.error(line) });
  console.log(proxyTable(rows));
}
