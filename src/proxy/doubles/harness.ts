/**
 * Starts a real notebook proxy on 127.0.0.1 (port 0) in front of the echo upstream, and gives tests
 * small clients: HTTP requests on fresh connections, raw bytes, and WebSockets.
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { WebSocket } from 'ws';
import { createNotebookProxy, type NotebookProxy } from '../notebook-proxy.js';
import type { ProxyOptions } from '../types.js';
import { type EchoUpstream, startEchoUpstream } from './echo-upstream.js';
import { SESSION_COOKIE, TableHooks } from './table-hooks.js';

/** Origins as browsers would see them; nothing is sent to them. */
export const NOTEBOOK_ORIGIN = 'https://notebooks.sifu.test';
export const HUB_ORIGIN = 'https://hub.sifu.test';
export const LMS_ORIGIN = 'https://lms.sifu.test';

export interface Setup {
  hooks: TableHooks;
  upstream: EchoUpstream;
  proxy: NotebookProxy;
  port: number;
  close(): Promise<void>;
}

/**
 * Sessions: `ada-session` (ada), `bob-session` (bob), `root-session` (admin `root`).
 * Routes: ada -> the echo upstream with secret `ada-secret`; bob has no running server.
 */
export async function setUp(overrides: Partial<ProxyOptions> = {}): Promise<Setup> {
  const upstream = await startEchoUpstream();
  const hooks = new TableHooks()
    .addSession('ada-session', { userName: 'ada', admin: false })
    .addSession('bob-session', { userName: 'bob', admin: false })
    .addSession('root-session', { userName: 'root', admin: true })
    .addRoute('ada', upstream.origin, 'ada-secret');
  const proxy = createNotebookProxy(hooks, {
    notebookOrigin: NOTEBOOK_ORIGIN,
    hubOrigin: HUB_ORIGIN,
    allowedOrigins: [LMS_ORIGIN],
    frameAncestors: ["'self'", LMS_ORIGIN],
    upstreamIdleTimeoutMs: 5_000,
    clientIdleTimeoutMs: 10_000,
    // SIFU_TEST_RAW_SERVER=off runs the proxy's suites against Node's server side alone.
    rawServer: process.env.SIFU_TEST_RAW_SERVER !== 'off',
    ...overrides,
  });
  await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
  const port = (proxy.server.address() as AddressInfo).port;
  return {
    hooks,
    upstream,
    proxy,
    port,
    close: async () => {
      await proxy.close();
      await upstream.close();
    },
  };
}

export function cookie(session: string): string {
  return `${SESSION_COOKIE}=${session}`;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestSpec {
  method?: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string | Readable;
}

/** One request on a fresh connection; resolves with the whole answer. */
export function send(port: number, spec: RequestSpec): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: spec.method ?? 'GET',
        path: spec.path,
        headers: spec.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const body = spec.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

export function json(answer: Answer): Record<string, unknown> {
  return JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
}

/** Writes raw bytes on a new connection and collects what comes back until the proxy closes it. */
export function sendRaw(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(bytes);
  });
}

export type WsOutcome = { open: WebSocket } | { refused: number; body: string } | { error: Error };

/** Opens a WebSocket through the proxy; resolves once it is open or refused. */
export function openWebSocket(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<WsOutcome> {
  const { origin, ...rest } = headers;
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers: rest, origin });
    ws.on('open', () => resolve({ open: ws }));
    ws.on('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ refused: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', (error) => resolve({ error }));
    });
    ws.on('error', (error) => resolve({ error }));
  });
}

/** Sends a message and waits for the echo. */
export function roundTrip(ws: WebSocket, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data) => resolve(data.toString()));
    ws.once('error', reject);
    ws.send(message);
  });
}
