/**
 * Forwards one HTTP request to a notebook server over a pooled connection and streams the response
 * back: bodies flow both ways with backpressure and are never buffered whole. Failures before the
 * response head become JSON errors (503/502 SIFU_ERR_UPSTREAM_UNREACHABLE, 504 SIFU_ERR_UPSTREAM_TIMEOUT);
 * after it, the client connection is cut so a truncated body is never mistaken for a whole one.
 */
import { recordProxyResponse, recordUpstreamError } from '../metrics/metrics.js';
import { sendError } from './counted-responses.js';
import type { ResponseHandler, ResponseHead } from './response-parser.js';
import {
  type ContentKind,
  type CspValues,
  clientResponseHeaders,
  clientResponseHeaderText,
  needsScrubbing,
} from './response-policy.js';
import type { ProxyError } from './responses.js';
import { SecretScrubber } from './secret-scrubber.js';
import type { ProxyRequestBody, ProxyResponse } from './types.js';
import type { BodyFraming } from './upstream-head.js';
import type { Exchange, Target, TargetPool, UpstreamConnection, UpstreamPools } from './upstream-pool.js';

export interface ForwardDeps {
  pools: UpstreamPools;
  csp: CspValues;
  /** A server refused or broke a connection: it may have died; its owner is told (not awaited). */
  unreachable?: (target: string) => void;
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EADDRNOTAVAIL']);

/**
 * The exchange a client request/response belongs to. Listeners are shared functions that find their
 * exchange here (`this` is the emitter), so a request allocates no closures on the hot path.
 */
const EXCHANGE = Symbol('sifu.exchange');
type WithExchange = { [EXCHANGE]?: HttpExchange };

function exchangeOf(emitter: unknown): HttpExchange | undefined {
  return (emitter as WithExchange)[EXCHANGE];
}

function onClientClose(this: ProxyResponse): void {
  exchangeOf(this)?.clientClosed();
}

function onClientDrain(this: ProxyResponse): void {
  exchangeOf(this)?.clientDrained();
}

function onRequestData(this: ProxyRequestBody, chunk: Buffer): void {
  exchangeOf(this)?.requestData(chunk);
}

function onRequestEnd(this: ProxyRequestBody): void {
  exchangeOf(this)?.requestEnded();
}

export class HttpExchange implements Exchange, ResponseHandler {
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
  private scrubber: SecretScrubber | undefined;

  constructor(
    private readonly deps: ForwardDeps,
    private readonly req: ProxyRequestBody,
    private readonly res: ProxyResponse,
    private readonly target: Target,
    private readonly head: string,
    private readonly body: BodyFraming,
    private readonly kind: ContentKind,
    /** The server's secret, masked in the HTML it sends (see secret-scrubber.ts). */
    private readonly secret: string,
  ) {
    this.requestDone = body === 'none';
  }

  start(): void {
    (this.res as WithExchange)[EXCHANGE] = this;
    this.res.on('close', onClientClose);
    this.pool = this.deps.pools.acquire(this.target, this);
  }

