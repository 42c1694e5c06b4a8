import type { Route } from '../routes.js';
import type { ServerRecord, Store } from '../store/store.js';

/**
 * A routed server and its proxy activity: `lastActivity` as seen here, `flushed` as the store has it;
 * `host` is set when the server runs on another host (the route goes through that host's relay).
 */
export type RoutedServer = Route & { lastActivity: number; flushed: number; host?: string };

/** How to reach a server of another host: its relay, and the key relays admit. */
export interface Via {
  host: string;
  relayUrl: string;
  relayKey: string;
}

export const keyOf = (userName: string, serverName: string): string => `${userName}/${serverName}`;

/**
 * The servers this process routes to: what the proxy reads on every request (one map lookup), with their
 * proxy activity, kept in memory and written to the store by `flushActivity` (never on the hot path).
 */
export class RouteTable {
  private readonly routes = new Map<string, RoutedServer>();

  get(userName: string, serverName: string): RoutedServer | undefined {
    return this.routes.get(keyOf(userName, serverName));
  }

  has(userName: string, serverName: string): boolean {
    return this.routes.has(keyOf(userName, serverName));
  }

  /** A copy: callers may add and delete routes while going through it. */
  all(): RoutedServer[] {
    return [...this.routes.values()];
  }

  /**
   * Routes to a running server (through `via` when it runs on another host); its activity starts from
   * the store's (or its start, if none yet), or stays what this process saw if it was routed already.
   */
  add(record: ServerRecord, via?: Via): void {
    const key = keyOf(record.userName, record.name);
    const before = this.routes.get(key);
    const last = Math.max((record.lastActivity ?? record.startedAt).getTime(), before?.lastActivity ?? 0);
    const route: RoutedServer = {
      userName: record.userName,
      serverName: record.name,
      target: via ? via.relayUrl : (record.url as string),
      secret: record.secret,
      lastActivity: last,
      flushed: before?.flushed ?? last,
    };
    if (via) {
      route.relayKey = via.relayKey;
      route.host = via.host;
    }
    this.routes.set(key, route);
  }

  /** The routes to servers this host runs (not through another host's relay). */
  local(): RoutedServer[] {
    return [...this.routes.values()].filter((route) => route.host === undefined);
  }

  delete(userName: string, serverName: string): void {
    this.routes.delete(keyOf(userName, serverName));
  }

  /** Proxy traffic to a routed server (unrouted ones are ignored). */
  activity(userName: string, serverName: string, at: Date): void {
    const route = this.routes.get(keyOf(userName, serverName));
    if (route) route.lastActivity = at.getTime();
  }

  /**
   * Takes in activity the store has from other replicas' traffic (their flushes), when newer than what
   * this process saw: the culler must see it. It is already stored, so it is not flushed again from here.
   */
  storedActivity(route: RoutedServer, stored: Date | null): void {
    const at = stored?.getTime() ?? 0;
    if (at > route.lastActivity) route.lastActivity = route.flushed = at;
  }

  /** Writes activity newer than the last flush to the store (the server's and its user's). */
  async flushActivity(store: Pick<Store, 'touchServer' | 'touchUser'>): Promise<void> {
    for (const route of this.routes.values()) {
      if (route.lastActivity <= route.flushed) continue;
      const at = route.lastActivity;
      await store.touchServer(route.userName, route.serverName, new Date(at));
      await store.touchUser(route.userName, new Date(at));
      // Marked only once written: activity whose write failed is written at the next flush, not lost.
      if (at > route.flushed) route.flushed = at;
    }
  }
}
