import type { Logger } from 'pino';
import {
  checkRoutesDuration,
  proxyPollDuration,
  secondsSince,
  serverPollDuration,
} from '../metrics/metrics.js';
import type { Spawner } from '../spawner/spawner.js';
import { HomeLease } from '../storage/lease.js';
import type { ServerRecord, Store } from '../store/store.js';
import type { Hosts } from './hosts.js';
import { keyOf, type RoutedServer, type RouteTable, type Via } from './route-table.js';
import type { ServerHomes } from './start-server.js';

export interface AdoptionOptions {
  store: Store;
  spawner: Spawner;
  log: Logger;
  lease: ServerHomes['lease'];
  routes: RouteTable;
  /** True while this process is starting the server: its start decides, not a poll or the store. */
  isStarting: (userName: string, serverName: string) => boolean;
  /** The hosts sharing the store; absent: every server is this host's. */
  hosts?: Hosts;
  /** `spawner.startTimeout`: no start in flight anywhere is older than this (it fails and cleans up). */
  startTimeoutMs: number;
}

/** Past the start timeout, the time a failing start takes to clean up after itself. */
const START_CLEANUP_GRACE_MS = 30_000;

/**
 * Keeps the route table true to what runs: re-adoption at boot (and orphans), the death watch (polling
 * routed servers, renewing their leases) and following the store for servers other replicas start or stop.
 */
/** Servers re-adopted at once at start. */
const ADOPT_CONCURRENCY = 16;

export class Adoption {
  /** This host's pending rows (user/server and secret) and when this process first saw each pending. */
  private pendingSince = new Map<string, number>();

  constructor(private readonly options: AdoptionOptions) {}

  /** True when the server runs on this host (its row names it, or names no host). */
  isLocal(record: Pick<ServerRecord, 'host'>): boolean {
    return this.options.hosts?.isLocal(record.host) ?? true;
  }

  /**
   * How this process reaches a server: undefined for one of this host (directly), a `Via` for one of a
   * live host with a relay, null for one it cannot reach (its host is gone or has no relay).
   */
  private via(record: ServerRecord): Via | undefined | null {
    const { hosts } = this.options;
    if (!hosts || this.isLocal(record)) return undefined;
    const relayUrl = hosts.relayOf(record.host as string);
    return relayUrl ? { host: record.host as string, relayUrl, relayKey: hosts.relayKey } : null;
  }

  /** Routes a running server, directly or through its host's relay; false when it cannot be reached. */
  private route(record: ServerRecord): boolean {
    const via = this.via(record);
    if (via === null) return false;
    this.options.routes.add(record, via);
    return true;
  }

  /**
   * Re-adopts what the store says is running, before the proxy serves traffic: live servers get their
   * route back; dead ones (and starts that a crash interrupted) are forgotten and cleaned up.
   */
  async adopt(): Promise<{ adopted: number; forgotten: number }> {
    const { store, spawner, log, lease, routes } = this.options;
    let adopted = 0;
    let forgotten = 0;
    const adoptOne = async (record: ServerRecord): Promise<void> => {
      if (record.backend !== spawner.backend) {
        log.warn({ user: record.userName, backend: record.backend }, 'server of another backend left alone');
        return;
      }
      // Another host's: that host polls it; it is routed through its relay below.
      if (!this.isLocal(record)) return;
      const hasState = Object.keys(record.state).length > 0;
      const alive =
        hasState &&
        (await spawner.poll(record.state).then(
          (result) => result.status === 'running',
          (err: unknown) => {
            // Cannot tell (the engine is down): kept as running, as checkOne does; the next poll decides.
            // Failing here would keep Sifu from starting, and every learner out, until the engine is back.
            log.warn({ err, user: record.userName, server: record.name }, 'cannot poll a server at start');
            return true;
          },
        ));
      if (alive && record.status === 'running' && record.url) {
        await lease.acquire(record.userName, HomeLease.holderOf(record));
        routes.add(record);
        adopted += 1;
        return;
      }
      // A start still in flight in another process of this host (a worker booting after another began
      // serving, or another replica) must not lose its row: only one older than any start can be is left
      // over from a crash. `forgetStalePending` takes it later if it is.
      if (record.status === 'pending' && !this.isStale(record)) return;
      // Dead, or a start that a crash interrupted: its learner will simply start again.
      if (alive) await spawner.stop(record.state).catch(() => {});
      await this.forgetRow(record);
      forgotten += 1;
    };
    // Several at a time (each is a poll and a store round trip): a host with a thousand servers is
    // serving again within a second, not after a thousand round trips in a row.
    const queue = await store.listServers();
    const worker = async (): Promise<void> => {
      for (let record = queue.shift(); record; record = queue.shift()) await adoptOne(record);
    };
    await Promise.all(Array.from({ length: ADOPT_CONCURRENCY }, worker));
    const orphans = await this.stopOrphans();
    const { added } = await this.syncRoutes();
    log.info({ adopted, forgotten, orphans, remote: added }, 're-adopted running servers');
    return { adopted, forgotten };
  }

