import { SifuError } from '../../errors.js';

/**
 * What the core stores for a container server (opaque to it): enough to find the container again after a
 * restart. The id is the engine's own, never reused, so there is no recycled-pid problem here.
 * Holds no secret (the token file's directory is a path, not its content).
 */
export interface DockerState {
  containerId: string;
  containerName: string;
  port: number;
  /** Host directory holding the token file mounted into the container; removed by `stop`. */
  secretDir: string | null;
  /**
   * Warm-pool servers only: the slot directory whose `home` has the learner's home bind-mounted onto it
   * (see docs/pool.md). `stop` unmounts it, and only ever removes its empty mount point.
   */
  slotDir?: string;
}

export function toDockerState(raw: Record<string, unknown>): DockerState {
  const { containerId, containerName, port, secretDir, slotDir } = raw;
  if (
    typeof containerId !== 'string' ||
    !/^[0-9a-f]{12,64}$/.test(containerId) ||
    typeof containerName !== 'string' ||
    typeof port !== 'number' ||
    !Number.isSafeInteger(port) ||
    port <= 0 ||
    !(secretDir === null || secretDir === undefined || typeof secretDir === 'string') ||
    !(slotDir === undefined || typeof slotDir === 'string')
  ) {
    throw new SifuError('SIFU_ERR_INTERNAL', 'Invalid server state.', {
      logDetail: `docker spawner state is malformed: ${JSON.stringify(raw)}`,
    });
  }
  const state: DockerState = { containerId, containerName, port, secretDir: secretDir ?? null };
  if (slotDir !== undefined) state.slotDir = slotDir;
  return state;
}
