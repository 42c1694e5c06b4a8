import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { isSifuError, SifuError } from '../../errors.js';
import { cancelledError, sleep } from '../cancelled.js';
import { checkContainerCommand, containerServer } from '../container-server.js';
import { pickFreePort } from '../local/free-port.js';
import type { PollResult, Spawner, StartContext, Started, StartRequest } from '../spawner.js';
import { type DockerState, toDockerState } from './docker-state.js';
import { containerLogTail, ensureImage, isConflict, isNotFound } from './engine.js';
import { watchContainerDeaths } from './events.js';
import {
  engineName,
  instanceFilter,
  LABEL_POOL,
  LABEL_PORT,
  LABEL_SERVER,
  LABEL_USER,
  serverLabels,
} from './labels.js';
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
 * The `docker` backend: one container per server from the configured image, on the host network with
 * the server bound to 127.0.0.1 on a port Sifu picks, the learner's home bind-mounted, memory and CPU
 * limits, and labels that let a restarted Sifu find its containers (`list`). Containers outlive Sifu.
 */
export function createDockerSpawner(options: DockerSpawnerOptions): Spawner {
  const docker = new Docker({ socketPath: options.socketPath ?? '/var/run/docker.sock' });
  const homePath = options.homePath ?? DEFAULT_HOME_PATH;
  const limits = { memoryBytes: options.memoryBytes, cpus: options.cpus };
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
    const port = await pickFreePort();
    let secretDir: string | null = null;
    let containerId: string | undefined;
    try {
      const { env, argv } = containerServer(request, {
        command: options.command,
        homePath,
        port,
        extraEnv: options.extraEnv,
      });
      const binds = [`${request.home}:${homePath}:rw`, ...(options.binds ?? [])];
      if (options.secretsDir) {
        secretDir = join(options.secretsDir, containerName);
        await mkdir(secretDir, { recursive: true, mode: 0o700 });
        await writeFile(join(secretDir, 'token'), request.secret, { mode: 0o600 });
        binds.push(`${secretDir}:${TOKEN_MOUNT}:ro`);
        delete env.JUPYTER_TOKEN;
        env.JUPYTER_TOKEN_FILE = `${TOKEN_MOUNT}/token`;
      }
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
          port,
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
      const state: DockerState = { containerId, containerName, port, secretDir };
      return { url: `http://127.0.0.1:${port}`, state: { ...state } };
    } catch (err) {
      await discardServer(docker, { containerId, secretDir });
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
        const port = Number(c.Labels[LABEL_PORT] ?? 0) || 1;
        const secretDir = options.secretsDir ? join(options.secretsDir, name) : null;
        const state: DockerState = { containerId: c.Id, containerName: name, port, secretDir };
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
    labels: options.labels,
    log: options.log?.child({ component: 'pool' }),
  });
  return {
    ...spawner,
    claimWarm: (request) => pool.claim(request),
    startPool: () => pool.start(),
    stopPool: () => pool.stop(),
  };
}

function spawnFailed(logDetail: string, cause: unknown): SifuError {
  return new SifuError(
    'SIFU_ERR_SPAWN_FAILED',
    'Your server could not be started. Please contact course staff.',
    { logDetail, cause },
  );
}
