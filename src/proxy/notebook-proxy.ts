/**
 * The notebook port: `/user/<name>/...` forwarded to each learner's server, behind the gate.
 *
 * Per request: parse the path (404 unless a valid `/user/<name>/`) -> with per-user origins, the Host
 * must be `<name>`'s own host (403 SIFU_ERR_WRONG_ORIGIN) -> Origin check for state-changing requests
 * and upgrades against that origin (403) -> visitor from the session minted for that origin (none:
 * sign-in redirect or 401) -> owner, or an admin when `adminAccess` is on (else 403) -> route (none:
 * spawn redirect or 503) -> forward with the server's token. Plus `/hub-handoff`, which turns a hub
 * sign-in into a session on the origin it is visited on.
 */
import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { SifuError } from '../errors.js';
import {
  baseUrlOf,
  hostOfRequest,
  type NotebookOrigins,
  type ParsedUserPath,
  parseUserPath,
  type Route,
  resolveNamedServer,
  userHostLabel,
  userOrigin,
} from '../routes.js';
import { ActivityTracker, Throttle, WebSocketActivity } from './activity.js';
import { rejectSocket, sendError, sendRedirect } from './counted-responses.js';
import { handleHandoff, isHandoffUrl } from './handoff.js';
import { type ForwardDeps, HttpExchange } from './http-forward.js';
import { refusesTopLevel, sendIframeOnlyPage } from './iframe-only.js';
import { relayedBytes } from './native-relay.js';
import { serveRaw } from './raw-server.js';
import { allowedOriginSet, isPageRequest, originAllowed, prefersHtml } from './request-policy.js';
import { contentKind, cspValues } from './response-policy.js';
import { answerClientErrors, type ProxyError } from './responses.js';
import { sweepIntervalMs } from './sweep-interval.js';
import type {
  ProxyHooks,
  ProxyOptions,
  ProxyRequest,
  ProxyRequestBody,
  ProxyResponse,
  TokenRefusal,
  Visitor,
} from './types.js';
import { buildUpstreamHead } from './upstream-head.js';
import { type Target, UpstreamPools } from './upstream-pool.js';
import { WriteBatch } from './write-batch.js';
import { UpgradeExchange } from './ws-forward.js';

export interface NotebookProxy {
  /** Not listening yet: the caller listens (on the notebook port). */
  server: http.Server;
  /** Stops accepting, closes every client and upstream connection, WebSockets included. */
  close(): Promise<void>;
}

/** Upstream pool bounds per notebook server (a browser opens ~6 connections per origin). */
const MAX_SOCKETS_PER_SERVER = 128;
const MAX_FREE_SOCKETS_PER_SERVER = 64;
/** An admin's visits to one server are audited at most this often. */
const ADMIN_AUDIT_INTERVAL_MS = 60_000;

type Admission =
  | { route: Route; target: Target }
  | { redirect: string; headers?: string[]; missing?: true }
  | { refuse: ProxyError; html: boolean; missing?: true };

/** Host headers whose origin `requestOrigin` remembers, at most. */
const MAX_REMEMBERED_HOSTS = 10_000;

type Parsed = Extract<ParsedUserPath, { ok: true }>;

/** Who is behind a request: a session's visitor, a token's owner, a refused token, or nobody. */
type Caller = Visitor | TokenRefusal | null;

/** `Authorization: token <t>` / `Bearer <t>`: an API token, which stands in for the session. */
const TOKEN_AUTHORIZATION = /^(?:token|bearer)\s+\S/i;

function originOption(value: string, name: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new SifuError(
      'SIFU_ERR_CONFIG',
      `\`${name}\` must be an origin like https://host[:port], got '${value}'`,
    );
  }
}

/**
 * An `error` listener that ends its socket. Not a closure: one made in the upgrade's scope would keep the
 * upgrade request alive for as long as the WebSocket is open.
 */
function destroySocket(this: net.Socket): void {
  this.destroy();
}

