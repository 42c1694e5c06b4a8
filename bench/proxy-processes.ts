/**
 * The processes of the proxy benchmark: an nginx backend, a WebSocket echo backend, and the proxies
 * under test (Sifu, configurable-http-proxy, nginx), each in its own process on 127.0.0.1 with ports
 * from the OS. Everything started here is registered in a {@link ProcessGroup} and stopped by it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { freePort } from '../test/support/free-port.js';

export const REPO = resolve(import.meta.dirname, '..');
const CHP = join(REPO, 'node_modules', '.bin', 'configurable-http-proxy');
const NGINX = '/usr/sbin/nginx';

/** A proxy under test: where it listens, and the process whose CPU time is its cost. */
export interface Service {
  url: string;
  /** The process (with its children: nginx's workers) that does the proxying. */
  pid: number;
  /** What each benchmark request carries (default: the bench session's cookie). */
  headers?: Record<string, string>;
  /** Descendants of `pid` that are not the proxy, by command name: their CPU is not the proxy's. */
  notProxy?: string[];
  /** What the proxy printed lately, for error messages. */
  output?: () => string;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

interface ProcStat {
  ppid: number;
  ticks: number;
  command: string;
}

/** `/proc/<pid>/stat` of every process: parent, CPU ticks (user + system), command name. */
function procStats(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command (which is in parentheses and may contain spaces): state is index 0.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), {
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
        command: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
      });
    } catch {
      // The process ended meanwhile.
    }
  }
  return stats;
}

/**
 * `root` and all its descendants, but for the processes named in `skip` and theirs (a shipped Sifu's
 * learner servers are children of a worker): the processes that are the proxy.
 */
export function proxyProcesses(root: number, skip: readonly string[] = [], stats = procStats()): number[] {
  const found: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const pid = frontier.pop() as number;
    if (stats.has(pid)) found.push(pid);
    for (const [child, stat] of stats)
      if (stat.ppid === pid && !skip.includes(stat.command)) frontier.push(child);
  }
  return found;
}

/** CPU seconds (user + system) used so far by the {@link proxyProcesses} of `root`, from /proc. */
export function cpuSeconds(root: number, skip: readonly string[] = []): number {
  const stats = procStats();
  let ticks = 0;
  for (const pid of proxyProcesses(root, skip, stats)) ticks += stats.get(pid)?.ticks ?? 0;
  return ticks / CLOCK_TICKS;
}

/**
 * The sum of `read(text)` over a /proc file (`/proc/<pid>/task/<tid>/<file>`) of every thread of the
 * {@link proxyProcesses} of `root`. Threads that ended meanwhile are not counted.
 */
function sumOverThreads(root: number, skip: readonly string[], file: string, read: (text: string) => number) {
  let sum = 0;
  for (const pid of proxyProcesses(root, skip)) {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // Ended meanwhile.
    }
    for (const tid of tasks) {
      try {
        sum += read(readFileSync(`/proc/${pid}/task/${tid}/${file}`, 'utf8'));
      } catch {
        // Ended meanwhile.
      }
    }
  }
  return sum;
}

/**
 * Involuntary context switches so far of every thread of the {@link proxyProcesses} of `root`
 * (`nonvoluntary_ctxt_switches` in their status): how often the proxy was taken off a core while it
 * still had work, by the scheduler giving the core to another process.
 */
export const preemptions = (root: number, skip: readonly string[] = []): number =>
  sumOverThreads(root, skip, 'status', (status) =>
    Number(/^nonvoluntary_ctxt_switches:\s*(\d+)/m.exec(status)?.[1] ?? 0),
  );

/**
 * CPU time (ns) used so far by every thread of the {@link proxyProcesses} of `root`, from their
 * schedstat: fine enough for the few milliseconds a round of WebSocket messages costs, where /proc's
 * clock ticks (10 ms) are not.
 */
export const cpuNanoseconds = (root: number, skip: readonly string[] = []): number =>
  sumOverThreads(root, skip, 'schedstat', (schedstat) => Number(schedstat.split(' ')[0]));

/** Children that must not outlive the benchmark, even when it fails. */
export class ProcessGroup {
  private readonly children: ChildProcess[] = [];
  private readonly output = new Map<ChildProcess, string>();
  private readonly dirs: string[] = [];
  private readonly cleanups: (() => Promise<void>)[] = [];

