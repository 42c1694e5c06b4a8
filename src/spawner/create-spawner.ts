import { join } from 'node:path';
import type { Logger } from 'pino';
import type { SifuConfig } from '../config/schema.js';
import { createDockerSpawner } from './docker/docker-spawner.js';
import { createLocalSpawner } from './local/local-spawner.js';
import type { Spawner } from './spawner.js';
import { createSwarmSpawner } from './swarm/swarm-spawner.js';

/** The configured backend (`spawner.backend`), built from its config section. */
export function createSpawner(config: SifuConfig, log?: Logger): Spawner {
  const { spawner } = config;
  const { docker, pool } = spawner;
  // What a container needs, whichever engine schedules it.
  const container = {
    command: spawner.command,
    image: docker.image,
    socketPath: docker.socket,
    homePath: docker.homePath,
    memoryBytes: docker.memLimit,
    cpus: docker.cpuLimit,
    pidsLimit: docker.pidsLimit,
    network: docker.network,
    instance: docker.instance,
    extraEnv: spawner.environment,
    // Servers listen on unix sockets in per-server directories here (`server-socket.ts`).
    runDir: join(config.dataDir, 'run'),
  };
  if (pool.size > 0 && spawner.backend !== 'docker')
    log?.warn(
      { backend: spawner.backend },
      'spawner.pool is only available with the docker backend; ignored',
    );
  switch (spawner.backend) {
    case 'docker':
      return createDockerSpawner({
        ...container,
        secretsDir: join(config.dataDir, 'secrets'),
        pool: { size: pool.size, image: pool.image, slotsDir: join(config.dataDir, 'pool') },
        log,
      });
    case 'swarm':
      return createSwarmSpawner({ ...container, constraints: docker.constraints });
    default:
      return createLocalSpawner({
        command: spawner.command,
        logDir: join(config.dataDir, 'logs'),
        runDir: join(config.dataDir, 'run'),
        uidRange: { base: spawner.local.uidBase, count: spawner.local.uidCount },
        readOnlyPaths: spawner.local.readOnlyPaths,
        extraEnv: spawner.environment,
        limits: {
          memoryBytes: spawner.local.memLimit,
          pids: spawner.local.pidsLimit,
          cpus: spawner.local.cpuLimit,
        },
        log,
      });
  }
}
