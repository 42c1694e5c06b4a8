/**
 * Accepted sockets reading into one shared buffer. Node's `onread` option (a user buffer for reads)
 * exists for sockets Node creates, not for those a server accepts; here an accepted socket is switched to
 * it in place: its handle is given the buffer (`useUserBuffer`, what the option does at `connect`) and the
 * socket the fields the option sets, found by their symbols' names. Where this Node has not those fields,
 * nothing is switched and the caller reads the socket's 'data' events instead.
 *
 * The buffer: the kernel's bytes land in it and are parsed in place, without the ArrayBuffer Node
 * allocates for each read and the stream machinery that emits it (the floor measured for the proxy). One
 * for all: a read's callback runs to its end before libuv reads any socket again, so whatever outlives the
 * callback must be copied out of it first ({@link copyOut}).
 */
import type net from 'node:net';

const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** `bytes` itself, or a copy if it is (a view of) the shared buffer. */
export const copyOut = (bytes: Buffer): Buffer =>
  bytes.buffer === READ_BUFFER.buffer ? Buffer.from(bytes) : bytes;

interface UserBufferFields {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}
/** Found on the first socket switched (null: not looked for yet; undefined: this Node has none). */
let userBufferFields: UserBufferFields | undefined | null = null;

type Handle = { useUserBuffer?: (buffer: Uint8Array) => void };
const handleOf = (socket: net.Socket) => (socket as unknown as { _handle?: Handle | null })._handle;
const fieldsOf = (socket: net.Socket) => socket as unknown as Record<symbol, unknown>;

function findUserBufferFields(socket: net.Socket): UserBufferFields | undefined {
  const symbols = Object.getOwnPropertySymbols(socket);
  const named = (name: string) => symbols.find((symbol) => symbol.description === name);
  const buffer = named('kBuffer');
  const callback = named('kBufferCb');
  const generator = named('kBufferGen');
  if (buffer === undefined || callback === undefined || generator === undefined) return undefined;
  return { buffer, callback, generator };
}

/** The socket's read buffer: null (Node's reads), the shared one, or another (its own `onread`). */
function bufferOf(socket: net.Socket): unknown {
  if (typeof handleOf(socket)?.useUserBuffer !== 'function') return undefined;
  if (userBufferFields === null) userBufferFields = findUserBufferFields(socket);
  if (userBufferFields === undefined) return undefined;
  const fields = fieldsOf(socket);
  return fields[userBufferFields.generator] === null ? fields[userBufferFields.buffer] : undefined;
}

/**
 * Switches `socket` to reading into the shared buffer: each read calls `onRead` as a method of the socket
 * with a view of the bytes, valid during the call only. False if it cannot be switched. Reading goes on
 * unless the socket is paused (`pause()` stops its handle's reads in this mode, `resume()` starts them).
 */
export function readIntoSharedBuffer(
  socket: net.Socket,
  onRead: (this: net.Socket, bytes: Buffer) => void,
): boolean {
  const current = bufferOf(socket);
  // Switched already (a handed-over socket): only its callback changes. Someone else's buffer: no.
  if (!switchable(current)) return false;
  const fields = fieldsOf(socket);
  const { buffer, callback } = userBufferFields as UserBufferFields;
  if (current === null) {
    fields[buffer] = READ_BUFFER;
    (handleOf(socket) as Required<Handle>).useUserBuffer(READ_BUFFER);
  }
  fields[callback] = callbackFor(onRead);
  return true;
}

/** Whether a socket whose read buffer is `current` ({@link bufferOf}) reads, or may read, into the shared one. */
const switchable = (current: unknown): boolean => current === null || current === READ_BUFFER;

/** Whether {@link readIntoSharedBuffer} would switch `socket` (or has switched it). */
export const canReadIntoSharedBuffer = (socket: net.Socket): boolean => switchable(bufferOf(socket));

/** Node's read callback for `onRead`, made once per `onRead` (the raw server has one for all sockets). */
const callbacks = new WeakMap<object, (this: net.Socket, length: number) => boolean>();
function callbackFor(onRead: (this: net.Socket, bytes: Buffer) => void) {
  let callback = callbacks.get(onRead);
  if (callback === undefined) {
    callback = function (this: net.Socket, length: number): boolean {
      onRead.call(this, READ_BUFFER.subarray(0, length));
      return true; // Reading goes on unless paused.
    };
    callbacks.set(onRead, callback);
  }
  return callback;
}

/**
 * A switched socket given to someone who reads it as a stream (Node's server, after a handoff): from now
 * on its reads go to its stream as Node's own reads do, copied; reading stops while the stream's buffer
 * is full, as `push` says. The handle keeps the shared buffer (it cannot be taken back).
 */
export function readIntoStream(socket: net.Socket): void {
  const fields = userBufferFields as UserBufferFields;
  fieldsOf(socket)[fields.callback] = pushCopy;
}

function pushCopy(this: net.Socket, length: number): boolean {
  return this.push(Buffer.from(READ_BUFFER.subarray(0, length)));
}
