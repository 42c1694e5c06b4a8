import { SifuError } from '../errors.js';
import { proxyDeleteDuration, secondsSince, serverStopDuration } from '../metrics/metrics.js';
import type { Route } from '../routes.js';
import type { PoolStatus } from '../spawner/spawner.js';
import { HomeLease } from '../storage/lease.js';
import type { ServerRecord } from '../store/store.js';
import { Adoption } from './adoption.js';
import { RouteTable } from './route-table.js';
import type { SpawnProgress } from './spawn-progress.js';
import type { StartOptions } from './start-server.js';
import type { StartQueueStatus } from './start-slots.js';
import { StartsInFlight } from './starts-in-flight.js';

export type { ServerHomes } from './start-server.js';
export type ServerManagerOptions = StartOptions;

/**
 * Owns the lifecycle of every server this Sifu process routes to: start (single flight per user and
 * server, claimed in the store), stop, re-adoption after a restart, and noticing servers that died.
 * The route table it keeps is what the proxy reads on every request. Each job is in its own file:
 * `route-table.ts` (routes and activity), `starts-in-flight.ts` (single flight, progress, cancelling),
 * `start-server.ts` (one start), `adoption.ts` (boot, death watch, other replicas); this class composes
 * them and stops servers, the one act that touches routes, starts and the store.
 */
export class ServerManager {
  private readonly routes = new RouteTable();
  private readonly starts: StartsInFlight;
  private readonly adoption: Adoption;

  constructor(private readonly options: ServerManagerOptions) {
    this.starts = new StartsInFlight(
      options,
      this.routes,
      (user, server) => this.adoption.routeIfRunning(user, server),
      (user, server) => this.adoption.followElsewhere(user, server),
    );
    this.adoption = new Adoption({
      store: options.store,
      spawner: options.spawner,
      log: options.log,
      lease: options.homes.lease,
      routes: this.routes,
      isStarting: (user, server) => this.starts.isPending(user, server),
      startTimeoutMs: options.startTimeoutMs,
      ...(options.hosts ? { hosts: options.hosts } : {}),
    });
  }

  route(userName: string, serverName: string): Route | undefined {
    return this.routes.get(userName, serverName);
  }

  runningRoutes(): Array<Route & { lastActivity: number }> {
    return this.routes.all();
  }

  /** The routes to servers this host runs (the culler's, and the relay's: never through another relay). */
  localRoutes(): Array<Route & { lastActivity: number }> {
    return this.routes.local();
  }

  /** The route of a server this host runs; undefined for none or another host's. */
  localRoute(userName: string, serverName: string): Route | undefined {
    const route = this.routes.get(userName, serverName);
    return route && route.host === undefined ? route : undefined;
  }

  /** The start in flight, or the last one's outcome for a short while. */
  progress(userName: string, serverName: string): SpawnProgress | undefined {
    return this.starts.progress(userName, serverName);
  }

  isPending(userName: string, serverName: string): boolean {
    return this.starts.isPending(userName, serverName);
  }

  /** This process's burst queue: undefined when starts are not bounded (`spawner.maxConcurrentStarts`). */
  startQueue(): StartQueueStatus | undefined {
    return this.starts.queue();
  }

  /** The backend's warm pool as this process sees it; undefined when the backend has none. */
  warmPool(): PoolStatus | undefined {
    return this.options.spawner.poolStatus?.();
  }

  /**
   * Starts the server unless it is running or starting; returns its progress. Throws
   * SIFU_ERR_SERVER_ALREADY_RUNNING / SIFU_ERR_SERVER_PENDING when `exclusive` (the API's semantics).
   */
  start(
    userName: string,
    serverName: string,
    options: { exclusive?: boolean; here?: boolean; userOptions?: Record<string, unknown> } = {},
  ): Promise<SpawnProgress> {
    return this.starts.start(userName, serverName, options);
  }

  /** Cancels every start in flight and waits until each has cleaned up (Sifu is shutting down). */
  shutdown(): Promise<void> {
    return this.starts.shutdown();
  }

