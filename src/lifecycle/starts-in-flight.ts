import { SifuError } from '../errors.js';
import { keyOf, type RouteTable } from './route-table.js';
import { createSpawnProgress, type LiveSpawn, readyProgress, type SpawnProgress } from './spawn-progress.js';
import { claimServer, type StartOptions, startServer } from './start-server.js';
import { StartSlots } from './start-slots.js';

/**
 * Single flight for starts: at most one start per user and server runs in this process (the store's
 * claim extends that to every process). Keeps each start's progress while it runs and its outcome for a
 * short while after, and cancels starts (a stop, or Sifu shutting down).
 */
export class StartsInFlight {
  private shuttingDown = false;
  private readonly spawns = new Map<string, LiveSpawn>();
  private readonly finished = new Map<string, { progress: SpawnProgress; until: number }>();
  private readonly slots: StartSlots | undefined;

  constructor(
    private readonly options: StartOptions,
    private readonly routes: RouteTable,
    /** Routes to the server when another replica runs it (the claim was theirs); true when routed. */
    private readonly followRunning: (userName: string, serverName: string) => Promise<boolean>,
  ) {
    this.slots = options.maxConcurrentStarts ? new StartSlots(options.maxConcurrentStarts) : undefined;
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
    if (this.shuttingDown) {
      throw new SifuError('SIFU_ERR_SPAWN_FAILED', 'Sifu is restarting; please try again in a moment.');
    }
    const record = await claimServer(this.options, userName, serverName);
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
      await this.options.store.deleteServer(userName, serverName);
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
   * Records a start's outcome and forgets it as in flight, before its last event wakes anyone waiting on
   * `done`: whoever acts on the outcome (e.g. `stop`) then sees a settled start, never a finished one
   * still registered as in flight.
   */
  private settle(key: string, progress: LiveSpawn, outcome: 'ready' | 'failed'): void {
    progress.outcome = outcome;
    this.spawns.delete(key);
    this.finished.set(key, { progress, until: Date.now() + (this.options.outcomeTtlMs ?? 60_000) });
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