  /** A pending row older than any start in flight can be: its start was cut short by a crash. */
  private isStale(record: Pick<ServerRecord, 'startedAt'>, now = Date.now()): boolean {
    return now - record.startedAt.getTime() > this.options.startTimeoutMs + START_CLEANUP_GRACE_MS;
  }

  /** Forgets a server that no longer runs (or never will): its lease, its row, an event saying so. */
  private async forgetRow(record: ServerRecord): Promise<void> {
    const { store, lease } = this.options;
    await lease.release(record.userName, HomeLease.holderOf(record));
    await store.deleteServer(record.userName, record.name, record.secret);
    await store.addEvent('server.forgotten', record.userName, { server: record.name, status: record.status });
  }

  /**
   * Forgets this host's pending rows that no start or stop can still be making: pending since this
   * process first saw them for longer than any start may take (and older than that by their start
   * time). A crashed process leaves such rows, which would otherwise hold their learner's server as
   * "starting" for ever. What such a start launched is stopped. Returns how many were forgotten.
   */
  async forgetStalePending(now = Date.now()): Promise<number> {
    const { store, spawner, log, isStarting } = this.options;
    const seen = new Map<string, number>();
    let forgotten = 0;
    for (const record of await store.listServers()) {
      if (record.status !== 'pending' || record.backend !== spawner.backend || !this.isLocal(record))
        continue;
      // A stop marks its row pending too, with the start's old time: since when it is pending counts.
      const key = `${keyOf(record.userName, record.name)} ${record.secret}`;
      const since = this.pendingSince.get(key) ?? now;
      seen.set(key, since);
      if (isStarting(record.userName, record.name)) continue;
      if (!this.isStale(record, now) || !this.isStale({ startedAt: new Date(since) }, now)) continue;
      if (Object.keys(record.state).length > 0) await spawner.stop(record.state).catch(() => {});
      await this.forgetRow(record);
      seen.delete(key);
      log.warn({ user: record.userName, server: record.name }, 'forgot a start or stop a crash left pending');
      forgotten += 1;
    }
    this.pendingSince = seen;
    return forgotten;
  }

  /**
   * Stops what the backend runs for Sifu but the store does not know (e.g. a start whose row was lost
   * with a crash): found by `Spawner.list`, matched to rows by user, server and the state's ids.
   */
  async stopOrphans(): Promise<number> {
    const { store, spawner, log } = this.options;
    let listed: Awaited<ReturnType<NonNullable<typeof spawner.list>>> = [];
    try {
      listed = (await spawner.list?.()) ?? [];
    } catch (err) {
      // The next start's sweep stops them; a backend that cannot list now must not stop Sifu starting.
      log.warn({ err }, 'cannot list the backend for orphans; left for the next start');
      return 0;
    }
    let stopped = 0;
    // One read of the rows, not one per listed server: a host may have a thousand.
    const rows = listed.length > 0 ? await store.listServers() : [];
    const byKey = new Map(rows.map((r) => [keyOf(r.userName, r.name), r]));
    for (const server of listed) {
      const record = byKey.get(keyOf(server.userName, server.serverName));
      // A start in flight (here or in another replica) has its row but not yet its state: not an orphan.
      if (record?.status === 'pending') continue;
      // What tells one start from another: the backend's ids (container, service), or a process's pid
      // and start time.
      const ids = Object.entries(server.state).filter(
        ([k]) => k.endsWith('Id') || k === 'pid' || k === 'startTime',
      );
      const known = record?.backend === spawner.backend && ids.every(([k, v]) => record.state[k] === v);
      if (known) continue;
      log.warn({ user: server.userName, server: server.serverName }, 'stopping an orphaned server');
      await spawner.stop(server.state).catch((err) => log.error({ err }, 'stopping an orphan'));
      stopped += 1;
    }
    return stopped;
  }

  /**
   * Brings this replica's routes in line with the store: servers other replicas started get a route here,
   * servers stopped elsewhere lose theirs. The store is the truth; the replica that started a server polls
   * it, so no poll is made here. Starts and stops in flight in this process are left to themselves.
   */
  async syncRoutes(): Promise<{ added: number; removed: number }> {
    const startedAt = performance.now();
    const { added, removed } = await this.reconcileRoutes();
    checkRoutesDuration.observe(secondsSince(startedAt));
    return { added, removed };
  }

  private async reconcileRoutes(): Promise<{ added: number; removed: number }> {
    const { store, spawner, routes, isStarting } = this.options;
    const running = new Map<string, ServerRecord>();
    const pollAt = performance.now();
    const rows = await store.listServers();
    proxyPollDuration.observe(secondsSince(pollAt));
    for (const record of rows) {
      if (record.status === 'running' && record.url && record.backend === spawner.backend) {
        running.set(keyOf(record.userName, record.name), record);
      }
    }
    let added = 0;
    let removed = 0;
    for (const route of routes.all()) {
      const { userName, serverName } = route;
      if (!running.has(keyOf(userName, serverName)) && !isStarting(userName, serverName)) {
        routes.delete(userName, serverName);
        removed += 1;
      }
    }
    for (const record of running.values()) {
      if (isStarting(record.userName, record.name)) continue;
      const route = routes.get(record.userName, record.name);
      if (route && route.secret === record.secret && this.sameWay(route, record)) {
        routes.storedActivity(route, record.lastActivity);
      } else if (this.route(record)) {
        if (!route) added += 1;
      } else if (route) {
        routes.delete(record.userName, record.name);
        removed += 1;
      }
    }
    return { added, removed };
  }

