/**
 * The notebook port's own HTTP/1.1 server side: the connections of Node's `http.Server` are taken at
 * 'connection' and parsed here (request-head.ts) instead of by Node's IncomingMessage/ServerResponse
 * machinery, which profiles showed to be the floor of the proxy's cost per request. The same request
 * handler (the gate, then http-forward.ts) serves both: it sees {@link RawRequest}/{@link RawResponse}
 * through the `ProxyRequestBody`/`ProxyResponse` interfaces that Node's objects satisfy too.
 *
 * What this does not serve itself it hands to Node's server for the rest of that connection, at a
 * request boundary with nothing in flight (on a fresh connection: before any byte of a response): Node's
 * connection listener takes the socket and its parser is given the bytes read so far, so Node answers them
 * as before (malformed input, chunked uploads, `Expect`, upgrades, `/hub-handoff`, other paths).
 *
 * Per connection: one request at a time, in order (pipelined requests wait, unread, as bytes); a request
 * body is streamed with backpressure (the socket is paused while the exchange is); at most
 * {@link HIGH_WATER_BYTES} are read ahead. Bounds as Node's server: `headersTimeoutMs` for a head (from
 * the connection's start, or from the first byte of a later head; 408), `idleTimeoutMs` without a byte
 * either way (destroyed; both checked by one timer, so up to one check late), keep-alive after each
 * response unless the request or the response says close.
 */

import type http from 'node:http';
import { STATUS_CODES, validateHeaderName, validateHeaderValue } from 'node:http';
import type net from 'node:net';
import { type HeadLines, hasListOption, isNamed, pairsOf } from './header-text.js';
import { parseRequestHead, type RequestHead } from './request-head.js';
import { answerBareStatus } from './responses.js';
import { copyOut, readIntoSharedBuffer, readIntoStream } from './shared-read-buffer.js';
import { sweepIntervalMs } from './sweep-interval.js';
import type { ProxyRequestBody, ProxyResponse } from './types.js';
import type { WriteBatch } from './write-batch.js';

export interface RawServerOptions {
  /** Time a client has to send a request's head. */
  headersTimeoutMs: number;
  /** A connection without a byte either way this long is destroyed; also the keep-alive bound. */
  idleTimeoutMs: number;
  /** How often the headers timeout is checked (Node's `connectionsCheckingInterval`). */
  checkIntervalMs?: number;
  /** Serves one request, as the http.Server's 'request' listener does. Must not throw. */
  handle(req: RawRequest, res: RawResponse): void;
  /** Where a whole small keep-alive response is held to the end of the loop turn (else written at once). */
  batch?: WriteBatch;
}

export interface RawServer {
  /** Destroys every connection still served here (those handed to Node are Node's). */
  close(): void;
}

/** Input read ahead of what the current exchange consumes, at most (then the socket is paused). */
export const HIGH_WATER_BYTES = 64 * 1024;
/** A body up to this long leaves with its head in one buffer (copied); a longer one in a corked write. */
const SINGLE_WRITE_BYTES = 16 * 1024;

const CONNECTION = Symbol('sifu.raw-connection');
type WithConnection = { [CONNECTION]?: RawConnection };
const connectionOf = (socket: net.Socket) => (socket as WithConnection)[CONNECTION];

/** A read into the shared buffer (see shared-read-buffer.ts). */
function onClientRead(this: net.Socket, bytes: Buffer): void {
  connectionOf(this)?.received(bytes);
}

function onSocketData(this: net.Socket, chunk: Buffer): void {
  connectionOf(this)?.received(chunk);
}
function onSocketEnd(this: net.Socket): void {
  connectionOf(this)?.clientEnded();
}
function onSocketDrain(this: net.Socket): void {
  const connection = connectionOf(this);
  if (connection === undefined) return;
  connection.lastActive = Date.now();
  connection.response?.drained();
}
function onSocketError(this: net.Socket): void {
  this.destroy();
}
function onSocketClose(this: net.Socket): void {
  connectionOf(this)?.closed();
}
function advanceLater(connection: RawConnection): void {
  connection.advance();
}

