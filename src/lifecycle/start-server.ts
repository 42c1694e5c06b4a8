import type { Logger } from 'pino';
import { newSecret } from '../auth/secrets.js';
import { isSifuError, SifuError } from '../errors.js';
import {
  leaseConflicts,
  proxyAddDuration,
  secondsSince,
  spawnDuration,
  warmPoolClaims,
} from '../metrics/metrics.js';
import { baseUrlOf } from '../routes.js';
import { waitUntilReady } from '../spawner/ready.js';
import type { ProgressEvent, Spawner, Started, StartRequest } from '../spawner/spawner.js';
import type { Homes } from '../storage/homes.js';
import { HomeLease } from '../storage/lease.js';
import type { ServerRecord, Store } from '../store/store.js';
import type { Hosts } from './hosts.js';
import type { Peers } from './peers.js';
import type { RouteTable } from './route-table.js';
import type { LiveSpawn } from './spawn-progress.js';
import type { StartSlots } from './start-slots.js';

/** What the manager needs of storage; `Storage` in src/storage provides it. */
export interface ServerHomes {
  /**
   * Creates the home if missing (right owner: `owner` when given, the server's own uid) and enforces the
   * quota; returns its path.
   */
  prepareLaunch(userName: string, owner?: { uid: number; gid: number }): Promise<string>;
  /** Where a home is: the path the backend is given (`<storage root>/<user>`). */
  readonly homes: Pick<Homes, 'homeOf'>;
  readonly lease: Pick<HomeLease, 'acquire' | 'renew' | 'release'>;
}

/**
 * Each server's own hub endpoint (src/api/server-hub.ts): what a JupyterHub single-user server asks of
 * its hub, on a unix socket of that server's own. Opened before the server starts (it calls its hub
 * before it serves), closed when it stops; the channel itself closes endpoints of servers gone.
 */
export interface HubChannel {
  /** Listens for the server of `record` (this start: its secret); the directory and variables it gets. */
  open(record: ServerRecord): Promise<{ dir: string; env: Record<string, string> }>;
  /** Stops listening for this start of the server; idempotent. */
  close(record: ServerRecord): Promise<void>;
}

export interface StartOptions {
  store: Store;
  spawner: Spawner;
  log: Logger;
  startTimeoutMs: number;
  /** How long a finished start's progress stays readable (a late progress subscriber sees the end). */
  outcomeTtlMs?: number;
  /** Starts running at once (`spawner.maxConcurrentStarts`); more wait in line with progress. Default: no bound. */
  maxConcurrentStarts?: number;
  /** The warm pool (src/pool): a started server bound to this request, or undefined to start one. */
  claimWarmServer?: (request: StartRequest) => Promise<Started | undefined>;
  /** Storage (src/storage): prepares the home (owner, quota) and holds the single-writer lease on it. */
  homes: ServerHomes;
  /** The hosts sharing the store (placement, relays); absent: this host alone. */
  hosts?: Hosts;
  /** Calls to other hosts (a start placed there, a stop of their server). */
  peers?: Peers;
  /** Gives each new server a hub endpoint of its own (JupyterHub's single-user servers need one). */
  hubChannel?: HubChannel;
}

/**
 * Claims (user, server) in the store for a new start (an insert that fails if the row exists, so no two
 * processes start one server): the claimed record, or undefined when another process holds the claim.
 */
export async function claimServer(
  { store, spawner, hosts }: Pick<StartOptions, 'store' | 'spawner' | 'hosts'>,
  userName: string,
  serverName: string,
  /** JupyterHub's `user_options` of the start, kept with the row and reported back in the model. */
  userOptions: Record<string, unknown> = {},
): Promise<ServerRecord | undefined> {
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
    host: hosts?.hostId ?? null,
    userOptions,
  };
  return (await store.claimServer(record)) ? record : undefined;
}

/** The uid the user's servers run as, for a backend that asks for one (`Spawner.uidRange`). */
async function serverIdentity(
  store: Store,
  spawner: Spawner,
  userName: string,
): Promise<{ uid: number; gid: number } | undefined> {
  if (!spawner.uidRange) return undefined;
  const uid = await store.uidOf(userName, spawner.uidRange);
  if (uid === null) {
    throw new SifuError(
      'SIFU_ERR_SPAWN_FAILED',
      'Your server could not be started. Please contact course staff.',
      {
        logDetail: `no uid left for ${userName}: spawner.local.uidCount (${spawner.uidRange.count}) uids from ${spawner.uidRange.base} are all taken`,
      },
    );
  }
  return { uid, gid: uid };
}

