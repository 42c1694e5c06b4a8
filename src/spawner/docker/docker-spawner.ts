import { randomBytes } from 'node:crypto';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { isSifuError, SifuError } from '../../errors.js';
import { cancelledError, sleep } from '../cancelled.js';
import { CONTAINER_USER, checkEgressNetwork } from '../container-security.js';
import {
  CONTAINER_SOCKET_DIR,
  checkContainerCommand,
  containerServer,
  withHubChannel,
} from '../container-server.js';
import { pickFreePort } from '../local/free-port.js';
import { makeServerSocketDir } from '../server-socket.js';
import type { PollResult, Spawner, StartContext, Started, StartRequest } from '../spawner.js';
import { type DockerState, toDockerState } from './docker-state.js';
import { containerLogTail, ensureImage, isConflict, isNotFound } from './engine.js';
import { watchContainerDeaths } from './events.js';
import { engineName, instanceFilter, LABEL_POOL, LABEL_SERVER, LABEL_USER, serverLabels } from './labels.js';
import { createServerContainer, discardServer, releaseHostFiles } from './server-container.js';
import { type PoolSettings, WarmPool } from './warm-pool/warm-pool.js';

export interface DockerSpawnerOptions {
  /** The single-user server command, run in the container (same syntax and variables as `local`). */
  command: string;
  /** Notebook image. */
  image: string;
  /** Engine socket (default `/var/run/docker.sock`). */
  socketPath?: string;
  /** Where the learner's home appears inside the container (default `/home/learner`). */
  homePath?: string;
  /** Memory limit in bytes (0 or undefined: none). */
  memoryBytes?: number;
  /** CPU limit in CPUs, e.g. 1.5 (undefined: none). */
  cpus?: number;
  /** Most processes and threads of one container (default 1024). */
  pidsLimit?: number;
  /**
   * `spawner.docker.network`: a network the operator made for learners' egress. Undefined (the
   * default): none, the container has only its own loopback interface.
   */
  network?: string;
  /**
   * Host directory of the servers' socket directories (`<dataDir>/run`): each server gets
   * `<runDir>/<key>/`, mode 0700 and owned by the container's user, bind-mounted into its container,
   * where Jupyter listens on `jupyter.sock`; the route is `unix:<that socket on the host>`.
   */
  runDir: string;
  /**
   * Host directory for per-server token files, mounted read-only into each container and read by Jupyter
   * through `JUPYTER_TOKEN_FILE`. Undefined: the token travels in `JUPYTER_TOKEN` (visible to whoever can
   * `docker inspect`).
   */
  secretsDir?: string;
  /** Tells this deployment's containers from another's on the same engine (label `sifu.instance`). */
  instance?: string;
  /** Extra labels on every container (tests add `sifu.test`). */
  labels?: Record<string, string>;
  /** Extra bind mounts, `host:container[:ro]` (tests mount the failure doubles). */
  binds?: string[];
  /** Variables added to every server's environment. */
  extraEnv?: Record<string, string>;
  /** How long a new container is watched for an immediate exit before `start` resolves (default 150 ms). */
  launchWindowMs?: number;
  /** Default for `stop`'s `graceMs` (5 s). */
  stopGraceMs?: number;
  /**
   * The warm pool (docs/pool.md, `spawner.pool.*`). Absent or `size` 0: none, and the spawner has no
   * `claimWarm`, `startPool` or `stopPool`.
   */
  pool?: PoolSettings;
  /** Where the warm pool reports servers it could not warm up or claim. */
  log?: Logger;
}

export const DEFAULT_HOME_PATH = '/home/learner';
const TOKEN_MOUNT = '/run/sifu-token';

/**
 * The `docker` backend: one container per server from the configured image, confined (an unprivileged
 * user, no capabilities, a read-only image, memory, CPU and process limits: `server-container.ts`), with
 * no network: the server listens on a unix socket in a directory of its own bind-mounted from the host,
 * the learner's home bind-mounted, and labels that let a restarted Sifu find its containers (`list`).
 * Containers outlive Sifu.
 */