let dateSecond = -1;
let dateText = '';
/** The `Date` header's value, made once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/**
 * Whether the requests already read behind `head` (pipelined, in the same bytes) are all ones this side
 * serves. Node's parser reads everything it is given at once and refuses the lot (400, none of them
 * served) when any of it is malformed or follows a request that ends the connection; so such a batch is
 * handed to Node whole, and is answered as it was.
 */
function pipelineServed(input: Buffer, head: RequestHead): boolean {
  let current = head;
  let at = head.length + head.bodyLength;
  while (at < input.length) {
    if (!current.keepAlive) return false;
    const next = parseRequestHead(input.subarray(at));
    if (next === 'unhandled') return false;
    if (next === 'more') return true;
    current = next;
    at += next.length + next.bodyLength;
  }
  return true;
}

interface ConnectionContext {
  readonly server: http.Server;
  readonly nodeConnection: (socket: net.Socket) => void;
  readonly options: RawServerOptions;
  readonly connections: Set<RawConnection>;
  /** `Connection: keep-alive` and `Keep-Alive`, as Node's server sends them, with the blank line. */
  readonly keepAliveTail: string;
  readonly batch: WriteBatch | undefined;
}

/**
 * Takes `server`'s connections: each is served here until a request it does not handle, then by Node's
 * connection listener (removed from 'connection' and called for it). Listeners prepended to 'connection'
 * (the connection caps) still run first; a socket they destroyed is left alone.
 */
export function serveRaw(server: http.Server, options: RawServerOptions): RawServer {
  const [nodeListener] = server.listeners('connection') as ((socket: net.Socket) => void)[];
  if (nodeListener === undefined) throw new Error("serveRaw: the server has no 'connection' listener");
  server.removeListener('connection', nodeListener);
  const context: ConnectionContext = {
    server,
    nodeConnection: (socket) => nodeListener.call(server, socket),
    options,
    connections: new Set(),
    keepAliveTail: `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(options.idleTimeoutMs / 1000)}\r\n\r\n`,
    batch: options.batch,
  };
  server.on('connection', (socket: net.Socket) => {
    if (!socket.destroyed) new RawConnection(socket, context);
  });
  // The idle bound is checked here too, not by a timer per socket: re-arming one on every read and
  // write was about 5% of a proxied request's instructions. A connection is idle-closed up to one check late.
  const interval = sweepIntervalMs(options.idleTimeoutMs, options.checkIntervalMs);
  const checker = setInterval(() => {
    const now = Date.now();
    for (const connection of context.connections) connection.checkTimeouts(now);
  }, interval);
  checker.unref();
  server.once('close', () => clearInterval(checker));
  return {
    close() {
      clearInterval(checker);
      for (const connection of context.connections) connection.socket.destroy();
    },
  };
}

class RawConnection {
  /** Bytes read and not yet consumed: a head under way, body bytes, pipelined requests. */
  private input: Buffer | undefined;
  /** Bytes of `input` already searched for the end of a head. */
  private scanned = 0;
  request: RawRequest | undefined;
  response: RawResponse | undefined;
  /** When the awaited head began (0: none awaited, the connection is idle or busy). */
  private headStartedAt: number;
  private ended = false;
  /** Ending after this response (or the handoff): read nothing more. */
  private closing = false;
  private paused = false;
  private scheduled = false;
  /** When a byte last moved either way (read, written, or drained to the kernel). */
  lastActive: number;
  /** Reads land in the shared read buffer (else they come as the socket's 'data' events). */
  private readonly userBuffer: boolean;

