import type { IncomingHttpHeaders } from 'node:http';
import type net from 'node:net';
import type { ErrorCode } from '../errors.js';
import type { Route } from '../routes.js';
import type { HeadLines } from './header-text.js';

/**
 * A client request as the gate sees it: what both of the notebook port's servers give, Node's
 * (`http.IncomingMessage`) and the raw one (raw-server.ts). `headers` as Node builds them (lower-case names).
 */
export interface ProxyRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** Name/value pairs as received, values trimmed. */
  readonly rawHeaders: string[];
  /** The same headers as the lines received, where the server has them (the raw server's requests). */
  readonly headLines?: HeadLines;
  readonly socket: net.Socket;
}

/**
 * A request whose body the proxy streams upstream: a readable of the body's bytes (`data` events, `end`
 * once it is all read), paused and resumed for backpressure; `resume()` without a `data` listener
 * discards the rest. `complete` once the whole body was read.
 */
export interface ProxyRequestBody extends ProxyRequest {
  readonly complete: boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  removeListener(event: 'data' | 'end', listener: (...args: never[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

/**
 * The response to a {@link ProxyRequestBody}, as both servers give it (`http.ServerResponse`, the raw
 * server's): the head is sent with the first body bytes; `write` is false when the client is not keeping
 * up (then `drain`); `close` when the client went away before the end.
 */
export interface ProxyResponse {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  readonly req?: ProxyRequestBody;
  /**
   * Headers as name/value pairs; `reason` undefined: the standard one. Throws on an invalid header.
   * `checked`: the caller has checked reason and headers as Node's `writeHead` would (the response
   * parser's rules are the same); the raw server then skips its own check, Node's server ignores it.
   */
  writeHead(status: number, reason: string | undefined, headers: string[], checked?: boolean): unknown;
  /**
   * Optional (the raw server's): `writeHead` with the headers as lines already checked and joined, each
   * ending in CRLF, none a `Connection`; `length` and `date` say whether a Content-Length and a Date are
   * among them.
   */
  writeHeadText?(
    status: number,
    reason: string | undefined,
    lines: string,
    length: boolean,
    date: boolean,
  ): void;
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): unknown;
  /**
   * Optional: `end(chunk)` for a `chunk` valid only during the call (a view of a reused read buffer),
   * copied as part of the write. Without it, the caller passes `end` a copy.
   */
  endTransient?(chunk: Buffer): void;
  destroy(): unknown;
  on(event: 'close', listener: () => void): unknown;
  once(event: 'drain', listener: () => void): unknown;
}

/** The identity of the browser behind a request on the notebook origin. */
export interface Visitor {
  userName: string;
  admin: boolean;
}

/** Why `ProxyHooks.tokenVisitor` refused a token (a stable code: unknown token, missing scope). */
export interface TokenRefusal {
  refuse: ErrorCode;
}

/** What the proxy needs from the rest of Sifu; kept narrow so the hot path stays small and testable. */
export interface ProxyHooks {
  /** Finds the route for a user's server; undefined when it is not running. Called on every request. */
  route(userName: string, serverName: string): Route | undefined;
  /**
   * Identifies the visitor from the request's notebook session cookie, valid only for `origin` (the
   * origin the request was sent to, which the proxy has checked against its path); null when signed out.
   */
  visitor(req: ProxyRequest, origin: string): Promise<Visitor | null> | Visitor | null;
  /**
   * Identifies the owner of an API token sent as `Authorization: token <t>` (or `Bearer <t>`) on a
   * `/user/<name>/` request (scripts and tools, as JupyterHub's `access:servers` allows), in place of
   * the session cookie: the owner when the token may enter servers, else why it is refused. Absent: such
   * headers are ignored and the session decides.
   */
  tokenVisitor?(
    authorization: string,
    server: { userName: string; serverName: string },
  ): Promise<Visitor | TokenRefusal>;
  /**
   * Exchanges a one-time sign-in handoff code (minted by the hub for `origin`) for a session on that
   * origin, if `cookieHeader` holds the binding `beginHandoff` gave this browser. Returns the cookie to
   * set (`Set-Cookie` header value), or null if the code is unknown/used/expired/for another origin.
   */
  completeHandoff(code: string, cookieHeader: string | undefined, origin: string): Promise<string | null>;
  /**
   * Starts a sign-in handoff from this browser: a random binding that travels to the hub in the login
   * redirect, and the cookie that keeps it in this browser. The hub binds its code to it, so a code
   * lured into another browser is refused (no login CSRF into someone else's notebook).
   */
  beginHandoff?(): { binding: string; setCookie: string };
  /**
   * Called only when `route` found nothing: looks further (the store) for a server another replica or
   * worker runs, and routes it here if so. Resolves true when `route` will now find it.
   */
  findRoute?(userName: string, serverName: string): Promise<boolean>;
  /** Records that a route saw traffic (called at most about once a second per route). */
  activity(userName: string, serverName: string, at: Date): void;
  /**
   * The server at `target` refused a connection (it may have died): the owner checks it at once rather
   * than at the next poll, so the learner's next request gets the spawn page. Must not throw.
   */
  unreachable?(target: string): void;
  /** An admin entered someone else's server (only with `ProxyOptions.adminAccess`): audited. */
  adminAccess?(admin: string, userName: string, serverName: string): void;
}

export interface ProxyOptions {
  /** Origin of the notebook proxy as browsers see it, e.g. http://localhost:3335. */
  notebookOrigin: string;
  /**
   * One origin per learner: `/user/ada/` only on `<scheme>://ada.<notebook host>[:port]` (see
   * `userOrigin` in src/routes.ts), sessions and Origin checks per user origin. Default false (shared).
   */
  userOrigins?: boolean;
  /** Admins may enter others' servers (audited through `ProxyHooks.adminAccess`); default false: 403. */
  adminAccess?: boolean;
  /** Origin of the hub, for redirects to sign-in and spawn pages. */
  hubOrigin: string;
  /** Other origins allowed to send state-changing requests / WebSocket upgrades. */
  allowedOrigins: string[];
  /** CSP frame-ancestors sources for notebook responses. */
  frameAncestors: string[];
  /** Embedded mode: refuse top-level navigation to notebooks with a friendly page. */
  iframeOnly?: boolean;
  /** With `iframeOnly`, offer an "open it here anyway" link on that page. */
  allowNewTab?: boolean;
  upstreamIdleTimeoutMs: number;
  clientIdleTimeoutMs: number;
  /** Time a client has to send a request's headers (default: 30 s or the idle timeout, if shorter). */
  headersTimeoutMs?: number;
  /**
   * Serve ordinary `/user/` requests with Sifu's own HTTP/1.1 server side (raw-server.ts) instead of
   * Node's; anything else on a connection is handed to Node's. Default true.
   */
  rawServer?: boolean;
  /**
   * Hold whole small keep-alive responses and bodiless request heads to the end of the event loop's turn
   * (write-batch.ts), so one turn's writes leave together. Default true.
   */
  batchWrites?: boolean;
  /**
   * Write what the batch holds straight to the kernel where nothing is queued (direct-write.ts). Default
   * true; without the native addon it changes nothing.
   */
  directWrites?: boolean;
  /**
   * Relay open WebSockets on the native relay's thread (native-relay.ts) where it is built; the event loop
   * relays them otherwise. Default true.
   */
  nativeRelay?: boolean;
}
