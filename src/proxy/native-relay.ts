/**
 * The native WebSocket relay (native/relay.c, built into build/Release/sifu_relay.node by `npm ci`):
 * after a 101 the two sockets' descriptors go to a thread of the relay's own, which moves the bytes both
 * ways with epoll, so that a message wakes that thread and not the event loop. Where the addon was not
 * built (no C compiler when the packages were installed) {@link nativeRelayAvailable} is false and the
 * event loop relays (socket-relay.ts).
 *
 * The Node sockets stay, not reading, as the connection's handles for the rest of the proxy: its
 * connection counts, its sweep (which reads the bytes moved through {@link relayedBytes}) and its
 * shutdown, which destroy them. The thread works on duplicates of their descriptors, so destroying one
 * only asks the thread to end the pair ('close' -> close()); when the pair ends (both ends of input, an
 * error, a reset, or asked), the thread closes its duplicates and this module destroys the two sockets.
 * Activity (chunks other than pings and pongs) is counted by the thread and read here once per
 * activity interval, while any pair is open.
 */
import type net from 'node:net';
import { addon as binding, type NativePairHandle } from './native-addon.js';

/** True where the native relay is built and loads. */
export const nativeRelayAvailable = binding !== undefined;

/** Told once an activity interval that a relayed WebSocket carried something other than pings and pongs. */
export interface ActivitySink {
  touched(): void;
  /** The least time between two reports: how often the relay's counts are read. */
  readonly intervalMs: number;
}

interface Pair {
  handle: NativePairHandle;
  sockets: [net.Socket, net.Socket];
  activity: ActivitySink;
  /** The thread's activity count when last read. */
  seen: number;
  ended: boolean;
}

const PAIR = Symbol('sifu.native-pair');
type Relayed = net.Socket & { [PAIR]?: Pair };

const pairs = new Map<number, Pair>();
let started = false;
let activityTimer: NodeJS.Timeout | undefined;

function onPairEnd(id: number): void {
  const pair = pairs.get(id);
  if (pair === undefined) return;
  pairs.delete(id);
  pair.ended = true;
  if (pairs.size === 0) stopActivityPoll();
  for (const socket of pair.sockets) socket.destroy();
}

/** A Node socket ended (destroyed by the proxy, or an error): the thread ends the pair. */
function onSocketClose(this: Relayed): void {
  const pair = this[PAIR];
  if (pair !== undefined && !pair.ended) binding?.close(pair.handle);
}

function pollActivity(): void {
  if (binding === undefined) return;
  for (const pair of pairs.values()) {
    const count = binding.activity(pair.handle);
    if (count !== pair.seen) {
      pair.seen = count;
      pair.activity.touched();
    }
  }
}

function startActivityPoll(intervalMs: number): void {
  if (activityTimer !== undefined) return;
  activityTimer = setInterval(pollActivity, intervalMs);
  activityTimer.unref();
}

function stopActivityPoll(): void {
  clearInterval(activityTimer);
  activityTimer = undefined;
}

type Handle = { fd?: number; readStart?: () => number; readStop?: () => number; reading?: boolean };
const handleOf = (socket: net.Socket) => (socket as unknown as { _handle?: Handle | null })._handle;

/** What the stream holds already (read before the handover), concatenated, or null. */
function drained(socket: net.Socket): Buffer | null {
  const chunks: Buffer[] = [];
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
    chunks.push(chunk);
  }
  return chunks.length === 0 ? null : Buffer.concat(chunks);
}

/** Whether `socket` can be handed over: a plain TCP or unix socket, open both ways, nothing queued to write. */
function handOverable(socket: net.Socket): boolean {
  const handle = handleOf(socket);
  return (
    handle != null &&
    typeof handle.fd === 'number' &&
    handle.fd >= 0 &&
    typeof handle.readStop === 'function' &&
    !socket.destroyed &&
    !socket.readableEnded &&
    !socket.writableEnded &&
    socket.writableLength === 0
  );
}

/**
 * Hands `a` and `b` (a WebSocket's client and server sockets, after the 101) to the native relay; false
 * (nothing changed) where it is not built or either socket cannot be handed over (still writing what
 * came before, TLS, not a descriptor), and the caller relays them itself. `activity` hears of chunks other
 * than pings and pongs, at most once per its interval.
 */
export function relayNatively(a: net.Socket, b: net.Socket, activity: ActivitySink): boolean {
  if (binding === undefined || !handOverable(a) || !handOverable(b)) return false;
  if (!started) {
    try {
      binding.start(onPairEnd);
    } catch {
      // No descriptor for its epoll or eventfd (the process's limit reached): the event loop relays this
      // one, and a later WebSocket tries again.
      return false;
    }
    started = true;
  }
  // Read what the streams hold first (reading may restart a handle's reads), then stop both handles:
  // from here until the thread watches the descriptors, the kernel keeps whatever arrives.
  const aToB = drained(a);
  const bToA = drained(b);
  for (const socket of [a, b]) {
    const handle = handleOf(socket) as Required<Handle>;
    handle.readStop();
    handle.reading = false;
  }
  let handle: NativePairHandle;
  try {
    handle = binding.add(handleOf(a)?.fd as number, handleOf(b)?.fd as number, aToB, bToA);
  } catch {
    // No descriptor to duplicate (the process's limit reached): the streams get their bytes back and the
    // handles read again, and the caller relays on the event loop. The reads are started here: each
    // stream still waits for the read it asked for before the stop, so it would not ask again.
    if (aToB !== null) a.unshift(aToB);
    if (bToA !== null) b.unshift(bToA);
    for (const socket of [a, b]) {
      const stopped = handleOf(socket) as Required<Handle>;
      stopped.readStart();
      stopped.reading = true;
    }
    return false;
  }
  const pair: Pair = { handle, sockets: [a, b], activity, seen: 0, ended: false };
  pairs.set(binding.id(handle), pair);
  for (const socket of pair.sockets) {
    (socket as Relayed)[PAIR] = pair;
    socket.on('close', onSocketClose);
  }
  startActivityPoll(activity.intervalMs);
  return true;
}

/** Bytes the native relay moved for the pair `socket` is in, either way (0 if it is not relayed so). */
export function relayedBytes(socket: net.Socket): number {
  const pair = (socket as Relayed)[PAIR];
  return pair === undefined || binding === undefined ? 0 : binding.moved(pair.handle);
}

/** Pairs open on the native relay (for tests and the bench). */
export const nativePairs = (): number => pairs.size;
