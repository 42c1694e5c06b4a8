/**
 * A host's relay: the internal listener through which replicas on other hosts reach the servers of
 * this host (their unix sockets). It admits only requests carrying the key all replicas share, and
 * only to a server running here whose token the request presents; it then forwards the request as it
 * came (HTTP over the same keep-alive pools as the notebook proxy, WebSockets as a raw pipe).
 *
 * It applies no response policy: the calling replica's proxy, which answers the browser, applies
 * headers, CSP and secret masking to what comes back. Its own refusals are JSON errors with codes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { parseUserPath, RELAY_KEY_HEADER, type Route } from '../routes.js';
import type { ResponseHandler, ResponseHead } from './response-parser.js';
import { cspValues } from './response-policy.js';
import { answerClientErrors, type ProxyError, rejectSocket, sendError } from './responses.js';
import { type BodyFraming, buildRelayedHead, connectionNamedHeaders } from './upstream-head.js';
import {
  connectTo,
  type Exchange,
  type Target,
  type TargetPool,
  type UpstreamConnection,
  UpstreamPools,
} from './upstream-pool.js';

export interface RelayHooks {
  /** The key peers present; compared in constant time (crypto.timingSafeEqual on equal-length buffers). */
  key: string;
  /** The route of a server running on THIS host (a `unix:` or loopback target), never a relay route; undefined if none. */
  localRoute(userName: string, serverName: string): Route | undefined;
  /** Requests under `/_sifu/` (internal calls between replicas), after the key was checked. Optional. */
  internal?(req: http.IncomingMessage, res: http.ServerResponse): void;
}

export interface RelayOptions {
  /**
   * A connection with no bytes either way for this long is closed, client or upstream; a server silent
   * this long before its answer gets the request a 504. Also how long idle keep-alive connections stay.
   */
  idleTimeoutMs: number;
  /** Time a client has to send a request's headers (default: 30 s or the idle timeout, if shorter). */
  headersTimeoutMs?: number;
}

export interface Relay {
  /** Not listening yet: the caller listens (on `cluster.relayUrl`'s address). */
  server: http.Server;
  /** Stops accepting, closes every client and upstream connection, WebSockets included. */
  close(): Promise<void>;
}

/** Per server, as the notebook proxy's pools (every replica's requests to it share them). */
const MAX_SOCKETS_PER_SERVER = 128;
const MAX_FREE_SOCKETS_PER_SERVER = 64;
/** Relay errors pass through the calling proxy, which replaces this CSP with its own. */
const CSP = cspValues([]);

const digestOf = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Equal digests, compared in constant time: neither the key's content nor its length leaks. */
function matches(given: string | undefined, expected: Buffer): boolean {
  return given !== undefined && timingSafeEqual(digestOf(given), expected);
}

/** The token of `Authorization: token <x>`, if that is the header's form. */
function presentedToken(authorization: string | undefined): string | undefined {
  return authorization?.startsWith('token ') ? authorization.slice('token '.length) : undefined;
}

type Admission = { route: Route; target: Target } | { refuse: ProxyError };

