/**
 * The byte relay of an upgraded connection (a WebSocket after its 101): each socket reads into the shared
 * buffer (shared-read-buffer.ts) and its read callback writes a copy of the bytes straight to the other
 * socket. `a.pipe(b)` does the same through both sockets' Readable side (a push, a 'data' event and the
 * pipe's listener per chunk); here a chunk costs the callback and the write.
 *
 * What `pipe` gives is kept: a socket whose peer's write buffer is full is paused (its handle stops
 * reading) until the peer drains; one side's end ends the other's writable side; bytes that a socket's
 * stream held before the switch go first. Closing and errors stay with the caller (the upgrade destroys
 * both sockets when either closes). The relay's listeners are shared functions that find the peer through
 * a symbol on the socket: nothing per socket pair but the two fields.
 */
import type net from 'node:net';
import { relayedChunk } from './activity.js';
import { canReadIntoSharedBuffer, readIntoSharedBuffer } from './shared-read-buffer.js';

const PEER = Symbol('sifu.relay-peer');
type Relayed = net.Socket & { [PEER]?: net.Socket };

function relayRead(this: Relayed, bytes: Buffer): void {
  const peer = this[PEER];
  // A peer that is gone or ended its writing takes nothing more (as a pipe stops at its 'finish').
  if (peer === undefined || peer.destroyed || peer.writableEnded) return;
  relayedChunk(this, bytes);
  // A copy: the view is the shared buffer's, and a write that does not complete at once keeps its chunk.
  if (!peer.write(Buffer.from(bytes))) this.pause();
}

/** 'drain' of a socket: the peer that writes into it may read again. */
function resumePeer(this: Relayed): void {
  const peer = this[PEER];
  if (peer?.isPaused()) peer.resume();
}

function endPeer(this: Relayed): void {
  const peer = this[PEER];
  if (peer !== undefined && !peer.destroyed && !peer.writableEnded) peer.end();
}

/**
 * Relays `a` and `b` to each other; false (and nothing changed) if either cannot read into the shared
 * buffer, where the caller pipes them instead. Watches on the sockets are given each chunk through
 * {@link relayedChunk}.
 */
export function relaySockets(a: net.Socket, b: net.Socket): boolean {
  if (!canReadIntoSharedBuffer(a) || !canReadIntoSharedBuffer(b)) return false;
  const pairs: [Relayed, net.Socket][] = [
    [a, b],
    [b, a],
  ];
  for (const [from, to] of pairs) {
    from[PEER] = to;
    // Read by the stream before the switch (a client's bytes while the server had not answered yet).
    for (let chunk = from.read() as Buffer | null; chunk !== null; chunk = from.read() as Buffer | null) {
      to.write(chunk);
    }
    readIntoSharedBuffer(from, relayRead);
    from.on('drain', resumePeer);
    from.on('end', endPeer);
  }
  for (const [from] of pairs) from.resume();
  return true;
}
