import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { newSecret } from '../auth/secrets.js';
import { isSifuError, SifuError } from '../errors.js';
import { baseUrlOf, type Route } from '../routes.js';
import { waitUntilReady } from '../spawner/ready.js';
import type { ProgressEvent, Spawner, Started, StartRequest } from '../spawner/spawner.js';
import { HomeLease } from '../storage/lease.js';
import type { ServerRecord, Store } from '../store/store.js';
import { createSpawnProgress, type LiveSpawn, readyProgress, type SpawnProgress } from './spawn-progress.js';
import { StartSlots } from './start-slots.js';

export interface ServerManagerOptions {
  store: Store;
  spawner: Spawner;
  log: Logger;
  homesDir: string;
  startTimeoutMs: number;
  /** How long a finished start's progress stays readable (a late progress subscriber sees the end). */
  outcomeTtlMs?: number;
  /** Starts running at once (`spawner.maxConcurrentStarts`); more wait in line with progress. Default: no bound. */
  maxConcurrentStarts?: number;
  /** The warm pool (src/pool): a started server bound to this request, or undefined to start one. */
  claimWarmServer?: (request: StartRequest) => Promise<Started | undefined>;
  /** Storage (src/storage): prepares the home (owner, quota) and holds the single-writer lease on it. */
  homes?: ServerHomes;
}

/** What the manager needs of storage; `Storage` in src/storage provides it. */
export interface ServerHomes {
  /** Creates the home if missing (right owner) and enforces the quota; returns its path. */
  prepareLaunch(userName: string): Promise<string>;
  readonly lease: Pick<HomeLease, 'acquire' | 'renew' | 'release'>;
}

const keyOf = (userName: string, serverName: string): string => `${userName}/${serverName}`;

/**
 * Owns the lifecycle of every server this Sifu process routes to: start (single flight per user and
 * server, claimed in the store), stop, re-adoption after a restart, and noticing servers that died.
 * The route table it keeps is what the proxy reads on every request.
 */
export class ServerManager {
  private shuttingDown = false;
  private readonly routes = new Map<string, Route & { lastActivity: number; flushed: number }>();
  private readonly spawns = new Map<string, LiveSpawn>();
  private readonly finished = new Map<string, { progress: SpawnProgress; until: number }>();

  private readonly slots: StartSlots | undefined;

  constructor(private readonly options: ServerManagerOptions) {
    this.slots = options.maxConcurrentStarts ? new StartSlots(options.maxConcurrentStarts) : undefined;
  }

  route(userName: string, serverName: string): Route | undefined {
    return this.routes.get(keyOf(userName, serverName));
  }

  runningRoutes(): Array<Route & { lastActivity: number }> {
    return [...this.routes.values()];
  }

  homeOf(userName: string): string {
    return join(this.options.homesDir, userName);
  }

  /** The start in flight, or the last one's outcome for a short while. */
  progress(userName: string, serverName: string): SpawnProgress | undefined {
    const key = keyOf(userName, serverName);
    const finished = this.finished.get(key);
    return this.spawns.get(key) ?? (finished && finished.until > Date.now() ? finished.progress : undefined);
  }

  isPending(userName: string, serverName: string): boolean {
    return this.spawns.has(keyOf(userName, serverName));
  }

  /**
   * Starts the server unless it is running or starting; returns its progress. Throws
   * SIFU_ERR_SERVER_ALREADY_RUNNING / SIFU_ERR_SERVER_PENDING when `exclusive` (the API's semantics).
   */
  async start(
    userName: string,
    serverName: string,
    options: { exclusive?: boolean } = {},
  ): Promise<SpawnProgress> {
    const key = keyOf(userName, serverName);
    if (this.routes.has(key)) {
      if (options.exclusive) {
        throw new SifuError('SIFU_ERR_SERVER_ALREADY_RUNNING', `${userName}'s server is already running`);
      }
      return readyProgress();
    }
    const inFlight = this.spawns.get(key);
    if (inFlight) {
      if (options.exclusive)
        throw new SifuError('SIFU_ERR_SERVER_PENDING', `${userName}'s server is starting`);
      return inFlight;
    }
    if (this.shuttingDown) {
      throw new SifuError('SIFU_ERR_SPAWN_FAILED', 'Sifu is restarting; please try again in a moment.');
    }
    const { store, spawner } = this.options;
    const record: ServerRecord = {
      userName,
      name: serverName,
      backend: spawner.backend,
      state: {},
      url: null,
      secret: newSecret(),
      status: 'pending',
      startedAt: new Date(),
      lastActivity: null,
    };
    if (!(await store.claimServer(record))) {
      // Another replica holds the claim: never start a second server. If it already runs the server,
      // route to it from here too (any replica serves any learner).
      if (await this.adoptFromStore(userName, serverName)) {
        if (options.exclusive) {
          throw new SifuError('SIFU_ERR_SERVER_ALREADY_RUNNING', `${userName}'s server is already running`);
        }
        return readyProgress();
      }
      throw new SifuError('SIFU_ERR_SERVER_PENDING', `${userName}'s server is being started elsewhere`);
    }
    if (this.shuttingDown) {
      // Shutdown began while the claim was being written: give the claim back, start nothing.
      await store.deleteServer(userName, serverName);
      throw new SifuError('SIFU_ERR_SPAWN_FAILED', 'Sifu is restarting; please try again in a moment.');
    }
    const progress = createSpawnProgress();
    this.spawns.set(key, progress);
    this.finished.delete(key);
    void this.runStart(record, progress);
    return progress;
  }

