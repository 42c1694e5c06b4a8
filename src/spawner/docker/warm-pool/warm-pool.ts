import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { warmPoolIdle, warmPoolWarming } from '../../../metrics/metrics.js';
import { sleep } from '../../cancelled.js';
import type { PoolStatus, Started, StartRequest } from '../../spawner.js';
import { LABEL_INSTANCE, LABEL_POOL, LABEL_USER } from '../labels.js';
import { discardServer } from '../server-container.js';
import {
  claimPoolServer,
  type PoolServer,
  type PoolServerSettings,
  poolSocketDir,
  warmPoolServer,
} from './pool-server.js';
import { ensureSharedMount, releaseSharedMount } from './slots.js';

/** `spawner.pool.*`, and the pool's timings (defaults for production; tests may shorten them). */
export interface PoolSettings {
  /** Idle servers kept warm (0: no pool). */
  size: number;
  /** Image of the pool's servers (default: the spawner's). */
  image?: string;
  /** Host directory of the slots (made a shared mount); e.g. `<dataDir>/pool`. */
  slotsDir: string;
  /** How many pool servers are started at once while refilling (default 4). */
  fillConcurrency?: number;
  /** Bound on one pool server becoming claimable (default 60 s). */
  warmTimeoutMs?: number;
  /**
   * Quiet time after the last claim before refilling starts, and before each further pool server is
   * started while refilling (default 1 s): a burst of claims never competes with new pool servers.
   */
  refillDelayMs?: number;
  /** Bound on the claim request to a pool server (default 5 s); past it the server is discarded. */
  claimTimeoutMs?: number;
}

export interface WarmPoolOptions
  extends Omit<PoolSettings, 'image'>,
    Omit<PoolServerSettings, 'warmTimeoutMs'> {
  log?: Pick<Logger, 'info' | 'warn'>;
}

/**
 * The warm pool (docs/pool.md): `size` notebook containers that belong to nobody, each running a fully
 * started Jupyter server under a placeholder base URL and a pool token. A claim mounts the learner's home
 * into its slot and, in one request, has the server rebind itself to the learner's base URL and secret
 * (a few milliseconds). Claims take servers off the idle list synchronously, so one server never goes to
 * two learners; the pool refills in the background. Claimed containers are never returned to the pool.
 * Part of the docker backend, reached through `Spawner.claimWarm`, `startPool` and `stopPool`.
 */
export class WarmPool {
  private readonly idle: PoolServer[] = [];
  private warming = 0;
  /** Claims and refills happen only between `start` and `stop` (and only in the process that started it). */
  private running = false;
  private refilling: Promise<void> | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private lastClaimAt = 0;
  private claims = 0;

  constructor(private readonly options: WarmPoolOptions) {}

  /** Prepares the slots root, removes idle pool containers a previous Sifu left, and starts filling. */
  async start(): Promise<void> {
    const { docker, slotsDir } = this.options;
    await mkdir(slotsDir, { recursive: true, mode: 0o700 });
    await ensureSharedMount(slotsDir);
    const leftovers = await docker.listContainers({
      all: true,
      filters: JSON.stringify({ label: [`${LABEL_POOL}`, `${LABEL_INSTANCE}=${this.options.instance}`] }),
    });
    for (const c of leftovers) {
      if (c.Labels[LABEL_USER]) continue;
      const slot = c.Labels[LABEL_POOL] ?? '';
      const slotDir = join(slotsDir, slot);
      // A claimed one is a learner's server, the store's business; only idle ones are ours to remove.
      if (existsSync(join(slotDir, 'claimed'))) continue;
      const socketDir = slot ? poolSocketDir(this.options.runDir, slot) : undefined;
      await discardServer(docker, { containerId: c.Id, slotDir, socketDir });
    }
    this.running = true;
    this.refill();
  }

  /**
   * Claims an idle server for `request`, or undefined when none is idle (the caller then starts one the
   * usual way). A server that cannot be claimed is discarded in the background and the next one tried.
   */
  async claim(request: StartRequest): Promise<Started | undefined> {
    if (!this.running) return undefined;
    for (;;) {
      const server = this.idle.shift();
      warmPoolIdle.set(this.idle.length);
      this.lastClaimAt = performance.now();
      this.refillSoon();
      if (!server) return undefined;
      try {
        const claimed = await claimPoolServer(server, request, this.options.claimTimeoutMs ?? 5_000);
        this.claims += 1;
        return claimed;
      } catch (err) {
        this.options.log?.warn({ err, container: server.containerName }, 'warm server could not be claimed');
        // In the background: the learner goes on to the next idle server at once.
        void this.discard(server);
      }
    }
  }

  status(): PoolStatus {
    return {
      size: this.options.size,
      idle: this.idle.length,
      warming: this.warming,
      claims: this.claims,
      running: this.running,
    };
  }

  /** Removes idle servers (Sifu is stopping); claimed ones are learners' and stay. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.refillTimer) clearTimeout(this.refillTimer);
    await this.refilling?.catch(() => {});
    await Promise.all(this.idle.splice(0).map((server) => this.discard(server)));
    warmPoolIdle.set(0);
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
    if (!this.running || this.refilling) return;
    this.refilling = this.fill().finally(() => {
      this.refilling = undefined;
    });
  }

  private async fill(): Promise<void> {
    const concurrency = this.options.fillConcurrency ?? 4;
    const quietMs = this.options.refillDelayMs ?? 1_000;
    const settings = { ...this.options, warmTimeoutMs: this.options.warmTimeoutMs ?? 60_000 };
    const worker = async (): Promise<void> => {
      while (this.running && this.idle.length + this.warming < this.options.size) {
        // Claims are coming in (a burst): starting another pool server now would take CPU from them.
        const sinceClaim = performance.now() - this.lastClaimAt;
        if (sinceClaim < quietMs) {
          await sleep(quietMs - sinceClaim);
          continue;
        }
        this.warming += 1;
        warmPoolWarming.set(this.warming);
        try {
          const server = await warmPoolServer(settings);
          if (this.running) this.idle.push(server);
          else await this.discard(server);
        } catch (err) {
          this.options.log?.warn({ err }, 'warm pool: a server failed to warm up');
          await sleep(1_000);
        } finally {
          this.warming -= 1;
          warmPoolWarming.set(this.warming);
          warmPoolIdle.set(this.idle.length);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }

  private discard(server: PoolServer): Promise<void> {
    return discardServer(this.options.docker, server);
  }
}
