import { isSifuError, SifuError } from '../errors.js';
import { keyOf, type RouteTable } from './route-table.js';
import { createSpawnProgress, type LiveSpawn, readyProgress, type SpawnProgress } from './spawn-progress.js';
import { claimServer, type StartOptions, startServer } from './start-server.js';
import { type StartQueueStatus, StartSlots } from './start-slots.js';

/**
 * Single flight for starts: at most one start per user and server runs in this process (the store's
 * claim extends that to every process). Keeps each start's progress while it runs and its outcome for a
 * short while after, and cancels starts (a stop, or Sifu shutting down).
 */
export class StartsInFlight {
  private shuttingDown = false;
  private readonly spawns = new Map<string, LiveSpawn>();
  private readonly finished = new Map<string, { progress: SpawnProgress; until: number }>();
  /** Starts this process placed on another host, followed through the store until they end. */
  private readonly elsewhere = new Map<string, LiveSpawn>();
  private readonly slots: StartSlots | undefined;

  constructor(
    private readonly options: StartOptions,
    private readonly routes: RouteTable,
    /** Routes to the server when another replica runs it (the claim was theirs); true when routed. */
    private readonly followRunning: (userName: string, serverName: string) => Promise<boolean>,
    /** Where a server this process does not start stands (see `Adoption.followElsewhere`). */
    private readonly follow: (
      userName: string,
      serverName: string,
    ) => Promise<'running' | 'pending' | 'gone'>,
  ) {
    this.slots = options.maxConcurrentStarts ? new StartSlots(options.maxConcurrentStarts) : undefined;
  }

  /** The start in flight, or the last one's outcome for a short while. */
  progress(userName: string, serverName: string): SpawnProgress | undefined {
    const key = keyOf(userName, serverName);
    const finished = this.finished.get(key);
    return (
      this.spawns.get(key) ??
      this.elsewhere.get(key) ??
      (finished && finished.until > Date.now() ? finished.progress : undefined)
    );
  }

  /** Starts running in this process now. */
  count(): number {
    return this.spawns.size;
  }

