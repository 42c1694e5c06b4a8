import { rm } from 'node:fs/promises';
import type Docker from 'dockerode';
import { CONTAINER_USER, containerTmpfs, DEFAULT_PIDS_LIMIT } from '../container-security.js';
import { removeServerSocketDir } from '../server-socket.js';
import { releaseSlot } from './warm-pool/slots.js';

/**
 * The one way the docker backend makes and removes a server container, whether a learner's (`start`) or a
 * warm-pool server that belongs to nobody yet (`warm-pool/`): both run confined the same way (an
 * unprivileged user, no capabilities, a read-only image, no network, the server on a unix socket in a
 * directory bind-mounted from the host) with the configured limits, and both leave the same kinds of
 * things behind.
 */

/** `spawner.docker.memLimit`, `cpuLimit`, `pidsLimit` and `network`, applied to every server container. */
export interface ContainerLimits {
  /** Memory limit in bytes (0 or undefined: none). */
  memoryBytes?: number;
  /** CPU limit in CPUs, e.g. 1.5 (undefined: none). */
  cpus?: number;
  /** Most processes and threads (default `DEFAULT_PIDS_LIMIT`). */
  pidsLimit?: number;
  /**
   * The operator's egress network (`spawner.docker.network`, checked by `checkEgressNetwork`); undefined:
   * none, the container has a loopback interface only.
   */
  network?: string;
}

export interface ServerContainerSpec {
  name: string;
  image: string;
  argv: string[];
  env: Record<string, string>;
  workingDir: string;
  /** Sifu's labels (`labels.ts`). */
  labels: Record<string, string>;
  /** Host paths bound into the container: the home, the socket directory, the token. */
  binds: string[];
}

/** What a server holds on the engine and the host until it is removed. */
export interface ServerLeftovers {
  containerId?: string;
  /** Host directory of its token file (a learner's container). */
  secretDir?: string | null;
  /** Its warm-pool slot, the learner's home mounted in it once claimed (`warm-pool/slots.ts`). */
  slotDir?: string;
  /** Host directory of its unix socket (`server-socket.ts`). */
  socketDir?: string | null;
}

/** Creates (does not start) a server container. */
export function createServerContainer(
  docker: Docker,
  spec: ServerContainerSpec,
  limits: ContainerLimits,
): Promise<Docker.Container> {
  return docker.createContainer({
    name: spec.name,
    Image: spec.image,
    Cmd: spec.argv,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: spec.workingDir,
    Labels: spec.labels,
    User: `${CONTAINER_USER.uid}:${CONTAINER_USER.gid}`,
    HostConfig: {
      // No interface but loopback (its own): Sifu reaches the server through its socket, and the
      // learner's code reaches neither the host's services nor the metadata address nor other servers.
      NetworkMode: limits.network ?? 'none',
      Binds: spec.binds,
      Memory: limits.memoryBytes || undefined,
      NanoCpus: limits.cpus ? Math.round(limits.cpus * 1e9) : undefined,
      PidsLimit: limits.pidsLimit ?? DEFAULT_PIDS_LIMIT,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      ReadonlyRootfs: true,
      Tmpfs: containerTmpfs(),
      // tini as PID 1: forwards the stop signal to the server and reaps its children (kernels).
      Init: true,
      // A dead server is reported, not silently replaced.
      RestartPolicy: { Name: 'no' },
    },
  });
}

/**
 * Removes a server's files on the host once its container is gone: the token and socket directories, and
 * the pool slot (which unmounts the learner's home first and never deletes through it).
 */
export async function releaseHostFiles(leftovers: ServerLeftovers): Promise<void> {
  if (leftovers.secretDir) await rm(leftovers.secretDir, { recursive: true, force: true });
  if (leftovers.socketDir) await removeServerSocketDir(leftovers.socketDir);
  if (leftovers.slotDir) await releaseSlot(leftovers.slotDir);
}

/**
 * Removes a server nobody needs running (a start that failed half-way, an idle or broken pool server): its
 * container forcibly, whatever state it is in, then its host files. Best effort: never throws for a
 * container that is already gone.
 */
export async function discardServer(docker: Docker, leftovers: ServerLeftovers): Promise<void> {
  if (leftovers.containerId)
    await docker
      .getContainer(leftovers.containerId)
      .remove({ force: true })
      .catch(() => {});
  await releaseHostFiles(leftovers);
}
