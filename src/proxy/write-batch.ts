/**
 * Writes held to the end of the event loop's poll phase, so that the writes one batch of ready sockets
 * causes leave back to back instead of one between each event's work. Each write wakes its reader (the
 * learner's server, the browser); written at once, on a busy machine, every wake can take the core from
 * the proxy in the middle of its batch, and the two hand the core back and forth once per request. Held
 * to the end of the batch, the readers are woken together and find all their input at once: the
 * benchmark's "writes at once" rows (bench/RESULTS.md) show what this is worth.
 *
 * What is held is what ends an exchange's writing for now: a whole small response (head and body in one
 * buffer), a request head with no body after it. Nothing may overtake it: whoever writes, ends, hands
 * over or answers on a socket directly calls {@link WriteBatch.before} first, which writes everything
 * held (in order; holding only ever postpones). A held write has no backpressure of its own: what the
 * kernel does not take waits in the socket's buffer, as an unchecked `write` would.
 */
import type net from 'node:net';
import { writeDirect } from './direct-write.js';

/** Marks a socket with held writes (on the socket, so that `before` is one property read). */
const HELD = Symbol('sifu.held-writes');
type Marked = net.Socket & { [HELD]?: boolean };

export class WriteBatch {
  private sockets: Marked[] = [];
  private data: (Buffer | string)[] = [];
  private scheduled = false;
  private readonly flushLater = () => this.flush();

  /** `direct`: write straight to the kernel where nothing else is queued (direct-write.ts). */
  constructor(private readonly direct = false) {}

  /** Writes `data` (a string as latin1, its bytes) to `socket` at the end of this loop turn. */
  hold(socket: net.Socket, data: Buffer | string): void {
    (socket as Marked)[HELD] = true;
    this.sockets.push(socket as Marked);
    this.data.push(data);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushLater);
    }
  }

  /** Before anything else is written to `socket`, or it is ended or handed over: writes what is held. */
  before(socket: net.Socket): void {
    if ((socket as Marked)[HELD] === true) this.flush();
  }

  /** Writes everything held, in the order it was held; a socket destroyed meanwhile gets nothing. */
  flush(): void {
    this.scheduled = false;
    const { sockets, data } = this;
    if (sockets.length === 0) return;
    this.sockets = [];
    this.data = [];
    for (let i = 0; i < sockets.length; i++) {
      const socket = sockets[i] as Marked;
      const bytes = data[i] as Buffer | string;
      socket[HELD] = false;
      if (socket.destroyed) continue;
      if (this.direct) writeDirect(socket, bytes);
      else if (typeof bytes === 'string') socket.write(bytes, 'latin1');
      else socket.write(bytes);
    }
  }
}
