import { join } from 'node:path';
import type { Logger } from 'pino';
import type { SifuConfig } from '../config/schema.js';
import type { DockerSpawner } from '../spawner/docker/docker-spawner.js';
import type { Spawner } from '../spawner/spawner.js';
import { WarmPool } from './warm-pool.js';

const isDocker = (spawner: Spawner): spawner is DockerSpawner =>
  spawner.backend === 'docker' && 'docker' in spawner;

/** The warm pool `spawner.pool.*` asks for, or undefined (size 0, or a backend without one). */
export function createWarmPool(config: SifuConfig, spawner: Spawner, log: Logger): WarmPool | undefined {
  const { pool, docker } = config.spawner;
  if (pool.size === 0) return undefined;
  if (!isDocker(spawner)) {
    log.warn({ backend: spawner.backend }, 'spawner.pool is only available with the docker backend; ignored');
    return undefined;
  }
  return new WarmPool({
    docker: spawner.docker,
    image: pool.image ?? docker.image,
    size: pool.size,
    slotsDir: join(config.dataDir, 'pool'),
    instance: docker.instance,
    homePath: docker.homePath,
    memoryBytes: docker.memLimit,
    cpus: docker.cpuLimit,
    log: log.child({ component: 'pool' }),
  });
}

/** Follows the engine's events when the backend has them; `onStopped` is told of each dead server. */
export function watchServerDeaths(
  spawner: Spawner,
  onStopped: (userName: string, serverName: string) => void,
): (() => void) | undefined {
  if (!isDocker(spawner)) return undefined;
  return spawner.watch((server) => onStopped(server.userName, server.serverName));
}
