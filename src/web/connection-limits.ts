import { readFileSync } from 'node:fs';
import type net from 'node:net';

export interface ConnectionCaps {
  /** Most connections the server holds at once (new ones are closed at accept). */
  total: number;
  /** Most connections one remote address holds at once; 0 = no cap. */
  perAddress: number;
}

/** The soft limit on open files of this process (`ulimit -n`), or undefined where /proc cannot tell. */
function openFileLimit(): number | undefined {
  try {
    const line = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line?.[1] && line[1] !== 'unlimited' ? Number(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The total cap a port gets: the configured one, or with 0 a share of the open-file limit small enough that
 * both ports full still leave descriptors for the store, upstream connections and logs.
 */
export function totalCap(configured: number, limit = openFileLimit()): number {
  if (configured > 0) return configured;
  return Math.max(64, Math.floor((limit ?? 20_000) * 0.4));
}

/**
 * Caps a listening server's client connections, overall and per remote address, so that clients that
 * open connections and stall (slowloris) cannot take the descriptors every other client needs. A refused
 * connection is closed at once, before a byte is read.
 */
export function capConnections(server: net.Server, caps: ConnectionCaps): void {
  server.maxConnections = caps.total;
  if (caps.perAddress <= 0) return;
  const open = new Map<string, number>();
  // Registered first, so a refused socket never reaches the HTTP parser.
  server.prependListener('connection', (socket: net.Socket) => {
    const address = socket.remoteAddress ?? '';
    const count = open.get(address) ?? 0;
    if (count >= caps.perAddress) {
      socket.destroy();
      return;
    }
    open.set(address, count + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