  constructor() {
    // Last resort if the benchmark dies or is interrupted: SIGTERM (not SIGKILL) so that nginx's
    // master takes its workers down with it.
    const killAll = () => {
      for (const child of this.children) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      }
      for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', killAll);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        killAll();
        process.exit(130);
      });
    }
  }

  /** A directory to remove if the benchmark is interrupted (the normal path removes it itself). */
  ownDirectory(dir: string): void {
    this.dirs.push(dir);
  }

  start(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    this.output.set(child, '');
    const keep = (chunk: Buffer) => {
      this.output.set(child, ((this.output.get(child) ?? '') + chunk.toString()).slice(-8192));
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return child;
  }

  /** What a child printed (last 8 KiB), for error messages. */
  printed(child: ChildProcess): string {
    return this.output.get(child) ?? '';
  }

  /** Resolves with the first stdout line of `child` matching `pattern` (or fails if it exits first). */
  waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return new Promise((done, fail) => {
      let buffered = '';
      const timer = setTimeout(() => finish(new Error(`timed out waiting for ${pattern}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString();
        const match = pattern.exec(buffered);
        if (match) finish(undefined, match);
      };
      const onExit = () => finish(new Error(`exited before printing ${pattern}: ${this.printed(child)}`));
      function finish(error?: Error, match?: RegExpMatchArray) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        if (match) done(match);
        else fail(error);
      }
      child.stdout?.on('data', onData);
      child.once('exit', onExit);
    });
  }

  /** Work `stopAll` does before it stops any child (e.g. stopping what a child started through its API). */
  beforeStop(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  async stopAll(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0)) await cleanup();
    await Promise.all(
      this.children.splice(0).map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            const force = setTimeout(() => child.kill('SIGKILL'), 3_000);
            child.once('exit', () => {
              clearTimeout(force);
              done();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}

/** GETs `url` until it answers (any status), for servers that print nothing when ready. */
export async function waitForHttp(url: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const req = http.get(url, { agent: false }, (res) => {
        res.resume();
        done(true);
      });
      req.on('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function nginxConfig(dir: string, workers: string, servers: string): string {
  return [
    'daemon off;',
    `worker_processes ${workers};`,
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${join(dir, 'body')};`,
    `  proxy_temp_path ${join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${join(dir, 'scgi')};`,
    servers,
    '}',
    '',
  ].join('\n');
}

async function startNginx(group: ProcessGroup, dir: string, config: string, port: number): Promise<number> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'nginx.conf');
  await writeFile(file, config);
  const master = group.start(NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', file]);
  await waitForHttp(`http://127.0.0.1:${port}/`);
  return master.pid as number;
}

/** The notebook origin Sifu's bench proxy believes in (only ever sent as an Origin header). */
export const BENCH_ORIGIN = 'http://sifu.bench';
/** Sessions the bench proxy admits: one owns the HTTP route `bench`, the other the WebSocket route `benchws`. */
export const BENCH_COOKIE = 'sifu-session=bench-http';
/** The bench session as request headers (names as wrk must get them: it adds its own `Host` unless given `Host`). */
export const BENCH_COOKIE_HEADERS: Record<string, string> = { Cookie: BENCH_COOKIE };
export const BENCH_WS_COOKIE = 'sifu-session=bench-ws';

export const BACKEND_BODY = 'hello from the backend';

/** The HTTP backend: nginx answering a small body itself (one worker: it is never the bottleneck). */
export async function startNginxBackend(group: ProcessGroup, workDir: string): Promise<string> {
  const port = await freePort();
  const server = `  server { listen 127.0.0.1:${port}; keepalive_requests 1000000; location / { default_type text/plain; return 200 '${BACKEND_BODY}'; } }`;
  await startNginx(
    group,
    join(workDir, 'nginx-backend'),
    nginxConfig(join(workDir, 'nginx-backend'), '1', server),
    port,
  );
  return `http://127.0.0.1:${port}`;
}

/** nginx as a reverse proxy with upstream keep-alive, as Debian ships it, all workers. */
export async function startNginxProxy(
  group: ProcessGroup,
  workDir: string,
  backend: string,
): Promise<Service> {
  const port = await freePort();
  const dir = join(workDir, 'nginx-proxy');
  const servers = [
    `  upstream notebook { server ${new URL(backend).host}; keepalive 64; }`,
    `  server {`,
    `    listen 127.0.0.1:${port};`,
    '    keepalive_requests 1000000;',
    '    location /user/ {',
    '      proxy_pass http://notebook;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '      proxy_set_header Host $host;',
    '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '    }',
    '  }',
  ].join('\n');
  const pid = await startNginx(group, dir, nginxConfig(dir, 'auto', servers), port);
  return { url: `http://127.0.0.1:${port}`, pid };
}

/** A Node child running one of the bench's TypeScript entry points; resolves with the port it prints. */
async function startNodeChild(group: ProcessGroup, script: string, args: string[]): Promise<Service> {
  const child = group.start(process.execPath, ['--import', 'tsx', join(REPO, 'bench', script), ...args]);
  const match = await group.waitForLine(child, /listening on (\d+)/);
  return { url: `http://127.0.0.1:${match[1]}`, pid: child.pid as number };
}

export async function startWsEchoBackend(group: ProcessGroup): Promise<string> {
  return (await startNodeChild(group, 'proxy-ws-echo-child.ts', [])).url;
}

/** Sifu's proxy (the real createNotebookProxy) in its own process(es); see proxy-sifu-child.ts. */
export function startSifuProxy(
  group: ProcessGroup,
  httpBackend: string,
  wsBackend: string,
  workers = 1,
): Promise<Service> {
  return startNodeChild(group, 'proxy-sifu-child.ts', [httpBackend, wsBackend, String(workers)]);
}

/** configurable-http-proxy from node_modules as shipped; routes added through its REST API. */
export async function startChp(group: ProcessGroup, routes: Record<string, string>): Promise<Service> {
  const [port, apiPort] = [await freePort(), await freePort()];
  const token = `bench-${process.pid}-${Date.now()}`;
  const env = { ...process.env, CONFIGPROXY_AUTH_TOKEN: token };
  const args = [
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--api-ip',
    '127.0.0.1',
    '--api-port',
    String(apiPort),
  ];
  const chp = group.start(CHP, args, env);
  await waitForHttp(`http://127.0.0.1:${apiPort}/api/routes`);
  for (const [prefix, target] of Object.entries(routes)) {
    const status = await new Promise<number>((done, fail) => {
      const req = http.request(
        `http://127.0.0.1:${apiPort}/api/routes${prefix}`,
        { method: 'POST', headers: { authorization: `token ${token}` }, agent: false },
        (res) => {
          res.resume();
          done(res.statusCode ?? 0);
        },
      );
      req.on('error', fail);
      req.end(JSON.stringify({ target }));
    });
    if (status !== 201) throw new Error(`CHP refused route ${prefix}: ${status}`);
  }
  return { url: `http://127.0.0.1:${port}`, pid: chp.pid as number };
}
