/**
 * Sifu's notebook proxy for the benchmark, in its own process, built by the real
 * `createNotebookProxy` with hooks that admit one fixed session cookie (as a session cache would:
 * a Map lookup). Routes: `bench` -> the HTTP backend, `benchws` -> the WebSocket backend.
 * Usage: `node --import tsx bench/proxy-sifu-child.ts <httpBackend> <wsBackend> [workers]`; prints
 * `listening on <port>`. With workers > 1 it runs as `sifu serve --workers` does: node:cluster workers sharing
 * the port.
 */
import cluster from 'node:cluster';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNotebookProxy } from '../src/proxy/notebook-proxy.js';
import type { ProxyHooks, Visitor } from '../src/proxy/types.js';
import type { Route } from '../src/routes.js';
import { BENCH_ORIGIN } from './proxy-processes.js';

const [httpBackend, wsBackend, workersArg] = process.argv.slice(2);
const workers = Number(workersArg ?? '1');
if (httpBackend === undefined || wsBackend === undefined)
  throw new Error('usage: proxy-sifu-child <http> <ws>');

const sessions = new Map<string, Visitor>([
  ['bench-http', { userName: 'bench', admin: false }],
  ['bench-ws', { userName: 'benchws', admin: false }],
]);
const routes = new Map<string, Route>([
  ['bench', { userName: 'bench', serverName: '', target: httpBackend, secret: 'bench-secret' }],
  ['benchws', { userName: 'benchws', serverName: '', target: wsBackend, secret: 'bench-secret' }],
]);

const hooks: ProxyHooks = {
  route: (userName) => routes.get(userName),
  visitor(req: IncomingMessage) {
    const match = /(?:^|;\s*)sifu-session=([^;]*)/.exec(req.headers.cookie ?? '');
    return (match && sessions.get(match[1] as string)) || null;
  },
  completeHandoff: async () => null,
  activity: () => {},
};

if (workers > 1 && cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('message', (message: { port?: number }) => {
      ready += 1;
      if (ready === workers) process.stdout.write(`listening on ${message.port}\n`);
    });
  }
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else {
  startProxy();
}

function startProxy(): void {
  const proxy = createNotebookProxy(hooks, {
    notebookOrigin: BENCH_ORIGIN,
    hubOrigin: 'http://hub.bench',
    allowedOrigins: [],
    frameAncestors: ["'self'"],
    upstreamIdleTimeoutMs: 60_000,
    clientIdleTimeoutMs: 300_000,
    rawServer: process.env.SIFU_PROXY_RAW_SERVER !== 'false',
  });
  // In a cluster, every worker's listen(0) gets the same port.
  proxy.server.listen(0, '127.0.0.1', () => {
    const port = (proxy.server.address() as AddressInfo).port;
    if (cluster.isWorker) process.send?.({ port });
    else process.stdout.write(`listening on ${port}\n`);
  });
  process.on('SIGTERM', () => {
    void proxy.close().then(() => process.exit(0));
  });
}
