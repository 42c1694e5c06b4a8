import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { constants, mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { sleep } from '../spawner/cancelled.js';
import type { DockerState } from '../spawner/docker/docker-state.js';
import { demuxLogs } from '../spawner/docker/engine.js';
import {
  LABEL_INSTANCE,
  LABEL_MANAGED,
  LABEL_POOL,
  LABEL_PORT,
  LABEL_SERVER,
  LABEL_USER,
} from '../spawner/docker/labels.js';
import { ensureSharedMount, mountHome, releaseSharedMount, releaseSlot } from '../spawner/docker/slots.js';
import { pickFreePort } from '../spawner/local/free-port.js';
import type { Started, StartRequest } from '../spawner/spawner.js';

const run = promisify(execFile);

export interface WarmPoolOptions {
  docker: Docker;
  image: string;
  size: number;
  /** Host directory of the slots (made a shared mount); e.g. `<dataDir>/pool`. */
  slotsDir: string;
  instance: string;
  homePath?: string;
  memoryBytes?: number;
  cpus?: number;
  labels?: Record<string, string>;
  /** How many pool servers are started at once while refilling (default 4). */
  fillConcurrency?: number;
  /** Bound on one pool server becoming claimable (default 60 s). */
  warmTimeoutMs?: number;
  log?: Pick<Logger, 'info' | 'warn'>;
  /** Quiet time after the last claim before refilling starts (default 1 s). */
  refillDelayMs?: number;
}

interface WarmServer {
  containerId: string;
  containerName: string;
  slotDir: string;
}

const CLAIM_MOUNT = '/run/sifu-claim';
const LAUNCHER_MOUNT = '/sifu-pool';

function launcherDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  if (existsSync(join(here, 'warm-launcher.py'))) return here;
  // Running from dist/: the Python file stays in src/.
  return fileURLToPath(new URL('../../../src/pool/', import.meta.url));
}

/**
 * The warm pool (docs/pool.md): `size` started notebook containers per image that belong to nobody. Each
 * has already imported Jupyter and initialised everything that does not depend on the learner; a claim
 * mounts the learner's home into its slot, hands it the token and base URL, and the server is up within
 * a fraction of a second. Claims take servers off the idle list synchronously, so one server never goes
 * to two learners; the pool refills in the background. Claimed containers are never returned to the pool.
 */
