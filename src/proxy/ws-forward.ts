/**
 * Forwards an admitted WebSocket upgrade over a raw socket: the upgrade request (with the server's
 * token) is written upstream, the answer's head is parsed, and after a 101 the two sockets are
 * relayed both ways untouched: by the native relay's thread where it is built (native-relay.ts), else by
 * the event loop (socket-relay.ts; piped where this Node cannot do that). A non-101 answer is relayed as a plain response, then closed.
 *
 * Bounds: the upstream must answer within `upstreamIdleTimeoutMs`; throughout, the proxy's sweep of
 * the client sockets it was given (`track`) closes one that moved no byte either way for the client
 * idle timeout (everything the server sends is written to the client socket too), so no socket here
 * keeps a timer of its own.
 */
import { STATUS_CODES } from 'node:http';
import type net from 'node:net';
import { recordProxyResponse, recordUpstreamError, webSocketsRelayed } from '../metrics/metrics.js';
import { rejectSocket } from './counted-responses.js';
import { type ActivitySink, relayNatively } from './native-relay.js';
import { type ResponseHandler, type ResponseHead, ResponseParser } from './response-parser.js';
import { type CspValues, clientResponseHeaders, upgradeResponseHeaders } from './response-policy.js';
import { relaySockets } from './socket-relay.js';
import { connectTo, type Target } from './upstream-pool.js';

export interface UpgradeDeps {
  csp: CspValues;
  upstreamIdleTimeoutMs: number;
  /** Tracks the client socket: closing the proxy closes it, and so does its idle bound (see above). */
  track(socket: net.Socket): void;
  /** Watches the relayed sockets' chunks for the route's activity (see activity.ts). */
  activity: { watch(sockets: net.Socket[], relayed?: boolean): void } & ActivitySink;
  /** Hand the relay to the native relay's thread where it is built (native-relay.ts). */
  nativeRelay: boolean;
}

export class UpgradeExchange implements ResponseHandler {
  private readonly upstream: net.Socket;
  private readonly parser = new ResponseParser();
  private upgraded = false;
  private answered = false;

  constructor(
    private readonly deps: UpgradeDeps,
    private readonly client: net.Socket,
    target: Target,
    head: string,
    clientHead: Buffer,
  ) {
    this.parser.reset(false);
    deps.track(client);
    // Node's server armed the socket's idle timer, re-armed on every read and write: the sweep does its work.
    client.setTimeout(0);
    this.upstream = connectTo(target);
    this.upstream.setTimeout(deps.upstreamIdleTimeoutMs);
    this.upstream.write(head);
    if (clientHead.length > 0) this.upstream.write(clientHead);
    this.upstream.on('data', this.onUpstreamHeadData);
    this.upstream.on('timeout', this.onUpstreamTimeout);
    this.upstream.on('error', () => this.onUpstreamGone());
    this.upstream.on('close', () => this.onUpstreamGone());
    client.on('close', () => this.upstream.destroy());
    client.on('error', () => {
      client.destroy();
      this.upstream.destroy();
    });
  }

  private readonly onUpstreamHeadData = (chunk: Buffer): void => {
    const result = this.parser.feed(chunk, this);
    if (result === 'error' && !this.answered) {
      this.answered = true;
      recordUpstreamError('broken');
      rejectSocket(this.client, { code: 'SIFU_ERR_UPSTREAM_UNREACHABLE', status: 502 });
      this.upstream.destroy();
    } else if (result === 'upgrade') {
      this.pipe();
    }
  };

  private readonly onUpstreamTimeout = (): void => {
    if (!this.answered) {
      this.answered = true;
      recordUpstreamError('timeout');
      rejectSocket(this.client, { code: 'SIFU_ERR_UPSTREAM_TIMEOUT' });
    }
    this.upstream.destroy();
  };

  private onUpstreamGone(): void {
    if (this.upgraded) {
      this.client.destroy();
      return;
    }
    if (this.parser.finish(this)) return;
    if (!this.answered) {
      this.answered = true;
      recordUpstreamError('refused');
      rejectSocket(this.client, { code: 'SIFU_ERR_UPSTREAM_UNREACHABLE' });
    } else {
      this.client.destroy();
    }
  }

  onResponseHead(head: ResponseHead): void {
    this.answered = true;
    let text = `HTTP/1.1 ${head.status} ${head.reason || STATUS_CODES[head.status] || ''}\r\n`;
    if (head.status === 101) {
      const headers = upgradeResponseHeaders(head);
      for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    } else {
      const headers = clientResponseHeaders(head, 'page', this.deps.csp);
      for (let i = 0; i < headers.length; i += 2) {
        const name = headers[i] as string;
        if (name.toLowerCase() !== 'content-length') text += `${name}: ${headers[i + 1]}\r\n`;
      }
      text += 'Connection: close\r\n';
    }
    this.client.write(`${text}\r\n`);
    recordProxyResponse(head.status);
  }

  onResponseBody(chunk: Buffer): void {
    this.client.write(chunk);
  }

  onResponseEnd(): void {
    // The answer was not a 101: the body has been relayed (framed by closing), so end both sides.
    this.client.end();
    this.upstream.destroy();
  }

  private pipe(): void {
    this.upgraded = true;
    const { client, upstream, deps } = this;
    upstream.removeListener('data', this.onUpstreamHeadData);
    upstream.setTimeout(0);
    const leftover = this.parser.leftover;
    if (leftover !== undefined && leftover.length > 0) client.write(leftover);
    client.setNoDelay(true);
    if (deps.nativeRelay && relayNatively(client, upstream, deps.activity)) {
      webSocketsRelayed.inc({ relay: 'native' });
      return;
    }
    webSocketsRelayed.inc({ relay: 'javascript' });
    if (relaySockets(client, upstream)) {
      deps.activity.watch([client, upstream], true);
    } else {
      // This Node lets no socket read into a buffer of ours: streams, as Node's own proxies do it.
      deps.activity.watch([client, upstream]);
      client.pipe(upstream);
      upstream.pipe(client);
    }
  }
}
