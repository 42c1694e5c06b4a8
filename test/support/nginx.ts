/**
 * A load balancer in front of several Sifu replicas, standing in for a cloud one (an AWS ALB without
 * stickiness): Debian's nginx on 127.0.0.1, one port for the hub and one for notebooks, round robin over
 * the replicas, HTTP/1.1 keep-alive to them, WebSocket upgrades passed through, and a request that meets a
 * dead replica (refused, reset, timed out) tried on the next one. `scripts/install-deps.sh test` installs
 * nginx.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

const NGINX = '/usr/sbin/nginx';
const READY_TIMEOUT_MS = 10_000;
const DIR_PREFIX = 'sifu-lb-';
/** In the work directory: the pid of the test process that made it (gone: the directory is stale). */
const OWNER_FILE = 'owner.pid';

export interface LoadBalancer {
  /** `http://127.0.0.1:<hub port>` */
  hubUrl: string;
  /** `http://127.0.0.1:<notebook port>` */
  notebookUrl: string;
  /** nginx's error log and access log (`<upstream> <status> <method> <uri>` a line), for failure messages. */
  logs(): Promise<string>;
  /** Fast shutdown (SIGTERM, SIGKILL after 5 s), then the work directory is removed. Idempotent. */
  stop(): Promise<void>;
}

export interface LoadBalancerOptions {
  /** `address:port` of each replica's hub. */
  hub: string[];
  /** `address:port` of each replica's notebook port. */
  notebook: string[];
  /** Ports to listen on (default: free ones), e.g. when Sifu's public URLs had to be known first. */
  hubPort?: number;
  notebookPort?: number;
}

function upstream(name: string, servers: string[]): string {
  // One failure takes a replica out for 2 s, then nginx tries it again (a killed host stays refused).
  const lines = servers.map((server) => `    server ${server} max_fails=1 fail_timeout=2s;`);
  return [`  upstream ${name} {`, ...lines, '    keepalive 16;', '  }'].join('\n');
}

function server(port: number, upstreamName: string): string {
  return [
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    client_max_body_size 0;',
    // Request bodies are read whole (in memory up to 1 MiB) before forwarding, so that a request whose
    // replica dies mid-way can still be sent to the next one.
    '    client_body_buffer_size 1m;',
    '    location / {',
    `      proxy_pass http://${upstreamName};`,
    '      proxy_http_version 1.1;',
    '      proxy_set_header Host $http_host;',
    '      proxy_set_header Upgrade $http_upgrade;',
    '      proxy_set_header Connection $connection_upgrade;',
    '      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '      proxy_set_header X-Forwarded-Proto $scheme;',
    '      proxy_next_upstream error timeout;',
    '      proxy_next_upstream_tries 0;',
    '      proxy_connect_timeout 2s;',
    '      proxy_read_timeout 300s;',
    '      proxy_send_timeout 300s;',
    // Spawn progress is Server-Sent Events: pass them as they come.
    '      proxy_buffering off;',
    '    }',
    '  }',
  ].join('\n');
}

function config(dir: string, options: Required<LoadBalancerOptions>): string {
  return [
    'daemon off;',
    'worker_processes 1;',
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${join(dir, 'error.log')} warn;`,
    'events { worker_connections 1024; }',
    'http {',
    `  log_format lb '$upstream_addr $status $request_method $request_uri';`,
    `  access_log ${join(dir, 'access.log')} lb;`,
    `  client_body_temp_path ${join(dir, 'body')};`,
    `  proxy_temp_path ${join(dir, 'proxy')};`,
    `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
    `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
    `  scgi_temp_path ${join(dir, 'scgi')};`,
    // A keep-alive connection to a replica for plain requests, an upgraded one for WebSockets.
    "  map $http_upgrade $connection_upgrade { default upgrade; '' ''; }",
    upstream('sifu_hub', options.hub),
    upstream('sifu_notebook', options.notebook),
    server(options.hubPort, 'sifu_hub'),
    server(options.notebookPort, 'sifu_notebook'),
    '}',
    '',
  ].join('\n');
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Work directories of load balancers whose test process died without stopping them. */
async function removeStaleDirs(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number(await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => '0'));
    if (owner > 0 && isAlive(owner)) continue;
    // No owner yet: maybe one being made right now by another test process.
    if (owner === 0 && Date.now() - (await stat(dir).catch(() => ({ mtimeMs: 0 }))).mtimeMs < 60_000)
      continue;
    await rm(dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startLoadBalancer(options: LoadBalancerOptions): Promise<LoadBalancer> {
  await removeStaleDirs();
  const dir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  await writeFile(join(dir, OWNER_FILE), String(process.pid));
  // nginx's workers run as an unprivileged user: they must reach the temp paths the master makes here.
  await chmod(dir, 0o755);
  const full: Required<LoadBalancerOptions> = {
    ...options,
    hubPort: options.hubPort ?? (await freePort()),
    notebookPort: options.notebookPort ?? (await freePort()),
  };
  const file = join(dir, 'nginx.conf');
  await writeFile(file, config(dir, full));

  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-e', join(dir, 'error.log'), '-c', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk;
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  const logs = async () => {
    const read = (name: string) => readFile(join(dir, name), 'utf8').catch(() => '');
    return `${output}${await read('error.log')}\n--- access.log\n${await read('access.log')}`;
  };
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.off('exit', killOnExit);
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  const until = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const why = await logs();
      await stop();
      throw new Error(`nginx exited before listening:\n${why}`);
    }
    if ((await accepts(full.hubPort)) && (await accepts(full.notebookPort))) break;
    if (Date.now() > until) {
      const why = await logs();
      await stop();
      throw new Error(`nginx did not listen within ${READY_TIMEOUT_MS} ms:\n${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    hubUrl: `http://127.0.0.1:${full.hubPort}`,
    notebookUrl: `http://127.0.0.1:${full.notebookPort}`,
    logs,
    stop,
  };
}