/** One claimed start in this process. */
export interface ClaimedStart {
  record: ServerRecord;
  progress: LiveSpawn;
  /** Where the server is routed once it answers. */
  routes: RouteTable;
  /** The burst queue, when starts are bounded; a warm server skips it. */
  slots: StartSlots | undefined;
  /** Records the outcome; called before the last event, which settles `progress.done`. */
  settle: (outcome: 'ready' | 'failed') => void;
}

/**
 * Runs a claimed start to its end: the home prepared and leased, a warm server claimed or the backend
 * started, its state stored at once, then waited on until it answers. Never rejects: the outcome is in
 * `progress`. A failed start leaves nothing behind (server, lease, row).
 */
export async function startServer(options: StartOptions, start: ClaimedStart): Promise<void> {
  const { store, spawner, log, startTimeoutMs, homes } = options;
  const { record, progress, routes, slots, settle } = start;
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
  const startedAt = performance.now();
  let state: Record<string, unknown> | undefined;
  let leased = false;
  let releaseSlot: (() => void) | undefined;
  let channelOpen = false;
  try {
    emit({ progress: 5, message: 'Preparing your files' });
    const identity = await serverIdentity(store, spawner, userName);
    await homes.prepareLaunch(userName, identity);
    // One writer per home, across processes and hosts: taken before anything starts.
    if (!(await homes.lease.acquire(userName, HomeLease.holderOf(record)))) {
      leaseConflicts.inc();
      throw new SifuError(
        'SIFU_ERR_HOME_IN_USE',
        'Your files are in use by another of your notebook servers. Stop it, then try again.',
      );
    }
    leased = true;
    emit({ progress: 10, message: 'Starting your notebook server' });
    const request: StartRequest = {
      userName,
      serverName,
      baseUrl: baseUrlOf(userName, serverName),
      secret: record.secret,
      home: homes.homes.homeOf(userName),
      ...(identity ? { identity } : {}),
    };
    if (options.hubChannel) {
      channelOpen = true;
      const channel = await options.hubChannel.open(record);
      request.env = channel.env;
      request.hubSocketDir = channel.dir;
    }
    // The one place a warm server is claimed.
    const warm = await options.claimWarmServer?.(request);
    if (options.claimWarmServer) warmPoolClaims.inc({ result: warm ? 'warm' : 'cold' });
    if (!warm && slots) {
      releaseSlot = await slots.acquire(
        progress.abort.signal,
        (ahead) => emit({ progress: 10, message: `Waiting for a free slot (${ahead} ahead)` }),
        serverName ? `${userName}/${serverName}` : userName,
      );
    }
    const launched =
      warm ?? (await spawner.start(request, { progress: emit, signal: progress.abort.signal }));
    state = launched.state;
    // Stored at once: a crash from here on leaves a row the next adoption pass cleans up.
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
    const publishedAt = performance.now();
    try {
      await store.updateServer(running);
      routes.add(running);
    } catch (err) {
      proxyAddDuration.observe({ status: 'failure' }, secondsSince(publishedAt));
      throw err;
    }
    proxyAddDuration.observe({ status: 'success' }, secondsSince(publishedAt));
    await store.addEvent('server.start', userName, { server: serverName, ms: Date.now() - started0 });
    log.info({ user: userName, server: serverName, ms: Date.now() - started0 }, 'server ready');
    spawnDuration.observe({ status: 'success' }, secondsSince(startedAt));
    settle('ready');
    emit({ progress: 100, message: 'Your notebook server is ready' });
  } catch (err) {
    const error = progress.abort.signal.aborted ? abortError(progress.abort.signal) : toSifuError(err);
    log.warn(
      { user: userName, server: serverName, code: error.code, detail: error.logDetail },
      error.message,
    );
    try {
      if (state) await spawner.stop(state);
      if (channelOpen) await options.hubChannel?.close(record);
      if (leased) await homes.lease.release(userName, HomeLease.holderOf(record));
      await store.deleteServer(userName, serverName, record.secret);
      await store.addEvent('server.start_failed', userName, { server: serverName, code: error.code });
    } catch (cleanupError) {
      // Left for the next adoption pass to find; never an unhandled rejection.
      log.error({ err: cleanupError, user: userName }, 'cleanup after a failed start');
    }
    spawnDuration.observe({ status: 'failure' }, secondsSince(startedAt));
    progress.error = error;
    settle('failed');
    emit({ progress: 100, message: error.message });
  } finally {
    clearTimeout(timer);
    releaseSlot?.();
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
