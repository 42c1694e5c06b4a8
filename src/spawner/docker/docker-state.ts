import { SifuError } from '../../errors.js';

/**
 * What the core stores for a container server (opaque to it): enough to find the container again after a
 * restart. The id is the engine's own, never reused, so there is no recycled-pid problem here.
 * Holds no secret (the token file's directory is a path, not its content).
 */
export interface DockerState {
  containerId: string;
  containerName: string;
  /** Host directory holding the token file mounted into the container; removed by `stop`. */
  secretDir: string | null;
  /**
   * Host directory of the server's unix socket (`server-socket.ts`), bind-mounted into the container;
   * removed by `stop`. Null for servers Sifu did not start itself this way (orphans found by `list`).
   */
  socketDir: string | null;
  /**
   * Warm-pool servers only: the slot directory whose `home` has the learner's home bind-mounted onto it
   * (see docs/pool.md). `stop` unmounts it, and only ever removes its empty mount point.
   */
  slotDir?: string;
}

const optionalPath = (value: unknown) => value === null || value === undefined || typeof value === 'string';

export function toDockerState(raw: Record<string, unknown>): DockerState {
  const { containerId, containerName, secretDir, socketDir, slotDir } = raw;
  if (
    typeof containerId !== 'string' ||
    !/^[0-9a-f]{12,64}$/.test(containerId) ||
    typeof containerName !== 'string' ||
    !optionalPath(secretDir) ||
    !optionalPath(socketDir) ||
    !(slotDir === undefined || typeof slotDir === 'string')
  ) {
    throw new SifuError('SIFU_ERR_INTERNAL', 'Invalid server state.', {
      logDetail: `docker spawner state is malformed: ${JSON.stringify(raw)}`,
    });
  }
  const state: DockerState = {
    containerId,
    containerName,
    secretDir: (secretDir as string | null | undefined) ?? null,
    socketDir: (socketDir as string | null | undefined) ?? null,
  };
  if (slotDir !== undefined) state.slotDir = slotDir;
  return state;
}