export function createRelay(hooks: RelayHooks, options: RelayOptions): Relay {
  const keyDigest = digestOf(hooks.key);
  const pools = new UpstreamPools({
    maxSocketsPerTarget: MAX_SOCKETS_PER_SERVER,
    maxFreePerTarget: MAX_FREE_SOCKETS_PER_SERVER,
    idleTimeoutMs: options.idleTimeoutMs,
  });
  const webSockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    webSockets.add(socket);
    socket.once('close', () => webSockets.delete(socket));
  };

  const server = http.createServer({
    noDelay: true,
    requestTimeout: 0,
    headersTimeout: options.headersTimeoutMs ?? Math.min(30_000, Math.max(1_000, options.idleTimeoutMs)),
    keepAliveTimeout: options.idleTimeoutMs,
    connectionsCheckingInterval: 1_000,
  });
  server.setTimeout(options.idleTimeoutMs);

  /** Digests of the local servers' secrets, as routes repeat (bounded: cleared when it grows large). */
  const secretDigests = new Map<string, Buffer>();
  function secretDigest(secret: string): Buffer {
    let digest = secretDigests.get(secret);
    if (digest === undefined) {
      if (secretDigests.size >= 10_000) secretDigests.clear();
      digest = digestOf(secret);
      secretDigests.set(secret, digest);
    }
    return digest;
  }

  const keyPresented = (req: http.IncomingMessage): boolean =>
    matches(req.headers[RELAY_KEY_HEADER] as string | undefined, keyDigest);

  /** Where an admitted `/user/...` request goes; the key was checked already. */
  function admit(req: http.IncomingMessage, url: string): Admission {
    const path = parseUserPath(url);
    if (!path.ok) return { refuse: { code: 'SIFU_ERR_NOT_FOUND' } };
    const route = hooks.localRoute(path.userName, path.serverName);
    // A relay route here would mean relaying twice (or in a loop): the caller re-checks where it runs.
    if (route === undefined || route.relayKey !== undefined) {
      return { refuse: { code: 'SIFU_ERR_SERVER_NOT_RUNNING', status: 404 } };
    }
    if (!matches(presentedToken(req.headers.authorization), secretDigest(route.secret))) {
      return { refuse: { code: 'SIFU_ERR_FORBIDDEN', message: "The server's token is missing or wrong." } };
    }
    const target = pools.target(route.target);
    if (target === undefined) return { refuse: { code: 'SIFU_ERR_UPSTREAM_UNREACHABLE', status: 502 } };
    return { route, target };
  }

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    try {
      const url = req.url ?? '';
      if (!keyPresented(req)) {
        sendError(res, CSP, { code: 'SIFU_ERR_RELAY_KEY', message: 'Relay key missing or wrong.' });
      } else if (url.startsWith('/user/')) {
        const admission = admit(req, url);
        if ('refuse' in admission) sendError(res, CSP, admission.refuse);
        else {
          const { head, body } = buildRelayedHead(
            req.method as string,
            url,
            req.rawHeaders,
            admission.target.hostHeader,
          );
          new RelayExchange(pools, req, res, admission.target, head, body).start();
        }
      } else if (url.startsWith('/_sifu/') && hooks.internal !== undefined) {
        hooks.internal(req, res);
      } else {
        sendError(res, CSP, { code: 'SIFU_ERR_NOT_FOUND' });
      }
    } catch {
      sendError(res, CSP, { code: 'SIFU_ERR_INTERNAL' });
    }
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, clientHead: Buffer) => {
    const client = socket as net.Socket;
    client.on('error', () => client.destroy());
    try {
      const url = req.url ?? '';
      if (!keyPresented(req)) {
        rejectSocket(client, { code: 'SIFU_ERR_RELAY_KEY', message: 'Relay key missing or wrong.' });
        return;
      }
      if (!url.startsWith('/user/')) {
        rejectSocket(client, { code: 'SIFU_ERR_NOT_FOUND' });
        return;
      }
      const admission = admit(req, url);
      if ('refuse' in admission) {
        rejectSocket(client, admission.refuse);
        return;
      }
      const { head } = buildRelayedHead('GET', url, req.rawHeaders, admission.target.hostHeader, true);
      pipeUpgrade(client, admission.target, head, clientHead, options.idleTimeoutMs, track);
    } catch {
      rejectSocket(client, { code: 'SIFU_ERR_INTERNAL' });
    }
  });

  answerClientErrors(server);

  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of webSockets) socket.destroy();
        pools.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * An upgrade, relayed as bytes: the head goes to the server, then both sockets are piped untouched.
 * The server's answer (101 or not) reaches the calling proxy as sent; that proxy parses it.
 */
