/**
 * Keep-alive connection pools to notebook servers, one per target origin: raw TCP sockets that
 * carry one exchange at a time (no pipelining). Listeners are installed once per socket, not per
 * request; each event goes to the connection's current {@link Exchange}.
 *
 * Bounds: at most `maxSocketsPerTarget` sockets per server (more requests wait in FIFO order), at
 * most `maxFreePerTarget` kept idle, and an idle socket is closed after `idleTimeoutMs`.
 */
import net from 'node:net';
import { hostHeaderOf, type TargetAddress, targetAddress } from '../routes.js';
import { ResponseParser } from './response-parser.js';
import { sweepIntervalMs } from './sweep-interval.js';
import type { WriteBatch } from './write-batch.js';

export interface Target {
  /** The route's target as given (`http://host:port` or `unix:<path>`); the pool's key. */
  origin: string;
  /** Where to connect. */
  address: TargetAddress;
  /** `host:port` (or `localhost` for a unix socket) for the `Host` header. */
  hostHeader: string;
}

/** Parses a route target; undefined unless it is a plain `http://host[:port]` origin or `unix:<path>`. */
export function parseTarget(origin: string): Target | undefined {
  const address = targetAddress(origin);
  return address ? { origin, address, hostHeader: hostHeaderOf(origin) } : undefined;
}

/** A new connection to a target. */
export function connectTo(target: Target): net.Socket {
  return net.connect({ ...target.address, noDelay: true });
}

/** What a connection reports to whoever is using it. */
export interface Exchange {
  /** A connection is ready (fresh or reused); `reused` if it carried exchanges before. */
  onConnection(connection: UpstreamConnection, reused: boolean): void;
  /**
   * Bytes from the server. `chunk` is a view of the one read buffer all pooled connections share, valid
   * only during the call: whatever is kept or written on (a write may complete later) must be a copy.
   */
  onUpstreamData(chunk: Buffer): void;
  onUpstreamDrain(): void;
  /** The socket closed (after an error if `error`). */
  onUpstreamClose(error: Error | undefined): void;
  /** No traffic for the idle timeout. */
  onUpstreamTimeout(): void;
}

export interface PoolOptions {
  maxSocketsPerTarget: number;
  maxFreePerTarget: number;
  idleTimeoutMs: number;
  /** Where a request head with nothing after it is held to the end of the loop turn (else written at once). */
  batch?: WriteBatch;
}

/**
 * The read buffer of every pooled connection (the socket's `onread`): the kernel's bytes land here and
 * are parsed in place, without the stream machinery and the buffer Node allocates for each read. One
 * for all: a read's callback runs to its end before libuv reads any socket again, and exchanges copy
 * what outlives it (see {@link Exchange.onUpstreamData}).
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

export class UpstreamConnection {
  readonly socket: net.Socket;
  readonly parser = new ResponseParser();
  exchange: Exchange | undefined;
  error: Error | undefined;
  exchanges = 0;
  /** When a byte last moved either way (read, written, drained); the pools' sweep reads it. */
  lastActive = Date.now();

  constructor(readonly pool: TargetPool) {
    this.socket = net.connect({
      ...pool.target.address,
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (bytes: number) => {
          this.lastActive = Date.now();
          if (this.exchange !== undefined) this.exchange.onUpstreamData(READ_BUFFER.subarray(0, bytes));
          else this.socket.destroy(); // An idle server does not speak; if it does, the socket is unusable.
          return true; // Reading goes on unless paused (a slow client).
        },
      },
    });
    this.socket.on('drain', () => {
      this.lastActive = Date.now();
      this.exchange?.onUpstreamDrain();
    });
    this.socket.on('error', (error) => {
      this.error = error;
    });
    this.socket.on('close', () => {
      const exchange = this.exchange;
      this.exchange = undefined;
      pool.forget(this);
      exchange?.onUpstreamClose(this.error);
    });
  }

  /** Writes to the server (what an exchange sends goes through here, so that it counts as activity). */
  write(data: string | Buffer, encoding: BufferEncoding = 'latin1'): boolean {
    this.lastActive = Date.now();
    this.pool.batch?.before(this.socket);
    return typeof data === 'string' ? this.socket.write(data, encoding) : this.socket.write(data);
  }

  /**
   * Writes a request head (latin1) that no body follows: held to the end of the loop turn when the
   * pools batch writes (write-batch.ts), so the server is woken once for the turn's requests.
   */
  writeHead(head: string): void {
    this.lastActive = Date.now();
    const batch = this.pool.batch;
    if (batch === undefined) this.socket.write(head, 'latin1');
    else batch.hold(this.socket, head);
  }

  /** No byte either way since `idleSince`: a busy exchange times out (504 or cut), a free socket closes. */
  checkIdle(idleSince: number): void {
    if (this.lastActive > idleSince || this.socket.destroyed) return;
    if (this.exchange !== undefined) this.exchange.onUpstreamTimeout();
    else this.socket.destroy();
  }

  /** The exchange is over; keeps the socket for the next one if `reusable`, else closes it. */
  release(reusable: boolean): void {
    this.exchange = undefined;
    if (reusable && !this.socket.destroyed) {
      if (this.socket.isPaused()) this.socket.resume(); // Paused for a slow client of the last exchange.
      this.pool.putBack(this);
    } else {
      this.socket.destroy();
    }
  }
}