export class WarmPool {
  private readonly idle: WarmServer[] = [];
  private warming = 0;
  private stopped = false;
  private readonly homePath: string;
  private refilling: Promise<void> | undefined;
  private refillTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: WarmPoolOptions) {
    this.homePath = options.homePath ?? '/home/learner';
  }

  get idleCount(): number {
    return this.idle.length;
  }

  /** Prepares the slots root, removes idle pool containers a previous Sifu left, and starts filling. */
  async start(): Promise<void> {
    await mkdir(this.options.slotsDir, { recursive: true, mode: 0o700 });
    await ensureSharedMount(this.options.slotsDir);
    const { docker } = this.options;
    const leftovers = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${LABEL_POOL}`, `${LABEL_INSTANCE}=${this.options.instance}`] }),
    });
    for (const c of leftovers) {
      if (c.Labels[LABEL_USER]) continue;
      const slotDir = join(this.options.slotsDir, c.Labels[LABEL_POOL] ?? '');
      // A claimed one is a learner's server, the store's business; only idle ones are ours to remove.
      if (existsSync(join(slotDir, 'claimed'))) continue;
      await docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {});
      await releaseSlot(slotDir);
    }
    this.refill();
  }

  /** Resolves when the pool is full (tests and benchmarks). Bounded by `warmTimeoutMs` per server. */
  async whenFull(): Promise<void> {
    while (!this.stopped && this.idle.length < this.options.size) {
      this.refill();
      await (this.refilling ?? sleep(50));
    }
  }

  /**
   * Claims an idle server for `request`, or undefined when none is idle (the caller then starts one the
   * usual way). The returned state is a docker-backend state: poll and stop work as for any container.
   */
  async claim(request: StartRequest): Promise<Started | undefined> {
    for (;;) {
      const server = this.idle.shift();
      this.refillSoon();
      if (!server) return undefined;
      try {
        return await this.bind(server, request);
      } catch (err) {
        this.options.log?.warn({ err, container: server.containerName }, 'warm server could not be claimed');
        await this.discard(server);
      }
    }
  }

  private async bind(server: WarmServer, request: StartRequest): Promise<Started> {
    const ctl = join(server.slotDir, 'ctl');
    await writeFile(join(server.slotDir, 'claimed'), `${request.userName}\n`);
    await writeFile(join(ctl, 'token'), request.secret, { mode: 0o600 });
    await mountHome(server.slotDir, request.home);
    const port = await pickFreePort();
    // Non-blocking: a launcher that died has no reader on the FIFO, which fails here (ENXIO), not hangs.
    const fifo = await open(join(ctl, 'claim'), constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      await fifo.write(`${JSON.stringify({ baseUrl: request.baseUrl, port })}\n`);
    } finally {
      await fifo.close();
    }
    const state: DockerState = {
      containerId: server.containerId,
      containerName: server.containerName,
      port,
      secretDir: null,
      slotDir: server.slotDir,
    };
    return { url: `http://127.0.0.1:${port}`, state: { ...state } };
  }

  /** Removes idle servers (Sifu is stopping); claimed ones are learners' and stay. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.refillTimer) clearTimeout(this.refillTimer);
    await this.refilling?.catch(() => {});
    await Promise.all(this.idle.splice(0).map((server) => this.discard(server)));
    await releaseSharedMount(this.options.slotsDir);
  }

  /**
   * Refills once claims pause: warming a server costs a second of CPU, which a burst of claims (each
   * finishing its Jupyter start) needs more.
   */
  private refillSoon(): void {
    if (this.refillTimer) clearTimeout(this.refillTimer);
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, this.options.refillDelayMs ?? 1_000);
    this.refillTimer.unref();
  }

  private refill(): void {
    if (this.stopped || this.refilling) return;
    this.refilling = this.fill().finally(() => {
      this.refilling = undefined;
    });
  }

  private async fill(): Promise<void> {
    const concurrency = this.options.fillConcurrency ?? 4;
    const worker = async (): Promise<void> => {
      while (!this.stopped && this.idle.length + this.warming < this.options.size) {
        this.warming += 1;
        try {
          const server = await this.warmOne();
          if (this.stopped) await this.discard(server);
          else this.idle.push(server);
        } catch (err) {
          this.options.log?.warn({ err }, 'warm pool: a server failed to warm up');
          await sleep(1_000);
        } finally {
          this.warming -= 1;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  private async warmOne(): Promise<WarmServer> {
    const { docker } = this.options;
    const slot = randomBytes(6).toString('hex');
    const slotDir = join(this.options.slotsDir, slot);
    const ctl = join(slotDir, 'ctl');
    await mkdir(join(slotDir, 'home'), { recursive: true, mode: 0o700 });
    await mkdir(ctl, { recursive: true, mode: 0o700 });
    await run('mkfifo', ['-m', '600', join(ctl, 'claim')]);
    const containerName = `sifu-pool-${slot}`;
    let containerId: string | undefined;
    try {
      const container = await docker.createContainer({
        name: containerName,
        Image: this.options.image,
        Cmd: ['python3', `${LAUNCHER_MOUNT}/warm-launcher.py`],
        Env: [
          `HOME=${this.homePath}`,
          `SIFU_SERVER_ROOT=${this.homePath}`,
          'JUPYTER_RUNTIME_DIR=/run/sifu',
          `SIFU_CLAIM_FIFO=${CLAIM_MOUNT}/claim`,
          `SIFU_CLAIM_TOKEN_FILE=${CLAIM_MOUNT}/token`,
        ],
        WorkingDir: '/',
        Labels: {
          ...this.options.labels,
          [LABEL_MANAGED]: 'true',
          [LABEL_INSTANCE]: this.options.instance,
          [LABEL_POOL]: slot,
          [LABEL_SERVER]: '',
          [LABEL_PORT]: '0',
        },
        HostConfig: {
          NetworkMode: 'host',
          Binds: [
            `${join(slotDir, 'home')}:${this.homePath}:rw,rslave`,
            `${ctl}:${CLAIM_MOUNT}:ro`,
            `${launcherDir()}:${LAUNCHER_MOUNT}:ro`,
          ],
          Memory: this.options.memoryBytes || undefined,
          NanoCpus: this.options.cpus ? Math.round(this.options.cpus * 1e9) : undefined,
          Init: true,
          RestartPolicy: { Name: 'no' },
        },
      });
      containerId = container.id;
      await container.start();
      await this.waitClaimable(containerId);
      return { containerId, containerName, slotDir };
    } catch (err) {
      if (containerId)
        await docker
          .getContainer(containerId)
          .remove({ force: true })
          .catch(() => {});
      await releaseSlot(slotDir);
      throw err;
    }
  }

  /** The launcher says so on stderr once Jupyter is imported and initialised. */
  private async waitClaimable(containerId: string): Promise<void> {
    const deadline = performance.now() + (this.options.warmTimeoutMs ?? 60_000);
    const container = this.options.docker.getContainer(containerId);
    while (performance.now() < deadline) {
      const raw = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      if (demuxLogs(raw).includes('ready for a claim')) return;
      const info = await container.inspect();
      if (!info.State.Running) throw new Error(`warm server exited: ${demuxLogs(raw).slice(-500)}`);
      await sleep(100);
    }
    throw new Error('warm server did not become claimable in time');
  }

  private async discard(server: WarmServer): Promise<void> {
    await this.options.docker
      .getContainer(server.containerId)
      .remove({ force: true })
      .catch(() => {});
    await releaseSlot(server.slotDir);
  }
}