  constructor(
    readonly socket: net.Socket,
    private readonly context: ConnectionContext,
  ) {
    (socket as WithConnection)[CONNECTION] = this;
    this.headStartedAt = Date.now();
    context.connections.add(this);
    this.lastActive = this.headStartedAt;
    this.userBuffer = readIntoSharedBuffer(socket, onClientRead);
    if (!this.userBuffer) socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('drain', onSocketDrain);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  /** Bytes read; they may be in the shared read buffer, and what is kept of them is copied out. */
  received(chunk: Buffer): void {
    this.lastActive = Date.now();
    if (this.closing) return;
    this.input = this.input === undefined ? chunk : Buffer.concat([this.input, chunk]);
    this.advance();
    if (this.input !== undefined) this.input = copyOut(this.input);
  }

  /** Runs `advance` on the next tick (once): never re-entered from an exchange's callbacks. */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(advanceLater, this);
  }

  /** Consumes input as far as the current exchange lets: body bytes, or the next head. */
  advance(): void {
    this.scheduled = false;
    while (!this.closing && !this.socket.destroyed) {
      const request = this.request;
      const input = this.input;
      if (request !== undefined) {
        if (request.complete || !request.flowing || input === undefined) break;
        const take = Math.min(request.remaining, input.length);
        this.input = take === input.length ? undefined : input.subarray(take);
        request.deliver(copyOut(take === input.length ? input : input.subarray(0, take)));
        if (request.complete) this.exchangeStep();
        continue;
      }
      if (input === undefined) break;
      const head = parseRequestHead(input, this.scanned);
      if (head === 'more') {
        this.scanned = input.length;
        if (this.headStartedAt === 0) this.headStartedAt = Date.now();
        break;
      }
      if (head === 'unhandled' || !pipelineServed(input, head)) {
        this.handOff();
        return;
      }
      this.begin(head, input);
    }
    if (this.ended && this.request === undefined && !this.closing) {
      // The client is done sending: a head it cut short gets Node's answer to that, 400.
      this.writeHeld();
      if (this.input === undefined) this.socket.end();
      else answerBareStatus(this.socket, 400);
      this.closing = true;
    }
    this.throttle();
  }

  private begin(head: RequestHead, input: Buffer): void {
    this.input = head.length === input.length ? undefined : input.subarray(head.length);
    this.scanned = 0;
    this.headStartedAt = 0;
    const request = new RawRequest(head, this);
    const response = new RawResponse(request, this);
    this.request = request;
    this.response = response;
    this.context.options.handle(request, response);
  }