  private async runStart(record: ServerRecord, progress: LiveSpawn) {
    const { store, spawner, log, startTimeoutMs } = this.options;
    const { userName, name: serverName } = record;
    const emit = (event: ProgressEvent) => progress.emit(event);
    const timer = setTimeout(
      () =>
        progress.abort.abort(
          new SifuError(
            'SIFU_ERR_SPAWN_TIMEOUT',
            'Your notebook server took too long to start. Please try again.',
          ),
        ),
      startTimeoutMs,
    );
    const started0 = Date.now();
    let state: Record<string, unknown> | undefined;
    let leased = false;
    let releaseSlot: (() => void) | undefined;
    try {
      emit({ progress: 5, message: 'Preparing your files' });
      const home = this.homeOf(userName);
      const homes = this.options.homes;
      if (homes) {
        await homes.prepareLaunch(userName);
        // One writer per home, across processes and hosts: taken before anything starts.
        if (!(await homes.lease.acquire(userName, HomeLease.holderOf(record)))) {
          throw new SifuError(
            'SIFU_ERR_HOME_IN_USE',
            'Your files are in use by another of your notebook servers. Stop it, then try again.',
          );
        }
        leased = true;
      } else {
        await mkdir(home, { recursive: true, mode: 0o700 });
      }
      emit({ progress: 10, message: 'Starting your notebook server' });
      const request = {
        userName,
        serverName,
        baseUrl: baseUrlOf(userName, serverName),
        secret: record.secret,
        home,
      };
      const warm = await this.options.claimWarmServer?.(request);
      if (!warm && this.slots) {
        releaseSlot = await this.slots.acquire(progress.abort.signal, (ahead) =>
          emit({ progress: 10, message: `Waiting for a free slot (${ahead} ahead)` }),
        );
      }
      const launched =
        warm ?? (await spawner.start(request, { progress: emit, signal: progress.abort.signal }));
      state = launched.state;
      await store.updateServer({ ...record, state, url: launched.url });
      emit({ progress: 50, message: 'Waiting for your notebook server to answer' });
      await waitUntilReady({
        url: launched.url,
        baseUrl: baseUrlOf(userName, serverName),
        secret: record.secret,
        timeoutMs: Math.max(1, startTimeoutMs - (Date.now() - started0)),
        signal: progress.abort.signal,
        poll: () => spawner.poll(launched.state),
      });
      if (progress.abort.signal.aborted) throw abortError(progress.abort.signal);
      const running: ServerRecord = { ...record, state, url: launched.url, status: 'running' };
      await store.updateServer(running);
      this.addRoute(running);
      await store.addEvent('server.start', userName, { server: serverName, ms: Date.now() - started0 });
      log.info({ user: userName, server: serverName, ms: Date.now() - started0 }, 'server ready');
      this.settle(record, progress, 'ready');
      emit({ progress: 100, message: 'Your notebook server is ready' });
    } catch (err) {
      const error = progress.abort.signal.aborted ? abortError(progress.abort.signal) : toSifuError(err);
      log.warn(
        { user: userName, server: serverName, code: error.code, detail: error.logDetail },
        error.message,
      );
      try {
        if (state) await spawner.stop(state);
        if (leased) await this.options.homes?.lease.release(userName, HomeLease.holderOf(record));
        await store.deleteServer(userName, serverName);
        await store.addEvent('server.start_failed', userName, { server: serverName, code: error.code });
      } catch (cleanupError) {
        // Left for the next adoption pass to find; never an unhandled rejection.
        log.error({ err: cleanupError, user: userName }, 'cleanup after a failed start');
      }
      progress.error = error;
      this.settle(record, progress, 'failed');
      emit({ progress: 100, message: error.message });
    } finally {
      clearTimeout(timer);
      releaseSlot?.();
    }
  }

