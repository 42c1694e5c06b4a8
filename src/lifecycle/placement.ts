import type { HostLoad, HostRecord } from '../store/store.js';

/** What one server is assumed to take when the backend sets no memory limit (for placement only). */
export const ASSUMED_SERVER_BYTES = 512 * 2 ** 20;

/**
 * Servers a host has room for: the smaller of what `spawner.maxServers` leaves and what its available
 * memory holds at `memLimit` per server (or {@link ASSUMED_SERVER_BYTES} without a limit). `servers` is
 * the count the store has now (fresher than the heartbeat's).
 */
export function roomOf(load: HostLoad, servers: number): number {
  const byCount = load.maxServers > 0 ? load.maxServers - servers : Number.POSITIVE_INFINITY;
  const byMemory = Math.floor(load.memAvailable / (load.memPerServer || ASSUMED_SERVER_BYTES));
  return Math.max(0, Math.min(byCount, byMemory));
}

/** A host that may take a new server now: alive (heard from within `freshMs`), not gone, not draining. */
export function acceptsServers(host: HostRecord, now: number, freshMs: number): boolean {
  return !host.gone && !host.draining && now - host.lastSeen.getTime() <= freshMs;
}

/**
 * Where a new server goes: among the hosts that accept servers (and that this one can reach: itself, or
 * through a relay), the one with the most room; this host on a tie (no hop for the learner's traffic),
 * then by id. Undefined when no host has room.
 */
export function placeServer(
  hosts: HostRecord[],
  selfId: string,
  serversPerHost: Map<string, number>,
  now: number,
  freshMs: number,
): string | undefined {
  let best: { id: string; room: number } | undefined;
  for (const host of hosts) {
    if (!acceptsServers(host, now, freshMs)) continue;
    if (host.id !== selfId && !host.relayUrl) continue;
    const room = roomOf(host.load, serversPerHost.get(host.id) ?? 0);
    if (room <= 0) continue;
    const better =
      best === undefined ||
      room > best.room ||
      (room === best.room && (host.id === selfId || (best.id !== selfId && host.id < best.id)));
    if (better) best = { id: host.id, room };
  }
  return best?.id;
}
