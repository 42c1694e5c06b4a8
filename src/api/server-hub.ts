import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { hashSecret } from '../auth/secrets.js';
import { errorBody, isSifuError, SifuError } from '../errors.js';
import type { HubChannel } from '../lifecycle/start-server.js';
import { HUB_SOCKET_NAME } from '../spawner/server-socket.js';
import type { ServerRecord } from '../store/store.js';
import type { HubContext } from '../web/context.js';
import { type Endpoint, registerServerHubRoutes, serverHubEnv } from './singleuser.js';

/**
 * Each server's own hub endpoint: a unix socket in a directory of its own (`<runDir>/hub-<hash>/hub.sock`,
 * the directory root-owned 0711, the socket connectable by the server's uid), which the backend binds
 * into the server's sandbox read-only. Every connection on it is known to come from that server's
 * sandbox (no one else has the path), and every request must still carry that server's token; what it
 * answers is in `singleuser.ts` (`registerServerHubRoutes`): the server's user, its activity, the OAuth
 * code exchange, and nothing else. One HTTP application serves all endpoints; each socket's
 * connections are handed to it tagged with their endpoint.
 *
 * Endpoints follow the servers: opened before a start (the server calls its hub before it serves),
 * closed when the start fails or, by a sweep, once the server's row is gone or holds another start's
 * secret; the sweep also listens again for the servers of this host after a restart (their directory is
 * still bound in their sandbox, so a new socket in it reaches them). With several workers on one host,
 * one listens per socket and the others find it answering.
 */
export interface ServerHub extends HubChannel {
  /** Starts the sweep. */
  start(): void;
  /** Stops listening everywhere (Sifu is stopping); the directories stay for the next Sifu. */
  shutdown(): Promise<void>;
}

export interface ServerHubOptions {
  /** `<dataDir>/run`: the servers' socket directories are here too. */
  runDir: string;
  /** Late-bound: the context holds the server manager, which holds this channel. */
  context: () => HubContext;
  log: Logger;
  sweepIntervalMs?: number;
}

/** `sun_path` holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
/** A server's connections to its hub at once (JupyterHub's client makes a handful). */
const MAX_CONNECTIONS_PER_ENDPOINT = 32;

interface Listening extends Endpoint {
  dir: string;
  path: string;
  /** Undefined while another worker of this host answers on the socket. */
  server?: net.Server;
  /** Its open connections, ended with it (keep-alive ones would hold a close for their timeout). */
  connections: Set<net.Socket>;
}

export const hubDirOf = (runDir: string, secret: string): string =>
  join(runDir, `hub-${hashSecret(secret).slice(0, 20)}`);