function pipeUpgrade(
  client: net.Socket,
  target: Target,
  head: string,
  clientHead: Buffer,
  idleTimeoutMs: number,
  track: (socket: net.Socket) => void,
): void {
  const upstream = connectTo(target);
  track(client);
  let answered = false;
  const end = (error?: ProxyError) => {
    if (!answered && error !== undefined) {
      answered = true;
      rejectSocket(client, error);
    } else client.destroy();
    upstream.destroy();
  };
  upstream.once('data', () => {
    answered = true;
  });
  upstream.write(head, 'latin1');
  if (clientHead.length > 0) upstream.write(clientHead);
  upstream.setTimeout(idleTimeoutMs);
  client.setTimeout(idleTimeoutMs);
  upstream.on('timeout', () => end({ code: 'SIFU_ERR_UPSTREAM_TIMEOUT' }));
  client.on('timeout', () => end());
  upstream.on('error', () => end({ code: 'SIFU_ERR_UPSTREAM_UNREACHABLE', status: 502 }));
  upstream.on('close', () => end({ code: 'SIFU_ERR_UPSTREAM_UNREACHABLE', status: 502 }));
  client.on('close', () => upstream.destroy());
  client.setNoDelay(true);
  upstream.pipe(client);
  client.pipe(upstream);
}

/** Response headers a relay does not pass on: hop-by-hop ones (Node frames the answer again). */
const RESPONSE_HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

/** A server's response headers as the relay passes them on: everything but hop-by-hop headers. */
export function relayedResponseHeaders(head: ResponseHead): string[] {
  const { headers } = head;
  let named: Set<string> | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() === 'connection') {
      named = connectionNamedHeaders(headers[i + 1] as string, named);
    }
  }
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    const lower = name.toLowerCase();
    if (RESPONSE_HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    if (lower === 'content-length' && head.framing === 'chunked') continue;
    out.push(name, headers[i + 1] as string);
  }
  return out;
}

const EXCHANGE = Symbol('sifu.relay-exchange');
type WithExchange = { [EXCHANGE]?: RelayExchange };
const exchangeOf = (emitter: unknown) => (emitter as WithExchange)[EXCHANGE];

function onClientClose(this: http.ServerResponse): void {
  exchangeOf(this)?.clientClosed();
}
function onClientDrain(this: http.ServerResponse): void {
  exchangeOf(this)?.clientDrained();
}
function onRequestData(this: http.IncomingMessage, chunk: Buffer): void {
  exchangeOf(this)?.requestData(chunk);
}
function onRequestEnd(this: http.IncomingMessage): void {
  exchangeOf(this)?.requestEnded();
}

/**
 * One relayed HTTP request over a pooled connection, bodies streamed both ways with backpressure.
 * The same life as the proxy's HttpExchange (http-forward.ts), without its response policy.
 */
class RelayExchange implements Exchange, ResponseHandler {
  private connection: UpstreamConnection | undefined;
  private pool: TargetPool | undefined;
  private reused = false;
  private retried = false;
  private pumping = false;
  private requestDone: boolean;
  private responseDone = false;
  private keepAlive = false;
  private over = false;
  private waitingForDrain = false;

  constructor(
    private readonly pools: UpstreamPools,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly target: Target,
    private readonly head: string,
    private readonly body: BodyFraming,
  ) {
    this.requestDone = body === 'none';
  }

  start(): void {
    (this.res as WithExchange)[EXCHANGE] = this;
    this.res.on('close', onClientClose);
    this.pool = this.pools.acquire(this.target, this);
  }

  onConnection(connection: UpstreamConnection, reused: boolean): void {
    if (this.over) {
      connection.release(true);
      return;
    }
    this.connection = connection;
    this.reused = reused;
    connection.parser.reset(this.req.method === 'HEAD');
    connection.write(this.head);
    if (this.body !== 'none' && !this.pumping) {
      this.pumping = true;
      (this.req as WithExchange)[EXCHANGE] = this;
      this.req.on('data', onRequestData);
      this.req.on('end', onRequestEnd);
    }
  }

  requestData(chunk: Buffer): void {
    const upstream = this.connection;
    if (upstream === undefined || chunk.length === 0) return;
    let flushed: boolean;
    if (this.body === 'chunked') {
      upstream.write(`${chunk.length.toString(16)}\r\n`);
      upstream.write(chunk);
      flushed = upstream.write('\r\n');
    } else flushed = upstream.write(chunk);
    if (!flushed) this.req.pause();
  }