export function createNotebookProxy(hooks: ProxyHooks, options: ProxyOptions): NotebookProxy {
  const notebookOrigin = originOption(options.notebookOrigin, 'notebookOrigin').origin;
  const hubOrigin = originOption(options.hubOrigin, 'hubOrigin').origin;
  const forwardedProto = notebookOrigin.startsWith('https:') ? 'https' : 'http';
  const origins: NotebookOrigins = { notebookOrigin, userOrigins: options.userOrigins ?? false };
  const extraOrigins = allowedOriginSet(options.allowedOrigins);
  const csp = cspValues(options.frameAncestors);
  const batch = options.batchWrites === false ? undefined : new WriteBatch(options.directWrites !== false);
  const pools = new UpstreamPools({
    maxSocketsPerTarget: MAX_SOCKETS_PER_SERVER,
    maxFreePerTarget: MAX_FREE_SOCKETS_PER_SERVER,
    idleTimeoutMs: options.upstreamIdleTimeoutMs,
    batch,
  });
  const forwardDeps: ForwardDeps = { pools, csp, unreachable: hooks.unreachable };
  const activity = new ActivityTracker((user, server, at) => hooks.activity(user, server, at));
  const adminAudit = new Throttle(ADMIN_AUDIT_INTERVAL_MS);
  /** Relayed WebSockets' client sockets, each with the bytes it had moved either way when last swept, and since when. */
  const webSockets = new Map<net.Socket, { bytes: number; since: number }>();
  // Shared by every upgrade: a closure made inside one would keep that upgrade's request alive.
  const trackWebSocket = (socket: net.Socket) => {
    webSockets.set(socket, { bytes: 0, since: Date.now() });
    socket.once('close', () => webSockets.delete(socket));
  };
  // Their idle bound (`clientIdleTimeoutMs` without a byte either way), checked by one timer for all
  // instead of a timer per socket re-armed on every chunk both ways; a socket is closed up to one check late.
  const webSocketSweeper = setInterval(() => {
    const now = Date.now();
    for (const [socket, mark] of webSockets) {
      const bytes = socket.bytesRead + socket.bytesWritten + relayedBytes(socket);
      if (bytes !== mark.bytes) {
        mark.bytes = bytes;
        mark.since = now;
      } else if (now - mark.since >= options.clientIdleTimeoutMs) socket.destroy();
    }
  }, sweepIntervalMs(options.clientIdleTimeoutMs));
  webSocketSweeper.unref();

  const headersTimeout =
    options.headersTimeoutMs ?? Math.min(30_000, Math.max(1_000, options.clientIdleTimeoutMs));
  const server = http.createServer({
    noDelay: true,
    // Uploads are bounded by the idle timeout, not by a total time a slow link could exceed.
    requestTimeout: 0,
    headersTimeout,
    keepAliveTimeout: options.clientIdleTimeoutMs,
    connectionsCheckingInterval: 1_000,
  });
  // Without a 'timeout' listener, Node destroys a socket idle this long (no bytes either way).
  server.setTimeout(options.clientIdleTimeoutMs);

  /**
   * `requestOrigin`'s last answer for each `Host` header as sent: the user asked for, and their origin if
   * the host is theirs (a pure function of the two; bounded: cleared when full).
   */
  const originsByHost = new Map<string, { userName: string; origin: string | undefined }>();

  /**
   * The origin a `/user/<name>/` request was sent to, if it is `<name>`'s: with per-user origins the
   * Host must be that user's host (the bare notebook host and other users' hosts are refused); with a
   * shared origin, the notebook origin.
   */
  function requestOrigin(req: ProxyRequest, userName: string): string | undefined {
    if (!origins.userOrigins) return notebookOrigin;
    const hostHeader = req.headers.host;
    const known = hostHeader === undefined ? undefined : originsByHost.get(hostHeader);
    if (known !== undefined && known.userName === userName) return known.origin;
    const host = hostOfRequest(origins, hostHeader);
    const origin =
      host.kind === 'user' && host.label === userHostLabel(userName)
        ? userOrigin(origins, userName)
        : undefined;
    if (hostHeader !== undefined) {
      if (originsByHost.size >= MAX_REMEMBERED_HOSTS) originsByHost.clear();
      originsByHost.set(hostHeader, { userName, origin });
    }
    return origin;
  }

  /** The origins a state-changing request or upgrade to `origin` may come from. */
  const allowedFor = (origin: string) => ({
    has: (candidate: string) => candidate === origin || extraOrigins.has(candidate),
  });

  /** The caller: the owner of an API token in `Authorization` if there is one, else the session's. */
  function callerOf(req: ProxyRequest, origin: string, path: Parsed): Promise<Caller> | Caller {
    const authorization = req.headers.authorization;
    if (hooks.tokenVisitor && typeof authorization === 'string' && TOKEN_AUTHORIZATION.test(authorization)) {
      return hooks.tokenVisitor(authorization, { userName: path.userName, serverName: path.serverName });
    }
    return hooks.visitor(req, origin);
  }

  function admit(visitor: Caller, req: ProxyRequest, path: Parsed, ws: boolean, origin: string): Admission {
    const url = req.url as string;
    if (visitor !== null && 'refuse' in visitor) return { refuse: { code: visitor.refuse }, html: false };
    if (visitor === null) {
      if (ws || !isPageRequest(req.method ?? '', path.rest, req.headers)) {
        return { refuse: { code: 'SIFU_ERR_UNAUTHENTICATED' }, html: false };
      }
      const login = `${hubOrigin}/hub/login?next=${encodeURIComponent(origin + url)}`;
      const handoff = hooks.beginHandoff?.();
      if (!handoff) return { redirect: login };
      return { redirect: `${login}&handoff=${handoff.binding}`, headers: ['Set-Cookie', handoff.setCookie] };
    }
    if (visitor.userName !== path.userName) {
      if (!visitor.admin) {
        return { refuse: { code: 'SIFU_ERR_FORBIDDEN' }, html: !ws && prefersHtml(req.headers.accept) };
      }
      if (!options.adminAccess) {
        return {
          refuse: { code: 'SIFU_ERR_ADMIN_ACCESS_OFF' },
          html: !ws && prefersHtml(req.headers.accept),
        };
      }
      if (
        hooks.adminAccess !== undefined &&
        adminAudit.due(`${visitor.userName} ${path.userName}`, Date.now())
      ) {
        hooks.adminAccess(visitor.userName, path.userName, path.serverName);
      }
    }
    if (path.missingSlash) {
      if (ws) return { refuse: { code: 'SIFU_ERR_NOT_FOUND' }, html: false };
      const query = url.indexOf('?');
      return {
        redirect: `${baseUrlOf(path.userName, path.serverName)}${query === -1 ? '' : url.slice(query)}`,
      };
    }
    const route = hooks.route(path.userName, path.serverName);
    if (route === undefined) {
      if (ws || !isPageRequest(req.method ?? '', path.rest, req.headers)) {
        return { refuse: { code: 'SIFU_ERR_SERVER_NOT_RUNNING' }, html: false, missing: true };
      }
      const next = encodeURIComponent(origin + url);
      return { redirect: `${hubOrigin}/hub/spawn/${path.userName}?next=${next}`, missing: true };
    }
    const target = pools.target(route.target);
    if (target === undefined) return { refuse: { code: 'SIFU_ERR_UPSTREAM_UNREACHABLE' }, html: false };
    return { route, target };
  }

  function isPromise<T>(value: Promise<T> | T): value is Promise<T> {
    return value !== null && typeof (value as Promise<T>)?.then === 'function';
  }

  /** Runs `then` with the visitor, synchronously when the hook answers synchronously. */
  function withVisitor(
    req: ProxyRequest,
    origin: string,
    path: Parsed,
    then: (v: Caller) => void,
    fail: () => void,
  ): void {
    const visitor = callerOf(req, origin, path);
    if (!isPromise(visitor)) {
      then(visitor);
      return;
    }
    visitor.then((v) => {
      try {
        then(v);
      } catch {
        fail();
      }
    }, fail);
  }

  function forwardRequest(
    req: ProxyRequestBody,
    res: ProxyResponse,
    path: Parsed,
    route: Route,
    target: Target,
  ) {
    activity.touch(route.userName, route.serverName);
    const { head, body } = buildUpstreamHead(
      req.method as string,
      req.url as string,
      req.headLines ?? req.rawHeaders,
      {
        upstreamHost: target.hostHeader,
        secret: route.secret,
        clientAddress: req.socket.remoteAddress,
        forwardedProto,
        relayKey: route.relayKey,
      },
    );
    new HttpExchange(forwardDeps, req, res, target, head, body, contentKind(path.rest), route.secret).start();
  }

  /** The path's server: a named server when its first segment is one routed for the user. */
  const parsePath = (url: string) =>
    resolveNamedServer(parseUserPath(url), (user, server) => hooks.route(user, server) !== undefined);

  function onUserRequest(req: ProxyRequestBody, res: ProxyResponse, url: string): void {
    const path = parsePath(url);
    if (!path.ok) {
      sendError(res, csp, { code: 'SIFU_ERR_NOT_FOUND' });
      return;
    }
    const origin = requestOrigin(req, path.userName);
    if (origin === undefined) {
      sendError(res, csp, { code: 'SIFU_ERR_WRONG_ORIGIN' }, prefersHtml(req.headers.accept));
      return;
    }
    if (!originAllowed(req.method ?? '', req.headers, allowedFor(origin), false)) {
      sendError(res, csp, { code: 'SIFU_ERR_BAD_ORIGIN' });
      return;
    }
    if (options.iframeOnly && refusesTopLevel(req, url, options.allowNewTab ?? false)) {
      sendIframeOnlyPage(res, csp, url, options.allowNewTab ?? false);
      return;
    }
    const visitor = callerOf(req, origin, path);
    if (!isPromise(visitor)) {
      admitRequest(req, res, path, visitor, origin);
      return;
    }
    visitor.then(
      (v) => {
        try {
          admitRequest(req, res, path, v, origin);
        } catch {
          sendError(res, csp, { code: 'SIFU_ERR_INTERNAL' });
        }
      },
      () => sendError(res, csp, { code: 'SIFU_ERR_INTERNAL' }),
    );
  }

  function admitRequest(
    req: ProxyRequestBody,
    res: ProxyResponse,
    path: Parsed,
    visitor: Caller,
    origin: string,
  ) {
    if (res.destroyed) return;
    const admission = admit(visitor, req, path, false, origin);
    if ('missing' in admission && hooks.findRoute) {
      // Not routed here (yet): another replica or worker may run it. Off the hot path: misses only.
      hooks.findRoute(path.userName, path.serverName).then(
        (found) => deliver(req, res, path, found ? admit(visitor, req, path, false, origin) : admission),
        () => deliver(req, res, path, admission),
      );
      return;
    }
    deliver(req, res, path, admission);
  }

  function deliver(req: ProxyRequestBody, res: ProxyResponse, path: Parsed, admission: Admission) {
    if (res.destroyed) return;
    if ('route' in admission) forwardRequest(req, res, path, admission.route, admission.target);
    else if ('redirect' in admission) sendRedirect(res, csp, admission.redirect, admission.headers);
    else sendError(res, csp, admission.refuse, admission.html);
  }

  /** Both server sides' requests: Node's (`'request'`) and the raw one's (`/user/` only). */
  function onRequest(req: ProxyRequestBody, res: ProxyResponse): void {
    try {
      const url = req.url ?? '';
      if (url.startsWith('/user/')) onUserRequest(req, res, url);
      else if (isHandoffUrl(url)) handleHandoff(req, res, url, hooks, requestOrigin, csp);
      else sendError(res, csp, { code: 'SIFU_ERR_NOT_FOUND' });
    } catch {
      sendError(res, csp, { code: 'SIFU_ERR_INTERNAL' });
    }
  }
  server.on('request', onRequest);
  const raw =
    options.rawServer === false
      ? undefined
      : serveRaw(server, {
          headersTimeoutMs: headersTimeout,
          idleTimeoutMs: options.clientIdleTimeoutMs,
          handle: onRequest,
          batch,
        });

  /** Why an upgrade is refused before the visitor is even looked up, if it is; else its origin. */
  function upgradeRefusal(req: http.IncomingMessage, url: string): ProxyError | { origin: string } {
    const isWebSocket = (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
    if (req.method !== 'GET' || !isWebSocket) return { code: 'SIFU_ERR_BAD_REQUEST' };
    const path = parsePath(url);
    if (!path.ok) return { code: 'SIFU_ERR_NOT_FOUND' };
    const origin = requestOrigin(req, path.userName);
    if (origin === undefined) return { code: 'SIFU_ERR_WRONG_ORIGIN' };
    if (!originAllowed('GET', req.headers, allowedFor(origin), true)) return { code: 'SIFU_ERR_BAD_ORIGIN' };
    return { origin };
  }

  /** Upgrades whose missing route was already looked for further (see `ProxyHooks.findRoute`). */
  const lookedFurther = new WeakSet<http.IncomingMessage>();

  function onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const client = socket as net.Socket;
    client.on('error', destroySocket);
    try {
      // Hold the client's bytes (if any) until the upstream has accepted the upgrade.
      client.pause();
      const url = req.url ?? '';
      const refusal = upgradeRefusal(req, url);
      if ('code' in refusal) {
        rejectSocket(client, refusal);
        return;
      }
      const { origin } = refusal;
      const path = parsePath(url) as Parsed;
      withVisitor(
        req,
        origin,
        path,
        (visitor) => {
          if (client.destroyed) return;
          const admission = admit(visitor, req, path, true, origin);
          if ('missing' in admission && hooks.findRoute && !lookedFurther.has(req)) {
            // As for HTTP: look further once, then decide again.
            lookedFurther.add(req);
            hooks.findRoute(path.userName, path.serverName).then(
              () => onUpgrade(req, client, head),
              () => onUpgrade(req, client, head),
            );
            return;
          }
          if (!('route' in admission)) {
            rejectSocket(client, 'refuse' in admission ? admission.refuse : { code: 'SIFU_ERR_NOT_FOUND' });
            return;
          }
          const { route, target } = admission;
          activity.touch(route.userName, route.serverName);
          const upstreamHead = buildUpstreamHead(
            'GET',
            url,
            req.rawHeaders,
            {
              upstreamHost: target.hostHeader,
              secret: route.secret,
              clientAddress: client.remoteAddress,
              forwardedProto,
              relayKey: route.relayKey,
            },
            true,
          );
          new UpgradeExchange(
            {
              csp,
              upstreamIdleTimeoutMs: options.upstreamIdleTimeoutMs,
              track: trackWebSocket,
              activity: new WebSocketActivity(activity, route.userName, route.serverName),
              nativeRelay: options.nativeRelay !== false,
            },
            client,
            target,
            upstreamHead.head,
            head,
          );
        },
        () => rejectSocket(client, { code: 'SIFU_ERR_INTERNAL' }),
      );
    } catch {
      rejectSocket(client, { code: 'SIFU_ERR_INTERNAL' });
    }
  }
  server.on('upgrade', onUpgrade);

  answerClientErrors(server);

  return {
    server,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(webSocketSweeper);
        for (const socket of webSockets.keys()) socket.destroy();
        raw?.close();
        pools.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
