import type { SifuError } from '../errors.js';
import type { ProgressEvent } from '../spawner/spawner.js';

/** One start in flight: its progress so far, for the spawn page and the progress API. */
export interface SpawnProgress {
  readonly events: ProgressEvent[];
  /** Settles when the start ends; never rejects (see `error`). */
  readonly done: Promise<void>;
  outcome: 'pending' | 'ready' | 'failed';
  error?: SifuError;
  subscribe(listener: (event: ProgressEvent) => void): () => void;
}

/** The manager's side of a start in flight: it emits events and may abort the start. */
export type LiveSpawn = SpawnProgress & { emit(event: ProgressEvent): void; abort: AbortController };

/**
 * A progress channel for one start: events never go backwards (the spawn page's bar only grows), late
 * subscribers read `events`, and `done` settles with the first event emitted after the outcome is set.
 */
export function createSpawnProgress(): LiveSpawn {
  const listeners = new Set<(event: ProgressEvent) => void>();
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const progress: LiveSpawn = {
    events: [],
    done,
    outcome: 'pending',
    abort: new AbortController(),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(event) {
      const last = progress.events.at(-1)?.progress ?? 0;
      const clean = { progress: Math.max(last, event.progress), message: event.message };
      progress.events.push(clean);
      for (const listener of listeners) listener(clean);
      if (progress.outcome !== 'pending') resolveDone();
    },
  };
  return progress;
}

/** The progress of a server that is already running. */
export function readyProgress(): SpawnProgress {
  const progress = createSpawnProgress();
  progress.outcome = 'ready';
  progress.emit({ progress: 100, message: 'Your notebook server is ready' });
  return progress;
}