export class TargetPool {
  private readonly free: UpstreamConnection[] = [];
  /** Every open connection, busy or free. */
  readonly connections = new Set<UpstreamConnection>();
  private readonly waiting: Exchange[] = [];
  private open = 0;
  readonly batch: WriteBatch | undefined;

  constructor(
    readonly target: Target,
    private readonly options: PoolOptions,
    private readonly onEmpty: (pool: TargetPool) => void,
  ) {
    this.batch = options.batch;
  }

  /** Gives `exchange` a connection now or, at the socket limit, when one is released. */
  acquire(exchange: Exchange, fresh: boolean): void {
    if (!fresh) {
      const connection = this.free.pop();
      if (connection !== undefined) {
        connection.exchange = exchange;
        connection.exchanges++;
        exchange.onConnection(connection, true);
        return;
      }
    }
    if (this.open < this.options.maxSocketsPerTarget || fresh) {
      this.open++;
      const connection = new UpstreamConnection(this);
      this.connections.add(connection);
      connection.exchange = exchange;
      connection.exchanges++;
      exchange.onConnection(connection, false);
      return;
    }
    this.waiting.push(exchange);
  }

  /** Withdraws a waiting exchange (its client went away). */
  cancel(exchange: Exchange): void {
    const at = this.waiting.indexOf(exchange);
    if (at !== -1) this.waiting.splice(at, 1);
  }

  putBack(connection: UpstreamConnection): void {
    const next = this.waiting.shift();
    if (next !== undefined) {
      connection.exchange = next;
      connection.exchanges++;
      next.onConnection(connection, true);
    } else if (this.free.length < this.options.maxFreePerTarget) {
      this.free.push(connection);
    } else {
      connection.socket.destroy();
    }
  }

  forget(connection: UpstreamConnection): void {
    this.open--;
    this.connections.delete(connection);
    const at = this.free.indexOf(connection);
    if (at !== -1) this.free.splice(at, 1);
    const next = this.waiting.shift();
    if (next !== undefined) this.acquire(next, false);
    else if (this.open === 0) this.onEmpty(this);
  }

  destroy(): void {
    for (const connection of this.free.splice(0)) connection.socket.destroy();
  }
}

/** All pools of one proxy, keyed by target origin; a pool goes away with its last socket. */
export class UpstreamPools {
  private readonly pools = new Map<string, TargetPool>();
  private readonly targets = new Map<string, Target | undefined>();
  /**
   * Checks every connection's idle bound while there are pools: one timer for all, as re-arming a timer
   * per socket on every read and write cost more than the rest of the pool's work per request. A
   * connection times out up to one check late.
   */
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: PoolOptions) {}

  private sweep(): void {
    const idleSince = Date.now() - this.options.idleTimeoutMs;
    for (const pool of this.pools.values())
      for (const connection of pool.connections) connection.checkIdle(idleSince);
  }

  /** The parsed target for a route's origin (cached: routes repeat). */
  target(origin: string): Target | undefined {
    let target = this.targets.get(origin);
    if (target === undefined && !this.targets.has(origin)) {
      if (this.targets.size > 10_000) this.targets.clear();
      target = parseTarget(origin);
      this.targets.set(origin, target);
    }
    return target;
  }

  acquire(target: Target, exchange: Exchange, fresh = false): TargetPool {
    let pool = this.pools.get(target.origin);
    if (pool === undefined) {
      pool = new TargetPool(target, this.options, (empty) => {
        if (this.pools.get(empty.target.origin) === empty) this.pools.delete(empty.target.origin);
        if (this.pools.size === 0) this.stopSweeping();
      });
      this.pools.set(target.origin, pool);
      if (this.sweeper === undefined) {
        const interval = sweepIntervalMs(this.options.idleTimeoutMs);
        this.sweeper = setInterval(() => this.sweep(), interval);
        this.sweeper.unref();
      }
    }
    pool.acquire(exchange, fresh);
    return pool;
  }

  /** Closes idle sockets; busy ones close with their exchanges. */
  destroy(): void {
    for (const pool of this.pools.values()) pool.destroy();
    this.pools.clear();
    this.stopSweeping();
  }

  private stopSweeping(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