  onConnection(connection: UpstreamConnection, reused: boolean): void {
    if (this.over) {
      connection.release(true);
      return;
    }
    this.connection = connection;
    this.reused = reused;
    connection.parser.reset(this.req.method === 'HEAD');
    // Header bytes came in as latin1 strings: written back as latin1 they are the bytes received.
    if (this.body === 'none') connection.writeHead(this.head);
    else connection.write(this.head);
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
    } else {
      flushed = upstream.write(chunk);
    }
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
    // Let Node's server discard the rest of an unfinished upload instead of stalling the connection.
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
      if (!this.over) {
        recordUpstreamError('broken');
        this.fail({ code: 'SIFU_ERR_UPSTREAM_UNREACHABLE', status: 502 });
      }
    } else if (this.responseDone && this.connection === connection) {
      // Stray bytes after the response, or an answer before the whole upload: never reuse that socket.
      if (connection.parser.leftover !== undefined && connection.parser.leftover.length > 0)
        this.keepAlive = false;
      if (!this.requestDone) this.keepAlive = false;
      this.release();
    }
  }

  onResponseHead(head: ResponseHead): void {
    if (head.status === 101) {
      this.connection?.parser.abort('101 to a plain request');
      return;
    }
    this.keepAlive = head.keepAlive;
    if (needsScrubbing(head.contentType)) {
      // A compressed page could not be checked for the secret: refused (Jupyter does not compress).
      if (head.headers.some((v, i) => i % 2 === 0 && v.toLowerCase() === 'content-encoding')) {
        this.connection?.parser.abort('compressed page');
        return;
      }
      this.scrubber = new SecretScrubber(this.secret);
    }
    const reason = head.reason === '' ? undefined : head.reason;
    if (this.res.writeHeadText !== undefined) {
      // The kept lines go out as they came (the parser checked them): no split and join again.
      const out = clientResponseHeaderText(head, this.kind, this.deps.csp);
      this.res.writeHeadText(head.status, reason, out.text, out.length, out.date);
      recordProxyResponse(head.status);
      return;
    }
    try {
      this.res.writeHead(
        head.status,
        reason,
        clientResponseHeaders(head, this.kind, this.deps.csp),
        // The parser admits only token names and values without control bytes, as Node's checks do;
        // the headers added are constants.
        true,
      );
      recordProxyResponse(head.status);
    } catch {
      // An invalid header value from the server: refuse the response rather than crash.
      this.connection?.parser.abort('invalid response header');
    }
  }

  onResponseBody(input: Buffer, last: boolean): void {
    if (this.over) return;
    // `input` is a view of the pool's read buffer (upstream-pool.ts): what is written on is copied.
    const chunk = this.scrubber ? this.scrubber.push(input, last) : input;
    if (last) {
      // The whole (or last part of the) body: head and body leave in one write.
      this.responseDone = true;
      if (this.res.endTransient !== undefined) this.res.endTransient(chunk);
      else this.res.end(Buffer.from(chunk));
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
    const held = this.scrubber?.push(Buffer.alloc(0), true);
    this.res.end(held);
  }

  /** The exchange is complete: keep the socket if both messages ended cleanly. */
  private release(): void {
    const connection = this.connection;
    this.connection = undefined;
    this.over = true;
    this.stopPumping();
    connection?.release(this.keepAlive && this.requestDone);
  }

  onUpstreamClose(error: Error | undefined): void {
    const connection = this.connection;
    this.connection = undefined;
    if (this.over || connection === undefined) return;
    if (connection.parser.finish(this)) {
      this.over = true;
      this.stopPumping();
      return;
    }
    const canRetry =
      this.reused &&
      !this.retried &&
      this.body === 'none' &&
      !connection.parser.headSeen &&
      !this.res.headersSent;
    if (canRetry) {
      // A kept-alive socket the server closed just as it was reused: safe to replay a bodiless request.
      this.retried = true;
      this.pool = this.deps.pools.acquire(this.target, this, true);
      return;
    }
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const connectFailed = !this.reused && code !== undefined && CONNECT_ERRORS.has(code);
    // Refused or broken: either way the server may have died; a poll tells (cheap, and only on failure).
    this.deps.unreachable?.(this.target.origin);
    recordUpstreamError(connectFailed ? 'refused' : 'broken');
    this.fail({ code: 'SIFU_ERR_UPSTREAM_UNREACHABLE', status: connectFailed ? 503 : 502 });
  }

  onUpstreamTimeout(): void {
    recordUpstreamError('timeout');
    this.fail({ code: 'SIFU_ERR_UPSTREAM_TIMEOUT' });
  }

  /** Ends the exchange with an error response if still possible, otherwise by cutting the client off. */
  private fail(error: ProxyError): void {
    this.over = true;
    this.stopPumping();
    this.dropConnection();
    if (this.res.headersSent) this.res.destroy();
    else sendError(this.res, this.deps.csp, error);
  }

  private dropConnection(): void {
    const connection = this.connection;
    this.connection = undefined;
    if (connection !== undefined) {
      connection.exchange = undefined;
      connection.socket.destroy();
    }
  }

  clientClosed(): void {
    if (this.over) return;
    this.over = true;
    this.stopPumping();
    this.pool?.cancel(this);
    this.dropConnection();
  }
}