  /**
   * Records a start's outcome and forgets it as in flight, before its last event wakes anyone waiting on
   * `done`: whoever acts on the outcome (e.g. `stop`) then sees a settled start, never a finished one
   * still registered as in flight.
   */
  private settle(record: ServerRecord, progress: LiveSpawn, outcome: 'ready' | 'failed'): void {
    const key = keyOf(record.userName, record.name);
    progress.outcome = outcome;
    this.spawns.delete(key);
    this.finished.set(key, { progress, until: Date.now() + (this.options.outcomeTtlMs ?? 60_000) });
  }

  /** Cancels every start in flight and waits until each has cleaned up (Sifu is shutting down). */
  async shutdown(): Promise<void> {
    // No start may begin after this point: it would outlive the process that should stop it.
    this.shuttingDown = true;
    const inFlight = [...this.spawns.values()];
    for (const spawn of inFlight) {
      spawn.abort.abort(new SifuError('SIFU_ERR_SPAWN_FAILED', 'Sifu is shutting down; please try again.'));
    }
    await Promise.all(inFlight.map((spawn) => spawn.done));
  }

  /** Stops the server (or cancels its start). Files are never touched. Resolves when it is gone. */
  async stop(userName: string, serverName: string, reason = 'requested'): Promise<boolean> {
    const key = keyOf(userName, serverName);
    const inFlight = this.spawns.get(key);
    if (inFlight) {
      inFlight.abort.abort(new SifuError('SIFU_ERR_SPAWN_FAILED', 'the start was cancelled'));
      await inFlight.done;
      return true;
    }
    this.routes.delete(key);
    this.finished.delete(key);
    const record = await this.options.store.getServer(userName, serverName);
    if (!record) return false;
    // No longer 'running' in the store while it stops: no replica (this one included) routes to it again.
    if (record.status === 'running') await this.options.store.updateServer({ ...record, status: 'pending' });
    if (Object.keys(record.state).length > 0) await this.options.spawner.stop(record.state);
    await this.options.homes?.lease.release(userName, HomeLease.holderOf(record));
    await this.options.store.deleteServer(userName, serverName);
    await this.options.store.addEvent('server.stop', userName, { server: serverName, reason });
    this.options.log.info({ user: userName, server: serverName, reason }, 'server stopped');
    return true;
  }

  /**
   * Re-adopts what the store says is running, before the proxy serves traffic: live servers get their
   * route back; dead ones (and starts that a crash interrupted) are forgotten and cleaned up.
   */
  async adopt(): Promise<{ adopted: number; forgotten: number }> {
    const { store, spawner, log } = this.options;
    let adopted = 0;
    let forgotten = 0;
    for (const record of await store.listServers()) {
      if (record.backend !== spawner.backend) {
        log.warn({ user: record.userName, backend: record.backend }, 'server of another backend left alone');
        continue;
      }
      const hasState = Object.keys(record.state).length > 0;
      const alive = hasState ? (await spawner.poll(record.state)).status === 'running' : false;
      if (alive && record.status === 'running' && record.url) {
        await this.options.homes?.lease.acquire(record.userName, HomeLease.holderOf(record));
        this.addRoute(record);
        adopted += 1;
        continue;
      }
      // Dead, or a start that a crash interrupted: its learner will simply start again.
      if (alive) await spawner.stop(record.state).catch(() => {});
      await this.options.homes?.lease.release(record.userName, HomeLease.holderOf(record));
      await store.deleteServer(record.userName, record.name);
      await store.addEvent('server.forgotten', record.userName, {
        server: record.name,
        status: record.status,
      });
      forgotten += 1;
    }
    const orphans = await this.stopOrphans();
    log.info({ adopted, forgotten, orphans }, 're-adopted running servers');
    return { adopted, forgotten };
  }

