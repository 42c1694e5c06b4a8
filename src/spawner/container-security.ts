import { SifuError } from '../errors.js';

/**
 * What confines a learner's container, on `docker` and `swarm` alike (docs/security.md, "docker and
 * swarm"). One place, so that a learner's container, a warm-pool container and a Swarm task are never
 * confined differently.
 */

/**
 * The one unprivileged identity every server container runs as, learner's or warm pool's. One fixed uid
 * rather than one per learner: a pool container starts before its learner is known, and containers are
 * kept apart by their namespaces, mounts and the socket directory, not by uids. Homes are owned by it
 * (`storage.uid`/`gid` default to it on these backends). Jupyter images conventionally use 1000.
 */
export const CONTAINER_USER = { uid: 1000, gid: 1000 } as const;

/** Default bound on a container's processes and threads (a fork bomb stays inside it). */
export const DEFAULT_PIDS_LIMIT = 1024;

/**
 * Jupyter's runtime directory in the container (connection files, the cookie secret): a tmpfs, since the
 * image's own file system is read-only, owned by the container's user.
 */
export const CONTAINER_RUNTIME_DIR = '/run/sifu';

/** Writable scratch space on a read-only root: tmpfs, counted against the container's memory limit. */
export function containerTmpfs(): Record<string, string> {
  const { uid, gid } = CONTAINER_USER;
  return {
    '/tmp': 'rw,nosuid,nodev,mode=1777',
    [CONTAINER_RUNTIME_DIR]: `rw,nosuid,nodev,mode=0700,uid=${uid},gid=${gid}`,
  };
}

/**
 * Networks a container may never join: the host's (every loopback service of the host, the metadata
 * address), the default bridge (the host's services on its gateway address, the metadata address, every
 * other container on it), or another container's namespace.
 */
const REFUSED_NETWORKS = new Set(['host', 'bridge', 'default', 'none']);

/**
 * Checks `spawner.docker.network`, the egress option: the name of a network the operator made (and
 * firewalled) so that learners' code can reach the internet. Undefined: no network at all.
 */
export function checkEgressNetwork(network: string | undefined): void {
  if (network === undefined) return;
  if (
    REFUSED_NETWORKS.has(network) ||
    network.startsWith('container:') ||
    !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(network)
  )
    throw new SifuError(
      'SIFU_ERR_CONFIG',
      `\`spawner.docker.network\` must name a network the operator created for learners' egress (not host, bridge, default, none or container:*), got '${network}'`,
    );
}