  /** Pauses the socket while more than the high-water mark waits unread; resumes it below. */
  private throttle(): void {
    const full = (this.input?.length ?? 0) >= HIGH_WATER_BYTES;
    if (full && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!full && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** The response or the request body finished: when both have, the next request may begin. */
  exchangeStep(): void {
    const request = this.request;
    const response = this.response;
    if (request === undefined || response === undefined || !response.finished) return;
    if (response.closeAfter) {
      this.writeHeld();
      this.closing = true;
      this.input = undefined;
      this.socket.end(() => this.socket.destroy());
      return;
    }
    if (!request.complete) {
      // Answered before the whole upload was read (a refusal says close; see responses.ts): the rest
      // is read and dropped, as Node's server does, so that the next request starts where it should.
      request.discard();
      this.schedule();
      return;
    }
    this.request = undefined;
    this.response = undefined;
    if (this.input !== undefined) {
      this.headStartedAt = Date.now();
      this.schedule();
    } else if (this.ended || this.paused) {
      this.schedule();
    }
    // Else nothing is read ahead and the client may still send: `advance` would find nothing to do,
    // so no tick is spent on it (the next head comes as a read, which advances).
  }

  /** Node's server takes this connection over, from the first byte not consumed here. */
  private handOff(): void {
    const { socket } = this;
    this.writeHeld(); // Node writes the next answer itself.
    this.closing = true;
    this.context.connections.delete(this);
    (socket as WithConnection)[CONNECTION] = undefined;
    if (this.userBuffer) readIntoStream(socket);
    else socket.removeListener('data', onSocketData);
    socket.removeListener('end', onSocketEnd);
    socket.removeListener('drain', onSocketDrain);
    socket.removeListener('close', onSocketClose);
    if (this.ended) {
      // Its end was read already: nothing more can be given to Node's parser.
      socket.destroy();
      return;
    }
    // Node's parser keeps slices of what it is given (a body's chunks): nothing of the read buffer.
    const input = this.input === undefined ? undefined : copyOut(this.input);
    this.input = undefined;
    this.context.nodeConnection(socket);
    socket.removeListener('error', onSocketError);
    // Given to Node's parser here, synchronously, rather than unshifted: Node's server reads a socket's
    // handle directly (`parser.consume`), so bytes unshifted into the stream's buffer could be parsed after
    // bytes the kernel delivers next, or never. Nothing can arrive in between within this tick.
    if (input !== undefined) socket.emit('data', input);
    if (this.paused) socket.resume();
  }

  clientEnded(): void {
    this.ended = true;
    const { request, response } = this;
    if (request === undefined || request.complete || response === undefined) {
      this.advance();
      return;
    }
    // A body the client can no longer finish: the exchange ends, and the client gets 400 as from Node's
    // server, unless an answer is under way already.
    this.closing = true;
    this.input = undefined;
    this.writeHeld();
    const answered = response.headersSent;
    response.abandon();
    if (answered) this.socket.destroy();
    else answerBareStatus(this.socket, 400);
  }

  /** Writes what the batch holds for this socket (a finished response), before anything else is. */
  writeHeld(): void {
    this.context.batch?.before(this.socket);
  }

  closed(): void {
    this.context.connections.delete(this);
    const response = this.response;
    if (response !== undefined && !response.finished) response.clientClosed();
  }

  /** Destroys the connection idle for `idleTimeoutMs`; answers 408 to a head not sent in `headersTimeoutMs`. */
  checkTimeouts(now: number): void {
    if (now - this.lastActive >= this.context.options.idleTimeoutMs) {
      this.socket.destroy();
      return;
    }
    if (
      this.headStartedAt === 0 ||
      this.request !== undefined ||
      this.closing ||
      now - this.headStartedAt < this.context.options.headersTimeoutMs
    ) {
      return;
    }
    this.closing = true;
    this.input = undefined;
    this.writeHeld();
    answerBareStatus(this.socket, 408);
  }

  get keepAliveTail(): string {
    return this.context.keepAliveTail;
  }

  get batch(): WriteBatch | undefined {
    return this.context.batch;
  }
}

type DataListener = (this: ProxyRequestBody, chunk: Buffer) => void;
type EndListener = (this: ProxyRequestBody) => void;

/**
 * A request read by the raw server: its head, and its body as a paused stream that starts flowing when
 * a `data` listener is added (one listener per event: the exchange's).
 */
export class RawRequest implements ProxyRequestBody {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  /** The head's lines as received: the upstream head is made of them (upstream-head.ts). */
  readonly headLines: HeadLines;
  private pairs: string[] | undefined;
  readonly http10: boolean;
  readonly keepAlive: boolean;
  readonly socket: net.Socket;
  /** Body bytes not yet read. */
  remaining: number;
  flowing = false;
  private dataListener: DataListener | undefined;
  private endListener: EndListener | undefined;

  constructor(
    head: RequestHead,
    private readonly connection: RawConnection,
  ) {
    this.method = head.method;
    this.url = head.url;
    this.headers = head.headers;
    this.headLines = head;
    this.http10 = head.http10;
    this.keepAlive = head.keepAlive;
    this.socket = connection.socket;
    this.remaining = head.bodyLength;
  }

  get complete(): boolean {
    return this.remaining === 0;
  }

  /** Name/value pairs, values trimmed: sliced from the head when first asked for. */
  get rawHeaders(): string[] {
    this.pairs ??= pairsOf(this.headLines);
    return this.pairs;
  }

  on(event: 'data' | 'end', listener: DataListener | EndListener): this {
    if (event === 'data') {
      this.dataListener = listener as DataListener;
      this.resume();
    } else this.endListener = listener as EndListener;
    return this;
  }

  removeListener(event: 'data' | 'end', listener: DataListener | EndListener): this {
    if (event === 'data' && this.dataListener === listener) this.dataListener = undefined;
    else if (event === 'end' && this.endListener === listener) this.endListener = undefined;
    return this;
  }

  pause(): this {
    this.flowing = false;
    return this;
  }

  resume(): this {
    if (!this.flowing) {
      this.flowing = true;
      this.connection.schedule();
    }
    return this;
  }

  /** Reads the rest of the body into nothing. */
  discard(): void {
    this.dataListener = undefined;
    this.endListener = undefined;
    this.flowing = true;
  }

  /** Body bytes (at most `remaining`), from the connection. */
  deliver(chunk: Buffer): void {
    this.remaining -= chunk.length;
    this.dataListener?.call(this, chunk);
    if (this.remaining === 0) this.endListener?.call(this);
  }
}

/**
 * The response to a {@link RawRequest}: the head is built in one string at `writeHead` (headers checked
 * as Node's `writeHead` checks them) and leaves with the first body bytes in one write; framed by the
 * handler's `Content-Length`, else chunked (HTTP/1.0: by closing); no body for HEAD, 204, 304.
 */
export class RawResponse implements ProxyResponse {
  headersSent = false;
  finished = false;
  /** The connection ends after this response. */
  closeAfter = false;
  /** Given up (the request can never be whole): nothing more is written, the handler sees it destroyed. */
  private abandoned = false;
  private head: string | undefined;
  private chunked = false;
  private noBody = false;
  private closeListener: (() => void) | undefined;
  private drainListener: (() => void) | undefined;

  constructor(
    readonly req: RawRequest,
    private readonly connection: RawConnection,
  ) {}

  get destroyed(): boolean {
    return this.abandoned || this.connection.socket.destroyed;
  }

  /** The exchange ends here; the connection answers the client itself. */
  abandon(): void {
    this.abandoned = true;
    this.finished = true;
    this.closeListener?.call(this);
  }

  writeHead(status: number, reason: string | undefined, headers: string[], checked = false): this {
    if (this.headersSent) throw new Error('writeHead: the head was sent already');
    const phrase = reason ?? STATUS_CODES[status] ?? 'unknown';
    if (!checked) validateHeaderValue('status message', phrase);
    let lines = '';
    let close = false;
    let length = false;
    let date = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i] as string;
      const value = headers[i + 1] as string;
      if (!checked) {
        validateHeaderName(name);
        validateHeaderValue(name, value);
      }
      if (isNamed(name, 'content-length')) length = true;
      else if (isNamed(name, 'date')) date = true;
      else if (isNamed(name, 'connection')) {
        if (hasListOption(value, 'close')) close = true;
        continue;
      }
      lines += `${name}: ${value}\r\n`;
    }
    this.holdHead(status, phrase, lines, length, date, close);
    return this;
  }

