/**
 * A socket write without Node's Writable, where nothing is queued: one send(2) through the native addon
 * (native/send.c). Node's `socket.write` makes a write request, runs the stream's state machine and
 * queues a tick per write even when the kernel takes every byte at once, as it does for the proxy's small
 * heads and responses; profiles put that at about a twentieth of a proxied request's cost.
 *
 * Order is kept: the bytes go straight to the kernel only when neither the stream nor libuv holds
 * anything for the socket (nothing buffered, corked, in flight, connecting or ended), and what the kernel
 * does not take is written through `socket.write` after it. Every error goes to `socket.write` too, which
 * meets it again and reports it as Node does ('error', then destroyed). Bytes sent so are not in the
 * socket's `bytesWritten`. Without the addon, or for a socket that is not a plain descriptor (TLS), this
 * is `socket.write`.
 */
import type net from 'node:net';
import { addon } from './native-addon.js';

type Handle = { fd?: number; writeQueueSize?: number };
const handleOf = (socket: net.Socket) => (socket as unknown as { _handle?: Handle | null })._handle;

const send = addon?.send;

/** The descriptor `socket` may be written to directly now, or -1. */
function directFd(socket: net.Socket): number {
  if (socket.writableLength !== 0 || socket.writableCorked !== 0 || socket.connecting || !socket.writable)
    return -1;
  const handle = handleOf(socket);
  if (handle == null || handle.writeQueueSize !== 0) return -1;
  const fd = handle.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/** Writes `data` (a string as latin1) to `socket`, as `socket.write` would; false: wait for 'drain'. */
export function writeDirect(socket: net.Socket, data: Buffer | string): boolean {
  if (send !== undefined) {
    const fd = directFd(socket);
    if (fd !== -1) {
      const sent = send(fd, data);
      if (sent === data.length) return true;
      if (sent > 0) data = typeof data === 'string' ? data.slice(sent) : data.subarray(sent);
    }
  }
  return typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
}