  /**
   * Stops what the backend runs for Sifu but the store does not know (e.g. a start whose row was lost
   * with a crash): found by `Spawner.list`, matched to rows by user, server and the state's ids.
   */
  async stopOrphans(): Promise<number> {
    const { store, spawner, log } = this.options;
    const listed = (await spawner.list?.()) ?? [];
    let stopped = 0;
    for (const server of listed) {
      const record = await store.getServer(server.userName, server.serverName);
      // A start in flight (here or in another replica) has its row but not yet its state: not an orphan.
      if (record?.status === 'pending') continue;
      const ids = Object.entries(server.state).filter(([k]) => k.endsWith('Id'));
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
    const running = new Map<string, ServerRecord>();
    for (const record of await this.options.store.listServers()) {
      if (record.status === 'running' && record.url && record.backend === this.options.spawner.backend) {
        running.set(keyOf(record.userName, record.name), record);
      }
    }
    let added = 0;
    let removed = 0;
    for (const key of [...this.routes.keys()]) {
      if (!running.has(key) && !this.spawns.has(key)) {
        this.routes.delete(key);
        removed += 1;
      }
    }
    for (const [key, record] of running) {
      const route = this.routes.get(key);
      if (route) {
        // Traffic other replicas proxied (flushed to the store) counts here too: the culler must see it.
        const stored = record.lastActivity?.getTime() ?? 0;
        if (stored > route.lastActivity) route.lastActivity = route.flushed = stored;
      } else if (!this.spawns.has(key)) {
        this.addRoute(record);
        added += 1;
      }
    }
    return { added, removed };
  }

  /** Routes to a server another replica started, when the store says it runs and it answers a poll. */
  /**
   * Where a server this process is not starting stands in the store: `running` (and now routed here),
   * `pending` (another replica or worker is starting or stopping it) or `gone`.
   */
  async followElsewhere(userName: string, serverName: string): Promise<'running' | 'pending' | 'gone'> {
    if (this.routes.has(keyOf(userName, serverName))) return 'running';
    if (await this.adoptFromStore(userName, serverName)) return 'running';
    const record = await this.options.store.getServer(userName, serverName);
    return record ? 'pending' : 'gone';
  }

  private async adoptFromStore(userName: string, serverName: string): Promise<boolean> {
    const record = await this.options.store.getServer(userName, serverName);
    if (record?.status !== 'running' || !record.url || record.backend !== this.options.spawner.backend)
      return false;
    const poll = await this.options.spawner.poll(record.state).catch(() => null);
    if (poll?.status !== 'running') return false;
    this.addRoute(record);
    return true;
  }

  /** Polls every routed server once; a dead one loses its route and row. Returns the names found dead. */
  async checkRunning(): Promise<string[]> {
    const dead: string[] = [];
    for (const route of [...this.routes.values()]) {
      if (await this.checkOne(route.userName, route.serverName)) continue;
      dead.push(keyOf(route.userName, route.serverName));
    }
    return dead;
  }

  /** Polls one server; false (and forgotten) when it died. */
  async checkOne(userName: string, serverName: string): Promise<boolean> {
    const { store, spawner, log } = this.options;
    const record = await store.getServer(userName, serverName);
    if (record?.status !== 'running') return this.spawns.has(keyOf(userName, serverName));
    const result = await spawner.poll(record.state).catch(() => ({ status: 'running' as const }));
    if (result.status === 'running') {
      await this.options.homes?.lease.renew(userName, HomeLease.holderOf(record));
      return true;
    }
    this.routes.delete(keyOf(userName, serverName));
    await this.options.homes?.lease.release(userName, HomeLease.holderOf(record));
    await store.deleteServer(userName, serverName);
    await store.addEvent('server.died', userName, { server: serverName, reason: result.reason });
    log.warn({ user: userName, server: serverName, reason: result.reason }, 'server died');
    return false;
  }

  /** Proxy traffic: kept in memory, written to the store by `flushActivity` (not on the hot path). */
  activity(userName: string, serverName: string, at: Date): void {
    const route = this.routes.get(keyOf(userName, serverName));
    if (route) route.lastActivity = at.getTime();
  }

  async flushActivity(): Promise<void> {
    for (const route of this.routes.values()) {
      if (route.lastActivity <= route.flushed) continue;
      route.flushed = route.lastActivity;
      const at = new Date(route.lastActivity);
      await this.options.store.touchServer(route.userName, route.serverName, at);
      await this.options.store.touchUser(route.userName, at);
    }
  }

  private addRoute(record: ServerRecord): void {
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
}

function abortError(signal: AbortSignal): SifuError {
  const reason = signal.reason;
  if (isSifuError(reason)) return reason;
  return new SifuError(
    'SIFU_ERR_SPAWN_TIMEOUT',
    'Your notebook server took too long to start. Please try again.',
  );
}

function toSifuError(err: unknown): SifuError {
  if (isSifuError(err)) return err;
  return new SifuError('SIFU_ERR_SPAWN_FAILED', 'Your notebook server could not be started.', {
    logDetail: err instanceof Error ? err.stack : String(err),
    cause: err,
  });
}
