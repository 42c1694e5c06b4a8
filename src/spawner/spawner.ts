/**
 * The spawner contract: how Sifu starts, watches and stops one single-user server, whatever runs it
 * (a local process, a Docker container, a Swarm service...). Backends live in `src/spawner/<backend>/`
 * and all run the shared suite `spawnerContract` in `src/spawner/contract.case.ts`.
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
  /** Extra environment for the server (the `JUPYTERHUB_*` variables of its hub endpoint among them). */
  env?: Record<string, string>;
  /**
   * A host directory holding the server's own hub endpoint, the unix socket `HUB_SOCKET_NAME`
   * (`server-socket.ts`) on which Sifu answers the calls a JupyterHub single-user server makes of its hub.
   * A backend that can make it reachable binds it in read-only and sets `JUPYTERHUB_API_URL` and
   * `JUPYTERHUB_ACTIVITY_URL` to where the server reaches it; one that cannot leaves both unset. The
   * directory is this start's alone and removed with the endpoint: a backend may keep files for the
   * server there (the container backends put its secret variables there, `withHubChannel`).
   */
  hubSocketDir?: string;
  /**
   * The unprivileged identity the server runs as, given when the backend asks for one (`uidRange`):
   * the user's uid from the store (the same on every host), gid = uid. The home is owned by it already.
   */
  identity?: { uid: number; gid: number };
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

/** A warm pool's counts, as `Spawner.poolStatus` reports them. */
export interface PoolStatus {
  /** `spawner.pool.size`: idle servers the pool keeps. */
  size: number;
  /** Idle servers ready to be claimed now. */
  idle: number;
  /** Pool servers being started (refilling). */
  warming: number;
  /** Servers handed to learners since the pool started in this process. */
  claims: number;
  /** Whether the pool runs in this process (it runs in the first worker only; see `startPool`). */
  running: boolean;
}

export interface Spawner {
  /** The backend's name as in config (`local`, `docker`...), stored beside each server's state. */
  readonly backend: string;

  /**
   * Set by backends that run each user's servers as a uid of the user's own: the range the core
   * allocates it from (once per user, in the store) before `start`, which gets it in
   * `StartRequest.identity`; the core makes the user's home owned by it first.
   */
  readonly uidRange?: { base: number; count: number };

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

  /**
   * Follows the backend's own news of servers that stopped (e.g. the engine's `die` events), so the core
   * notices a dead server within moments instead of at its next poll round. Optional: without it, only
   * polling notices.
   *
   * Called once per Sifu process, after re-adoption. `onStopped` gets the user and server name of each
   * server that stopped, possibly of one the core no longer routes or more than once: the core polls
   * before acting on it. Keeps following across broken connections (an engine restart) until the returned
   * function is called.
   */
  watch?(onStopped: (server: { userName: string; serverName: string }) => void): () => void;

  /**
   * Hands over a server started ahead of time (a warm pool), made the server of `request` as if `start`
   * had launched it: resolves with `url` and `state` that `poll` and `stop` take like any other, or with
   * undefined when no such server is ready, and the core then calls `start`. Optional: backends without
   * a pool leave it out. The core treats what it gets exactly like a started server (readiness check,
   * route, stop), so the server must already answer `request.baseUrl` with `request.secret` only.
   *
   * A request with a `hubSocketDir` resolves undefined: pool servers are made before their learner is
   * known, without an endpoint (docs/singleuser.md, "The warm pool").
   *
   * Same precondition as `start`: the core holds the server's claim in the store. Never rejects for a
   * pool server that could not be claimed (it tries the next, or resolves undefined), and resolves
   * undefined in a process where the pool was not started (`startPool`) or is stopped.
   */
  claimWarm?(request: StartRequest): Promise<Started | undefined>;

  /**
   * Starts keeping servers warm for `claimWarm`, first removing idle ones a previous Sifu left; resolves
   * once that is done (filling goes on in the background). Called at most once, after re-adoption, and by
   * one Sifu process per host only (the first worker): the pool's servers belong to that process.
   * Present exactly when `claimWarm` is.
   */
  startPool?(): Promise<void>;

  /**
   * Removes the idle warm servers (Sifu is stopping) and waits until they are gone. Claimed ones are
   * learners' servers and stay. Resolves at once when the pool was never started.
   */
  stopPool?(): Promise<void>;

  /**
   * The warm pool's counts now, for display (the admin page). Cheap and synchronous; may be called at any
   * time, before `startPool` or after `stopPool` too (`running` false then). Present exactly when
   * `claimWarm` is.
   */
  poolStatus?(): PoolStatus;
}