  /** Stops the server (or cancels its start). Files are never touched. Resolves when it is gone. */
  async stop(userName: string, serverName: string, reason = 'requested'): Promise<boolean> {
    const cancelled = this.starts.cancel(userName, serverName);
    if (cancelled) {
      await cancelled;
      return true;
    }
    const withdrawnAt = performance.now();
    this.routes.delete(userName, serverName);
    this.starts.forgetOutcome(userName, serverName);
    const { store, spawner, homes, log } = this.options;
    const record = await store.getServer(userName, serverName);
    if (!record) return false;
    if (!this.adoption.isLocal(record)) return this.stopElsewhere(record, reason);
    // No longer 'running' in the store while it stops: no replica (this one included) routes to it again.
    if (record.status === 'running') {
      await store.updateServer({ ...record, status: 'pending' }).catch((err: unknown) => {
        proxyDeleteDuration.observe({ status: 'failure' }, secondsSince(withdrawnAt));
        throw err;
      });
    }
    proxyDeleteDuration.observe({ status: 'success' }, secondsSince(withdrawnAt));
    if (Object.keys(record.state).length > 0) {
      const stoppingAt = performance.now();
      try {
        await spawner.stop(record.state);
        serverStopDuration.observe({ status: 'success' }, secondsSince(stoppingAt));
      } catch (err) {
        serverStopDuration.observe({ status: 'failure' }, secondsSince(stoppingAt));
        // Not stopped, or the backend cannot tell: the server is left as it was (running, routed), so a
        // stuck 'pending' row never locks the learner out, and the stop can be asked again.
        const now = await spawner.poll(record.state).catch(() => undefined);
        if (now?.status !== 'stopped') {
          await store.updateServer(record);
          if (record.status === 'running') this.routes.add(record);
          log.error({ err, user: userName, server: serverName }, 'stopping a server failed; it is kept');
          throw err;
        }
      }
    }
    // Its hub endpoint goes with it (the channel's sweep would close it too, within seconds).
    await this.options.hubChannel?.close(record).catch(() => {});
    await homes.lease.release(userName, HomeLease.holderOf(record));
    await store.deleteServer(userName, serverName, record.secret);
    await store.addEvent('server.stop', userName, { server: serverName, reason });
    log.info({ user: userName, server: serverName, reason }, 'server stopped');
    return true;
  }

  /**
   * A server of another host is stopped by that host (only it can reach the process); a host that is
   * gone has had its servers forgotten already, so its row is not there to find.
   */
  private async stopElsewhere(record: ServerRecord, reason: string): Promise<boolean> {
    const { hosts, peers } = this.options;
    const relayUrl = hosts?.relayOf(record.host as string);
    if (!relayUrl || !peers) {
      throw new SifuError(
        'SIFU_ERR_HOST_UNREACHABLE',
        'The host running this server cannot be reached. Please try again in a minute.',
        { logDetail: `host ${record.host} has no relay known here` },
      );
    }
    await peers.stop(relayUrl, record.userName, record.name, reason);
    this.routes.delete(record.userName, record.name);
    return true;
  }

  /** One server's row changed (pushed by the store): its route here follows it. */
  syncOne(userName: string, serverName: string): Promise<void> {
    return this.adoption.syncOne(userName, serverName);
  }

  /** Servers forgotten with a host that is gone: their routes go at once. */
  forget(servers: Array<Pick<ServerRecord, 'userName' | 'name'>>): void {
    this.adoption.forget(servers);
  }

  /** This host was declared gone while it ran: drops what it lost and stops those servers. */
  dropLost(): Promise<number> {
    return this.adoption.dropLost();
  }

  /** Servers running or starting on this host (for its heartbeat). */
  localCount(): number {
    return this.routes.local().length + this.starts.count();
  }

  /**
   * Re-adopts what the store says is running, before the proxy serves traffic: live servers get their
   * route back; dead ones (and starts that a crash interrupted) are forgotten and cleaned up.
   */
  adopt(): Promise<{ adopted: number; forgotten: number }> {
    return this.adoption.adopt();
  }

  /** Stops what the backend runs for Sifu but the store does not know (see `Adoption.stopOrphans`). */
  stopOrphans(): Promise<number> {
    return this.adoption.stopOrphans();
  }

  /** Brings this replica's routes in line with the store (servers started or stopped elsewhere). */
  syncRoutes(): Promise<{ added: number; removed: number }> {
    return this.adoption.syncRoutes();
  }

  /**
   * Where a server this process is not starting stands in the store: `running` (and now routed here),
   * `pending` (another replica or worker is starting or stopping it) or `gone`.
   */
  followElsewhere(userName: string, serverName: string): Promise<'running' | 'pending' | 'gone'> {
    return this.adoption.followElsewhere(userName, serverName);
  }

  /** Polls every routed server once; a dead one loses its route and row. Returns the names found dead. */
  /** Forgets pending rows a crash left (see `Adoption.forgetStalePending`); once per host. */
  forgetStalePending(now?: number): Promise<number> {
    return this.adoption.forgetStalePending(now);
  }

  checkRunning(): Promise<string[]> {
    return this.adoption.checkRunning();
  }

  /** Polls one server; false (and forgotten) when it died. */
  checkOne(userName: string, serverName: string): Promise<boolean> {
    return this.adoption.checkOne(userName, serverName);
  }

  /** Proxy traffic: kept in memory, written to the store by `flushActivity` (not on the hot path). */
  activity(userName: string, serverName: string, at: Date): void {
    this.routes.activity(userName, serverName, at);
  }

  flushActivity(): Promise<void> {
    return this.routes.flushActivity(this.options.store);
  }
}