export async function createServerHub(options: ServerHubOptions): Promise<ServerHub> {
  const { runDir, log } = options;
  const endpoints = new Map<string, Listening>();
  const bySocket = new WeakMap<net.Socket, Listening>();
  const keyOf = (record: { userName: string; name: string; secret: string }) =>
    `${record.userName}/${record.name}/${hashSecret(record.secret)}`;

  const app = Fastify({
    loggerInstance: log.child({ component: 'server-hub' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    serverFactory: (handler) =>
      http.createServer(
        { headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 30_000 },
        handler,
      ),
  }) as unknown as FastifyInstance;
  await app.register(formbody);
  app.setErrorHandler((err, req, reply) => {
    let error: SifuError;
    if (isSifuError(err)) error = err;
    else if ((err as { statusCode?: number }).statusCode === 413)
      error = new SifuError('SIFU_ERR_PAYLOAD_TOO_LARGE', 'the request body is too large');
    else if ((err as { statusCode?: number }).statusCode && (err as { statusCode: number }).statusCode < 500)
      error = new SifuError('SIFU_ERR_BAD_REQUEST', 'the request is malformed');
    else {
      req.log.error({ err }, 'unexpected error');
      error = new SifuError('SIFU_ERR_INTERNAL', 'an unexpected error happened; it has been logged');
    }
    reply.code(error.status).send(errorBody(error));
  });
  registerServerHubRoutes(app, options.context, (req) => {
    const endpoint = bySocket.get(req.raw.socket);
    if (!endpoint) throw new SifuError('SIFU_ERR_NOT_FOUND', 'not found');
    return endpoint;
  });
  await app.ready();

  async function listen(endpoint: Listening): Promise<void> {
    const server = net.createServer({ pauseOnConnect: false });
    server.maxConnections = MAX_CONNECTIONS_PER_ENDPOINT;
    server.on('connection', (socket) => {
      bySocket.set(socket, endpoint);
      endpoint.connections.add(socket);
      socket.once('close', () => endpoint.connections.delete(socket));
      app.server.emit('connection', socket);
    });
    const attempt = () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ path: endpoint.path, exclusive: true, readableAll: true, writableAll: true }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    try {
      await attempt();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      // Another worker of this host answers there, or a Sifu before this one left the socket file.
      if (await answers(endpoint.path)) return;
      await rm(endpoint.path, { force: true });
      await attempt();
    }
    // The socket's mode follows the umask on some kernels' checks: make sure the server's uid can connect.
    await chmod(endpoint.path, 0o666).catch(() => {});
    endpoint.server = server;
  }

  async function openEndpoint(record: ServerRecord, makeDir: boolean): Promise<Listening> {
    const key = keyOf(record);
    const existing = endpoints.get(key);
    if (existing) return existing;
    const dir = hubDirOf(runDir, record.secret);
    const path = join(dir, HUB_SOCKET_NAME);
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
      throw new SifuError('SIFU_ERR_CONFIG', `The hub socket path ${path} is too long for a unix socket.`);
    }
    if (makeDir) {
      await mkdir(runDir, { recursive: true, mode: 0o711 });
      await mkdir(dir, { recursive: true, mode: 0o711 });
      await chmod(dir, 0o711);
    }
    const endpoint: Listening = {
      userName: record.userName,
      serverName: record.name,
      secret: record.secret,
      dir,
      path,
      connections: new Set(),
    };
    await listen(endpoint);
    endpoints.set(key, endpoint);
    return endpoint;
  }

  async function closeEndpoint(key: string, removeDir: boolean): Promise<void> {
    const endpoint = endpoints.get(key);
    if (!endpoint) return;
    endpoints.delete(key);
    await new Promise<void>((resolve) =>
      endpoint.server ? endpoint.server.close(() => resolve()) : resolve(),
    );
    if (removeDir) await rm(endpoint.dir, { recursive: true, force: true });
  }

  /** Closes endpoints of servers gone; listens again for this host's servers that have none here. */
  async function sweep(): Promise<void> {
    const ctx = options.context();
    for (const [key, endpoint] of [...endpoints]) {
      const record = await ctx.store.getServer(endpoint.userName, endpoint.serverName);
      if (!record || keyOf(record) !== key) {
        // Only the worker that listens removes the directory: another's server may still be starting.
        await closeEndpoint(key, endpoint.server !== undefined || record === null);
      } else if (!endpoint.server && !(await answers(endpoint.path))) {
        // The worker that answered is gone: this one takes over.
        endpoints.delete(key);
        await openEndpoint(record, false).catch(() => {});
      }
    }
    for (const route of ctx.manager.localRoutes()) {
      const record = { userName: route.userName, name: route.serverName, secret: route.secret };
      if (endpoints.has(keyOf(record))) continue;
      const dir = hubDirOf(runDir, route.secret);
      // Servers started without an endpoint (an older Sifu) have no directory: nothing to answer.
      if (
        !(await stat(dir).then(
          () => true,
          () => false,
        ))
      )
        continue;
      const full = await ctx.store.getServer(route.userName, route.serverName);
      if (full && full.secret === route.secret) {
        await openEndpoint(full, false).catch((err: unknown) =>
          log.warn({ err, user: route.userName }, 'cannot listen on a server hub socket again'),
        );
      }
    }
  }

  let timer: NodeJS.Timeout | undefined;
  let sweeping = false;
  return {
    async open(record) {
      const endpoint = await openEndpoint(record, true);
      return { dir: endpoint.dir, env: serverHubEnv(options.context(), endpoint) };
    },
    async close(record) {
      await closeEndpoint(keyOf(record), true);
    },
    async shutdown() {
      if (timer) clearInterval(timer);
      for (const key of [...endpoints.keys()]) await closeEndpoint(key, false);
      await app.close();
    },
    start() {
      const tick = () => {
        if (sweeping) return;
        sweeping = true;
        sweep()
          .catch((err: unknown) => log.warn({ err }, 'server hub sweep failed'))
          .finally(() => {
            sweeping = false;
          });
      };
      tick();
      timer = setInterval(tick, options.sweepIntervalMs ?? 5_000);
      timer.unref();
    },
  };
}

/** Whether something accepts connections on the unix socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    const done = (value: boolean) => {
      socket.destroy();
      resolve(value);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1_000, () => done(false));
  });
}