  requestEnded(): void {
    this.stopPumping();
    this.requestDone = true;
    if (this.body === 'chunked') this.connection?.write('0\r\n\r\n');
    if (this.responseDone) this.release();
  }

  private stopPumping(): void {
    if (!this.pumping) return;
    this.pumping = false;
    this.req.removeListener('data', onRequestData);
    this.req.removeListener('end', onRequestEnd);
    if (!this.requestDone) this.req.resume();
  }

  onUpstreamDrain(): void {
    if (this.pumping) this.req.resume();
  }

  onUpstreamData(chunk: Buffer): void {
    const connection = this.connection;
    if (connection === undefined) return;
    const result = connection.parser.feed(chunk, this);
    if (result === 'error') {
      if (!this.over) this.fail({ code: 'SIFU_ERR_UPSTREAM_UNREACHABLE', status: 502 });
    } else if (this.responseDone && this.connection === connection) {
      const leftover = connection.parser.leftover;
      if ((leftover !== undefined && leftover.length > 0) || !this.requestDone) this.keepAlive = false;
      this.release();
    }
  }

  onResponseHead(head: ResponseHead): void {
    if (head.status === 101) {
      this.connection?.parser.abort('101 to a plain request');
      return;
    }
    this.keepAlive = head.keepAlive;
    try {
      this.res.writeHead(
        head.status,
        head.reason === '' ? undefined : head.reason,
        relayedResponseHeaders(head),
      );
    } catch {
      this.connection?.parser.abort('invalid response header');
    }
  }

  onResponseBody(chunk: Buffer, last: boolean): void {
    if (this.over) return;
    // A view of the pool's read buffer (upstream-pool.ts): written on as a copy.
    if (last) {
      this.responseDone = true;
      this.res.end(Buffer.from(chunk));
      return;
    }
    if (chunk.length === 0) return;
    if (!this.res.write(Buffer.from(chunk)) && !this.waitingForDrain) {
      this.waitingForDrain = true;
      this.connection?.socket.pause();
      this.res.once('drain', onClientDrain);
    }
  }

  clientDrained(): void {
    this.waitingForDrain = false;
    this.connection?.socket.resume();
  }

  onResponseEnd(): void {
    if (this.responseDone) return;
    this.responseDone = true;
    this.res.end();
  }

  private release(): void {
    const connection = this.connection;
    this.connection = undefined;
    this.over = true;
    this.stopPumping();
    connection?.release(this.keepAlive && this.requestDone);
  }

  onUpstreamClose(): void {
    const connection = this.connection;
    this.connection = undefined;
    if (this.over || connection === undefined) return;
    if (connection.parser.finish(this)) {
      this.over = true;
      this.stopPumping();
      return;
    }
    if (this.reused && !this.retried && this.body === 'none' && !connection.parser.headSeen) {
      // A kept-alive socket the server closed just as it was reused: safe to replay a bodiless request.
      this.retried = true;
      this.pool = this.pools.acquire(this.target, this, true);
      return;
    }
    // Refused (a dead server's socket) or broken: the calling replica's proxy polls that server.
    this.fail({ code: 'SIFU_ERR_UPSTREAM_UNREACHABLE', status: 502 });
  }

  onUpstreamTimeout(): void {
    this.fail({ code: 'SIFU_ERR_UPSTREAM_TIMEOUT' });
  }

  private fail(error: ProxyError): void {
    this.over = true;
    this.stopPumping();
    const connection = this.connection;
    this.connection = undefined;
    if (connection !== undefined) {
      connection.exchange = undefined;
      connection.socket.destroy();
    }
    if (this.res.headersSent) this.res.destroy();
    else sendError(this.res, CSP, error);
  }

  clientClosed(): void {
    if (this.over) return;
    this.over = true;
    this.stopPumping();
    this.pool?.cancel(this);
    const connection = this.connection;
    this.connection = undefined;
    if (connection !== undefined) {
      connection.exchange = undefined;
      connection.socket.destroy();
    }
  }
}