  /**
   * `writeHead` for header lines already checked and joined (response-policy.ts's
   * `clientResponseHeaderText`): `lines` end each in CRLF and hold no `Connection`.
   */
  writeHeadText(
    status: number,
    reason: string | undefined,
    lines: string,
    length: boolean,
    date: boolean,
  ): void {
    if (this.headersSent) throw new Error('writeHead: the head was sent already');
    this.holdHead(status, reason ?? STATUS_CODES[status] ?? 'unknown', lines, length, date, false);
  }

  /** Completes the head (framing, Date, Connection) and holds it for the first write. */
  private holdHead(
    status: number,
    phrase: string,
    lines: string,
    length: boolean,
    date: boolean,
    closeAsked: boolean,
  ): void {
    let text = `HTTP/1.1 ${status} ${phrase}\r\n${lines}`;
    let close = closeAsked || !this.req.keepAlive;
    this.noBody = this.req.method === 'HEAD' || status === 204 || status === 304 || status < 200;
    if (!this.noBody && !length) {
      if (this.req.http10) close = true;
      else {
        this.chunked = true;
        text += 'Transfer-Encoding: chunked\r\n';
      }
    }
    // As Node's `sendDate`: a server's own Date is kept.
    if (!date) text += `Date: ${httpDate()}\r\n`;
    text += close ? 'Connection: close\r\n\r\n' : this.connection.keepAliveTail;
    this.closeAfter = close;
    this.head = text;
    this.headersSent = true;
  }