  /** The burst queue (`spawner.maxConcurrentStarts`); undefined when starts are not bounded. */
  queue(): StartQueueStatus | undefined {
    return this.slots?.status();
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
    options: { exclusive?: boolean; here?: boolean; userOptions?: Record<string, unknown> } = {},
  ): Promise<SpawnProgress> {
    const key = keyOf(userName, serverName);
    if (this.routes.has(userName, serverName)) {
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
    const placed = this.elsewhere.get(key);
    if (placed) {
      if (options.exclusive)
        throw new SifuError('SIFU_ERR_SERVER_PENDING', `${userName}'s server is starting`);
      return placed;
    }
    if (this.shuttingDown) {
      throw new SifuError('SIFU_ERR_SPAWN_FAILED', 'Sifu is restarting; please try again in a moment.');
    }
    const started = options.here ? undefined : await this.placeElsewhere(userName, serverName, options);
    if (started) return started;
    const record = await claimServer(this.options, userName, serverName, options.userOptions);
    if (!record) {
      // Another replica holds the claim: never start a second server. If it already runs the server,
      // route to it from here too (any replica serves any learner).
      if (await this.followRunning(userName, serverName)) {
        if (options.exclusive) {
          throw new SifuError('SIFU_ERR_SERVER_ALREADY_RUNNING', `${userName}'s server is already running`);
        }
        return readyProgress();
      }
      throw new SifuError('SIFU_ERR_SERVER_PENDING', `${userName}'s server is being started elsewhere`);
    }
    if (this.shuttingDown) {
      // Shutdown began while the claim was being written: give the claim back, start nothing.
      await this.options.store.deleteServer(userName, serverName, record.secret);
      throw new SifuError('SIFU_ERR_SPAWN_FAILED', 'Sifu is restarting; please try again in a moment.');
    }
    const progress = createSpawnProgress();
    this.spawns.set(key, progress);
    this.finished.delete(key);
    void startServer(this.options, {
      record,
      progress,
      routes: this.routes,
      slots: this.slots,
      settle: (outcome) => this.settle(key, progress, outcome),
    });
    return progress;
  }

  /**
   * Placement: when another host has more room (see `Hosts.place`), asks it to start the server and
   * follows the start through the store; undefined when the start is this host's to make. A host that
   * cannot be reached leaves the start here (a learner is never refused for a peer's trouble).
   */
  private async placeElsewhere(
    userName: string,
    serverName: string,
    options: { exclusive?: boolean; userOptions?: Record<string, unknown> },
  ): Promise<SpawnProgress | undefined> {
    const { hosts, peers, log } = this.options;
    if (!hosts || !peers) return undefined;
    const target = await hosts.place();
    if (target === undefined) {
      throw new SifuError(
        'SIFU_ERR_NO_HOST',
        'No host can take a new notebook server right now. Please try again in a few minutes.',
        { logDetail: 'every host is draining or full (spawner.maxServers, memory)' },
      );
    }
    const relayUrl = target === hosts.hostId ? undefined : hosts.relayOf(target);
    if (relayUrl === undefined) return undefined;
    try {
      await peers.start(relayUrl, userName, serverName, options.userOptions);
    } catch (err) {
      if (isSifuError(err) && err.code === 'SIFU_ERR_HOST_UNREACHABLE') {
        log.warn(
          { user: userName, host: target, detail: err.logDetail },
          'placed host unreachable; starting here',
        );
        return undefined;
      }
      // Already being started there: followed as any start elsewhere is (the API's callers get the error).
      if (!isSifuError(err) || err.code !== 'SIFU_ERR_SERVER_PENDING' || options.exclusive) throw err;
    }
    log.info({ user: userName, server: serverName, host: target }, 'server placed on another host');
    return this.followPlaced(userName, serverName, target);
  }

  /** The progress of a start another host runs: a waiting event, then the end the store shows. */
  private followPlaced(userName: string, serverName: string, host: string): SpawnProgress {
    const key = keyOf(userName, serverName);
    const progress = createSpawnProgress();
    this.elsewhere.set(key, progress);
    progress.emit({ progress: 10, message: `Starting your notebook server (on ${host})` });
    const until = Date.now() + this.options.startTimeoutMs;
    const end = (outcome: 'ready' | 'failed', message: string, error?: SifuError) => {
      this.elsewhere.delete(key);
      progress.outcome = outcome;
      if (error) progress.error = error;
      this.remember(key, progress);
      progress.emit({ progress: 100, message });
    };
    const tick = async (): Promise<void> => {
      const state = await this.follow(userName, serverName).catch(() => 'pending' as const);
      if (state === 'running') return end('ready', 'Your notebook server is ready');
      if (state === 'gone' || Date.now() > until) {
        const error = new SifuError(
          'SIFU_ERR_SPAWN_FAILED',
          'Your notebook server could not be started. Please try again.',
          { logDetail: `the start placed on ${host} ended without a running server` },
        );
        return end('failed', error.message, error);
      }
      setTimeout(() => void tick(), 200).unref();
    };
    void tick();
    return progress;
  }

  /**
   * Records a start's outcome and forgets it as in flight, before its last event wakes anyone waiting on
   * `done`: whoever acts on the outcome (e.g. `stop`) then sees a settled start, never a finished one
   * still registered as in flight.
   */
  private settle(key: string, progress: LiveSpawn, outcome: 'ready' | 'failed'): void {
    progress.outcome = outcome;
    this.spawns.delete(key);
    this.remember(key, progress);
  }

  /** Keeps a start's outcome readable for a while; outcomes past it are dropped, not kept for ever. */
  private remember(key: string, progress: SpawnProgress): void {
    const now = Date.now();
    if (this.finished.size >= 64) {
      for (const [k, v] of this.finished) if (v.until <= now) this.finished.delete(k);
    }
    this.finished.set(key, { progress, until: now + (this.options.outcomeTtlMs ?? 60_000) });
  }

  /**
   * Cancels the start in flight, if any: undefined (at once) when there is none, else a promise settled
   * once the start has cleaned up.
   */
  cancel(userName: string, serverName: string): Promise<void> | undefined {
    const inFlight = this.spawns.get(keyOf(userName, serverName));
    if (!inFlight) return undefined;
    inFlight.abort.abort(new SifuError('SIFU_ERR_SPAWN_FAILED', 'the start was cancelled'));
    return inFlight.done;
  }

  /** Forgets the last start's outcome (its server is being stopped). */
  forgetOutcome(userName: string, serverName: string): void {
    this.finished.delete(keyOf(userName, serverName));
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
}
