import { startQueueLength, startsRunning } from '../metrics/metrics.js';
import { cancelledError } from '../spawner/cancelled.js';

/** What the burst queue holds now: see `StartSlots.status`. */
export interface StartQueueStatus {
  /** `spawner.maxConcurrentStarts`. */
  limit: number;
  /** Starts holding a slot. */
  running: number;
  /** Who waits for a slot, first in line first. */
  waiting: string[];
}

/**
 * Bounds how many server starts run at once (`spawner.maxConcurrentStarts`). A class starting together
 * queues instead of overloading the host: each waiting start learns how many are ahead of it.
 */
export class StartSlots {
  private running = 0;
  private readonly waiting: Array<{ grant: () => void; ahead: (n: number) => void; who: string }> = [];

  constructor(private readonly limit: number) {}

  get queued(): number {
    return this.waiting.length;
  }

  /** The bound, the starts holding a slot, and who waits for one, first in line first (the admin page). */
  status(): StartQueueStatus {
    return { limit: this.limit, running: this.running, waiting: this.waiting.map((w) => w.who) };
  }

  /**
   * Resolves with a release function once a slot is free; `onWait(n)` is told the number of starts ahead,
   * first when queued, then each time the line moves. Rejects when `signal` aborts while waiting. `who`
   * names the start in `status()` (e.g. the user).
   */
  acquire(signal: AbortSignal, onWait: (ahead: number) => void, who = ''): Promise<() => void> {
    if (signal.aborted) return Promise.reject(cancelledError(signal));
    const release = (): void => {
      this.running -= 1;
      const next = this.waiting.shift();
      if (next) {
        this.running += 1;
        next.grant();
      }
      this.waiting.forEach((w, i) => {
        w.ahead(i + 1);
      });
      this.report();
    };
    if (this.running < this.limit) {
      this.running += 1;
      this.report();
      return Promise.resolve(once(release));
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal.removeEventListener('abort', onAbort);
          resolve(once(release));
        },
        ahead: onWait,
        who,
      };
      const onAbort = (): void => {
        const index = this.waiting.indexOf(entry);
        if (index >= 0) this.waiting.splice(index, 1);
        this.report();
        reject(cancelledError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
      this.report();
      onWait(this.waiting.length);
    });
  }

  private report(): void {
    startQueueLength.set(this.waiting.length);
    startsRunning.set(this.running);
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}
