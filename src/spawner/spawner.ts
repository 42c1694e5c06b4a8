/**
 * The spawner contract: how Sifu starts, watches and stops one single-user server, whatever runs it
 * (a local process, a Docker container, a Swarm service...). Backends live in `src/spawner/<backend>/`
 * and all run the shared suite `spawnerContract` in `src/spawner/contract.ts`.
 *
 * A backend is stateless between calls except for what it returns as `state`: the core stores that
 * opaque JSON and hands it back to `poll` and `stop`, possibly in another Sifu process after a restart.
 * So `poll(state)` and `stop(state)` must work on a fresh backend instance that never saw the start.
 *
 * Readiness is not the backend's job: `start` resolves once the server is launched and reachable at
 * `url` in principle; the core then waits for `GET <url><baseUrl>api` with the secret to answer 200
 * (`waitUntilReady` in `src/spawner/ready.ts`), polling the backend meanwhile to notice a crash early.
 */

export interface StartRequest {
  userName: string;
  /** '' for the default server. */
  serverName: string;
  /** Path prefix the server must serve under, starting and ending with '/', e.g. `/user/ada/`. */
  baseUrl: string;
  /** The server's secret API token. Passed as JUPYTER_TOKEN in its environment, never in arguments. */
  secret: string;
  /** Absolute path of the user's home directory: the server's root directory. Already exists. */
  home: string;
  /** Extra environment for the server. */
  env?: Record<string, string>;
}

export interface Started {
  /** Origin the proxy forwards to, e.g. `http://127.0.0.1:45678` (no path). */
  url: string;
  /** Opaque JSON, enough for `poll` and `stop` to find the server again after a Sifu restart. */
  state: Record<string, unknown>;
}

export type PollResult =
  | { status: 'running' }
  /** `reason` is for the log (e.g. `exited with code 1`); `exitCode` when the backend knows it. */
  | { status: 'stopped'; reason: string; exitCode?: number | null };

export interface ProgressEvent {
  /** 0..100, never decreasing within one start. */
  progress: number;
  message: string;
}

export interface StartContext {
  /** Reports what the backend is doing; shown on the spawn page and in the progress API. */
  progress(event: ProgressEvent): void;
  /** Aborted when the start times out or is cancelled; the backend must then release what it made. */
  signal: AbortSignal;
}

export interface Spawner {
  /** The backend's name as in config (`local`, `docker`...), stored beside each server's state. */
  readonly backend: string;

  /**
   * Launches a server for `request`.
   *
   * May be called only when the core holds the server's claim in the store (so never twice at once for
   * one user and server name). Resolves with `url` and `state` as soon as the server is launched;
   * rejects with a `SifuError` (`SIFU_ERR_SPAWN_FAILED`, or `SIFU_ERR_SPAWN_CRASHED` if it died at once)
   * and leaves nothing behind. If `context.signal` aborts, rejects and cleans up.
   */
  start(request: StartRequest, context: StartContext): Promise<Started>;

  /**
   * Tells whether the server described by `state` is still running.
   *
   * May be called at any time after `start` resolved, any number of times, concurrently, and from a
   * different Sifu process than the one that started it. Never throws for a server that is gone:
   * returns `{ status: 'stopped' }`. Throws only when it cannot tell (e.g. the engine is unreachable).
   */
  poll(state: Record<string, unknown>): Promise<PollResult>;

  /**
   * Stops the server described by `state` and waits until it is gone: graceful first, forced after
   * `graceMs`. Idempotent: stopping a stopped or unknown server resolves. Never touches the user's files.
   */
  stop(state: Record<string, unknown>, options?: { graceMs?: number }): Promise<void>;

  /**
   * Lists the servers this backend is running that Sifu started (e.g. by label), for re-adoption and
   * orphan cleanup after a restart. Optional: backends that cannot enumerate return undefined.
   */
  list?(): Promise<Array<{ userName: string; serverName: string; state: Record<string, unknown> }>>;
}
