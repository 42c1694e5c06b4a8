import type { Route } from '../routes.js';
import type { ServerRecord, Store } from '../store/store.js';

/** A routed server and its proxy activity: `lastActivity` as seen here, `flushed` as the store has it. */
export type RoutedServer = Route & { lastActivity: number; flushed: number };

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

  /** Routes to a running server; its activity starts from the store's (or its start, if none yet). */
  add(record: ServerRecord): void {
    const last = (record.lastActivity ?? record.startedAt).getTime();
    this.routes.set(keyOf(record.userName, record.name), {
      userName: record.userName,
      serverName: record.name,
      target: record.url as string,
      secret: record.secret,
      lastActivity: last,
      flushed: last,
    });
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