  write(chunk: Buffer | string): boolean {
    if (this.finished || this.abandoned) return true;
    if (!this.headersSent) this.writeHead(200, undefined, []);
    return this.send(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, false);
  }

  end(chunk?: Buffer | string): this {
    const body = chunk === undefined ? undefined : typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.finish(body, false);
    return this;
  }

  endTransient(chunk: Buffer): void {
    this.finish(chunk, true);
  }

  private finish(body: Buffer | undefined, transient: boolean): void {
    if (this.finished) return;
    if (!this.headersSent) this.writeHead(200, undefined, []);
    this.send(body, true, transient);
    this.finished = true;
    this.connection.exchangeStep();
  }

  /**
   * Writes the head if it is still held, then `body` framed, in one corked write. `transient`: `body` is
   * valid only during the call (see `ProxyResponse.endTransient`), so it is copied unless it is copied in
   * with the head anyway.
   */
  private send(body: Buffer | undefined, last: boolean, transient = false): boolean {
    const { socket } = this.connection;
    if (socket.destroyed) return false;
    this.connection.lastActive = Date.now();
    this.connection.writeHeld();
    const head = this.head;
    this.head = undefined;
    let data = this.noBody || body === undefined || body.length === 0 ? undefined : body;
    const together =
      head !== undefined && data !== undefined && !this.chunked && data.length <= SINGLE_WRITE_BYTES;
    if (transient && data !== undefined && !together) data = Buffer.from(data);
    if (!this.chunked) {
      if (head !== undefined && data !== undefined) {
        if (together) {
          // Head and body in one buffer: one write, without the Writable's cork/writev machinery.
          const both = Buffer.allocUnsafe(head.length + data.length);
          both.write(head, 0, 'latin1');
          data.copy(both, head.length);
          const batch = this.connection.batch;
          if (batch !== undefined && last && !this.closeAfter) {
            batch.hold(socket, both);
            return true;
          }
          return socket.write(both);
        }
        socket.cork();
        socket.write(head, 'latin1');
        const flushed = socket.write(data);
        socket.uncork();
        return flushed;
      }
      if (head !== undefined) {
        const batch = this.connection.batch;
        if (batch !== undefined && last && !this.closeAfter) {
          batch.hold(socket, head);
          return true;
        }
        return socket.write(head, 'latin1');
      }
      return data === undefined ? !socket.writableNeedDrain : socket.write(data);
    }
    let prefix = head ?? '';
    if (data !== undefined) prefix += `${data.length.toString(16)}\r\n`;
    const suffix = data === undefined ? (last ? '0\r\n\r\n' : '') : last ? '\r\n0\r\n\r\n' : '\r\n';
    socket.cork();
    if (prefix !== '') socket.write(prefix, 'latin1');
    if (data !== undefined) socket.write(data);
    const flushed = suffix === '' ? !socket.writableNeedDrain : socket.write(suffix, 'latin1');
    socket.uncork();
    return flushed;
  }

  destroy(): this {
    if (!this.abandoned) this.connection.socket.destroy();
    return this;
  }

  on(_event: 'close', listener: () => void): this {
    this.closeListener = listener;
    return this;
  }

  once(_event: 'drain', listener: () => void): this {
    this.drainListener = listener;
    return this;
  }

  drained(): void {
    const listener = this.drainListener;
    this.drainListener = undefined;
    listener?.call(this);
  }

  clientClosed(): void {
    this.closeListener?.call(this);
  }
}
