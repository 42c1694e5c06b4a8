import { rm } from 'node:fs/promises';
import type Docker from 'dockerode';
import { LABEL_PORT } from './labels.js';
import { releaseSlot } from './warm-pool/slots.js';

/**
 * The one way the docker backend makes and removes a server container, whether a learner's (`start`) or a
 * warm-pool server that belongs to nobody yet (`warm-pool/`): both run on the host network with the
 * configured limits, and both leave the same kinds of things behind.
 */

/** `spawner.docker.memLimit` and `cpuLimit`, applied to every server container. */
export interface ContainerLimits {
  /** Memory limit in bytes (0 or undefined: none). */
  memoryBytes?: number;
  /** CPU limit in CPUs, e.g. 1.5 (undefined: none). */
  cpus?: number;
}

export interface ServerContainerSpec {
  name: string;
  image: string;
  argv: string[];
  env: Record<string, string>;
  workingDir: string;
  /** Sifu's labels (`labels.ts`); `sifu.port` is added here. */
  labels: Record<string, string>;
  /** Where the server listens on 127.0.0.1 (host network), labelled so that `list` finds it again. */
  port: number;
  binds: string[];
}

/** What a server holds on the engine and the host until it is removed. */
export interface ServerLeftovers {
  containerId?: string;
  /** Host directory of its token file (a learner's container). */
  secretDir?: string | null;
  /** Its warm-pool slot, the learner's home mounted in it once claimed (`warm-pool/slots.ts`). */
  slotDir?: string;
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
    Labels: { ...spec.labels, [LABEL_PORT]: String(spec.port) },
    HostConfig: {
      NetworkMode: 'host',
      Binds: spec.binds,
      Memory: limits.memoryBytes || undefined,
      NanoCpus: limits.cpus ? Math.round(limits.cpus * 1e9) : undefined,
      // tini as PID 1: forwards the stop signal to the server and reaps its children (kernels).
      Init: true,
      // A dead server is reported, not silently replaced.
      RestartPolicy: { Name: 'no' },
    },
  });
}

/**
 * Removes a server's files on the host once its container is gone: the token directory, and the pool slot
 * (which unmounts the learner's home first and never deletes through it).
 */
export async function releaseHostFiles(leftovers: ServerLeftovers): Promise<void> {
  if (leftovers.secretDir) await rm(leftovers.secretDir, { recursive: true, force: true });
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