export function createDockerSpawner(options: DockerSpawnerOptions): Spawner {
  const docker = new Docker({ socketPath: options.socketPath ?? '/var/run/docker.sock' });
  const homePath = options.homePath ?? DEFAULT_HOME_PATH;
  checkEgressNetwork(options.network);
  const limits = {
    memoryBytes: options.memoryBytes,
    cpus: options.cpus,
    pidsLimit: options.pidsLimit,
    network: options.network,
  };
  const instance = options.instance ?? 'default';
  const launchWindowMs = options.launchWindowMs ?? 150;
  const defaultGraceMs = options.stopGraceMs ?? 5_000;
  checkContainerCommand(options.command);

  async function start(request: StartRequest, context: StartContext): Promise<Started> {
    const { signal } = context;
    if (signal.aborted) throw cancelledError(signal);
    context.progress({ progress: 10, message: 'Preparing the notebook image' });
    try {
      await ensureImage(docker, options.image, context.progress, { from: 10, to: 20 });
    } catch (err) {
      throw spawnFailed(`image ${options.image} is not available: ${String(err)}`, err);
    }
    if (signal.aborted) throw cancelledError(signal);

    const suffix = randomBytes(4).toString('hex');
    const containerName = engineName('sifu', request.userName, request.serverName, suffix);
    // No network, so no port is ever reached; commands that still name one get a harmless number.
    const port = await pickFreePort();
    let secretDir: string | null = null;
    let socketDir: string | null = null;
    let containerId: string | undefined;
    try {
      const socket = await makeServerSocketDir(options.runDir, request, CONTAINER_USER);
      socketDir = socket.dir;
      const server = containerServer(request, {
        command: options.command,
        homePath,
        port,
        extraEnv: options.extraEnv,
      });
      const binds = [
        `${request.home}:${homePath}:rw`,
        `${socket.dir}:${CONTAINER_SOCKET_DIR}:rw`,
        ...(options.binds ?? []),
      ];
      if (options.secretsDir) {
        secretDir = join(options.secretsDir, containerName);
        await mkdir(secretDir, { recursive: true, mode: 0o700 });
        await writeFile(join(secretDir, 'token'), request.secret, { mode: 0o400 });
        // The server reads it as the container's user; nobody else on the host can.
        await chown(join(secretDir, 'token'), CONTAINER_USER.uid, CONTAINER_USER.gid);
        await chown(secretDir, CONTAINER_USER.uid, CONTAINER_USER.gid);
        binds.push(`${secretDir}:${TOKEN_MOUNT}:ro`);
        delete server.env.JUPYTER_TOKEN;
        server.env.JUPYTER_TOKEN_FILE = `${TOKEN_MOUNT}/token`;
      }
      const { env, argv, mounts } = await withHubChannel(request, server);
      binds.push(...mounts.map((mount) => `${mount.source}:${mount.target}:ro`));
      context.progress({ progress: 20, message: 'Creating your container' });
      const container = await createServerContainer(
        docker,
        {
          name: containerName,
          image: options.image,
          argv,
          env,
          workingDir: homePath,
          labels: serverLabels(instance, request.userName, request.serverName, options.labels),
          binds,
        },
        limits,
      );
      containerId = container.id;
      if (signal.aborted) throw cancelledError(signal);
      context.progress({ progress: 30, message: 'Starting your container' });
      await container.start();
      await watchLaunch(containerId, request, signal);
      context.progress({ progress: 40, message: 'Your container is running' });
      const state: DockerState = { containerId, containerName, secretDir, socketDir };
      return { url: socket.url, state: { ...state } };
    } catch (err) {
      await discardServer(docker, { containerId, secretDir, socketDir });
      if (isSifuError(err)) throw err;
      throw spawnFailed(`creating container ${containerName}: ${String(err)}`, err);
    }
  }

  /** An exit within `launchWindowMs` is a crash the start reports itself, with the container's output. */
  async function watchLaunch(id: string, request: StartRequest, signal: AbortSignal): Promise<void> {
    const deadline = performance.now() + launchWindowMs;
    for (;;) {
      const info = await docker.getContainer(id).inspect();
      if (!info.State.Running) {
        const tail = await containerLogTail(docker, id, [request.secret]);
        throw new SifuError(
          'SIFU_ERR_SPAWN_CRASHED',
          'Your server stopped as soon as it started. Please try again.',
          { logDetail: `container ${info.Name} exited with code ${info.State.ExitCode} at launch; ${tail}` },
        );
      }
      if (performance.now() >= deadline) return;
      await sleep(50, signal);
    }
  }

  async function poll(rawState: Record<string, unknown>): Promise<PollResult> {
    const state = toDockerState(rawState);
    let info: Docker.ContainerInspectInfo;
    try {
      info = await docker.getContainer(state.containerId).inspect();
    } catch (err) {
      if (isNotFound(err)) return { status: 'stopped', reason: 'container is gone' };
      throw err;
    }
    const s = info.State;
    if (s.Running || s.Restarting) return { status: 'running' };
    const how = s.OOMKilled
      ? `was killed for using more memory than its limit (exit code ${s.ExitCode})`
      : `exited with code ${s.ExitCode}`;
    const clean = s.ExitCode === 0 || s.Status === 'created';
    return {
      status: 'stopped',
      reason: clean ? how : `${how}; ${await containerLogTail(docker, state.containerId)}`,
      exitCode: s.ExitCode,
    };
  }

  async function stop(
    rawState: Record<string, unknown>,
    stopOptions: { graceMs?: number } = {},
  ): Promise<void> {
    const state = toDockerState(rawState);
    const graceMs = stopOptions.graceMs ?? defaultGraceMs;
    const container = docker.getContainer(state.containerId);
    try {
      await container.stop({ t: Math.max(0, Math.ceil(graceMs / 1000)) });
    } catch (err) {
      // 304: already stopped; 404: already gone.
      const code = (err as { statusCode?: number }).statusCode;
      if (code !== 304 && !isNotFound(err)) throw err;
    }
    try {
      await container.remove({ force: true });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    await releaseHostFiles(state);
  }

  async function list(): Promise<
    Array<{ userName: string; serverName: string; state: Record<string, unknown> }>
  > {
    const containers = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: instanceFilter(instance) }),
    });
    return containers
      .filter((c) => !c.Labels[LABEL_POOL])
      .map((c) => {
        const name = (c.Names[0] ?? '').replace(/^\//, '');
        const secretDir = options.secretsDir ? join(options.secretsDir, name) : null;
        // The socket directory is named by (user, server): an orphan's may be a live server's by now.
        const state: DockerState = { containerId: c.Id, containerName: name, secretDir, socketDir: null };
        return {
          userName: c.Labels[LABEL_USER] ?? '',
          serverName: c.Labels[LABEL_SERVER] ?? '',
          state: { ...state },
        };
      });
  }

  function watch(
    onStopped: (server: { userName: string; serverName: string; containerId: string }) => void,
  ): () => void {
    return watchContainerDeaths(docker, instanceFilter(instance), onStopped);
  }

  const spawner: Spawner = { backend: 'docker', start, poll, stop, list, watch };
  if (!options.pool?.size) return spawner;
  const pool = new WarmPool({
    ...options.pool,
    docker,
    image: options.pool.image ?? options.image,
    limits,
    instance,
    homePath,
    runDir: options.runDir,
    labels: options.labels,
    log: options.log?.child({ component: 'pool' }),
  });
  return {
    ...spawner,
    // A pool server was started before its learner was known, without a hub endpoint: a request that
    // has one (a JupyterHub single-user command) is started cold (docs/singleuser.md).
    claimWarm: (request) => (request.hubSocketDir ? Promise.resolve(undefined) : pool.claim(request)),
    startPool: () => pool.start(),
    stopPool: () => pool.stop(),
    poolStatus: () => pool.status(),
  };
}

function spawnFailed(logDetail: string, cause: unknown): SifuError {
  return new SifuError(
    'SIFU_ERR_SPAWN_FAILED',
    'Your server could not be started. Please contact course staff.',
    { logDetail, cause },
  );
}