  /** Whether a route still goes the way the record's host is reached now (directly, or that relay). */
  private sameWay(route: RoutedServer, record: ServerRecord): boolean {
    const via = this.via(record);
    return via === undefined ? route.host === undefined : via !== null && route.target === via.relayUrl;
  }

  /**
   * One server changed in the store (pushed by the database): its route here follows the row. A start
   * in flight in this process decides for itself.
   */
  async syncOne(userName: string, serverName: string): Promise<void> {
    const { store, spawner, routes, isStarting } = this.options;
    if (isStarting(userName, serverName)) return;
    const record = await store.getServer(userName, serverName);
    if (isStarting(userName, serverName)) return;
    if (record?.status !== 'running' || !record.url || record.backend !== spawner.backend) {
      routes.delete(userName, serverName);
      return;
    }
    const route = routes.get(userName, serverName);
    if (route && route.secret === record.secret && this.sameWay(route, record)) {
      routes.storedActivity(route, record.lastActivity);
    } else if (!this.route(record)) {
      routes.delete(userName, serverName);
    }
  }

  /** Servers another host's end made the store forget: their routes go at once. */
  forget(servers: Array<Pick<ServerRecord, 'userName' | 'name'>>): void {
    for (const server of servers) this.options.routes.delete(server.userName, server.name);
  }

  /**
   * This host was declared gone while it still ran: routes to its servers whose rows are no longer its
   * go, and the servers are stopped (orphans now; their learners may have started again elsewhere).
   */
  async dropLost(): Promise<number> {
    const { store, routes } = this.options;
    let dropped = 0;
    for (const route of routes.local()) {
      const record = await store.getServer(route.userName, route.serverName);
      if (record?.secret === route.secret && this.isLocal(record)) continue;
      if (this.options.isStarting(route.userName, route.serverName)) continue;
      routes.delete(route.userName, route.serverName);
      dropped += 1;
    }
    await this.stopOrphans();
    return dropped;
  }

  /**
   * Where a server this process is not starting stands in the store: `running` (and now routed here),
   * `pending` (another replica or worker is starting or stopping it) or `gone`.
   */
  async followElsewhere(userName: string, serverName: string): Promise<'running' | 'pending' | 'gone'> {
    if (this.options.routes.has(userName, serverName)) return 'running';
    if (await this.routeIfRunning(userName, serverName)) return 'running';
    const record = await this.options.store.getServer(userName, serverName);
    return record ? 'pending' : 'gone';
  }

  /**
   * Routes to a server another replica started, when the store says it runs: polled first when it is
   * this host's; another host's is trusted to the store (that host polls it) and reached through its relay.
   */
  async routeIfRunning(userName: string, serverName: string): Promise<boolean> {
    const { store, spawner } = this.options;
    const record = await store.getServer(userName, serverName);
    if (record?.status !== 'running' || !record.url || record.backend !== spawner.backend) return false;
    if (this.isLocal(record)) {
      const poll = await spawner.poll(record.state).catch(() => null);
      if (poll?.status !== 'running') return false;
    }
    return this.route(record);
  }

  /** Polls every routed server once; a dead one loses its route and row. Returns the names found dead. */
  async checkRunning(): Promise<string[]> {
    const dead: string[] = [];
    // Another host's servers are that host's to poll.
    for (const route of this.options.routes.local()) {
      if (await this.checkOne(route.userName, route.serverName)) continue;
      dead.push(keyOf(route.userName, route.serverName));
    }
    return dead;
  }

  /** Polls one server; false (and forgotten) when it died. */
  async checkOne(userName: string, serverName: string): Promise<boolean> {
    const { store, spawner, log, lease, routes } = this.options;
    const record = await store.getServer(userName, serverName);
    if (record?.status !== 'running') return this.options.isStarting(userName, serverName);
    // Another host's: it polls its own; here the route is brought in line with the row (its host may be
    // gone, or the server moved).
    if (!this.isLocal(record)) {
      await this.syncOne(userName, serverName);
      return this.options.routes.has(userName, serverName);
    }
    const pollAt = performance.now();
    const result = await spawner.poll(record.state).catch(() => ({ status: 'running' as const }));
    serverPollDuration.observe({ status: result.status }, secondsSince(pollAt));
    if (result.status === 'running') {
      await lease.renew(userName, HomeLease.holderOf(record));
      return true;
    }
    routes.delete(userName, serverName);
    await lease.release(userName, HomeLease.holderOf(record));
    await store.deleteServer(userName, serverName, record.secret);
    await store.addEvent('server.died', userName, { server: serverName, reason: result.reason });
    log.warn({ user: userName, server: serverName, reason: result.reason }, 'server died');
    return false;
  }
}
