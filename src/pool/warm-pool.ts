import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { assetPath } from '../spawner/assets.js';
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
  /**
   * Quiet time after the last claim before refilling starts, and before each further pool server is
   * started while refilling (default 1 s): a burst of claims never competes with new pool servers.
   */
  refillDelayMs?: number;
  /** Bound on the claim request to a pool server (default 5 s); past it the server is discarded. */
  claimTimeoutMs?: number;
}

interface WarmServer {
  containerId: string;
  containerName: string;
  slotDir: string;
  /** Where the server listens (127.0.0.1), chosen when the pool server was made. */
  port: number;
  /** Its placeholder base URL until the claim, `/sifu-pool-<slot>/`. */
  poolBaseUrl: string;
  /** Its token until the claim: Sifu's secret, gone with the claim. */
  poolToken: string;
}

const CLAIM_MOUNT = '/run/sifu-claim';
const LAUNCHER_MOUNT = '/sifu-pool';

/** The launcher's folder (assets/warm-pool/), mounted read-only into each pool container. */
const launcherDir = (): string => dirname(assetPath('warm-pool/warm-launcher.py'));

/**
 * The warm pool (docs/pool.md): `size` notebook containers per image that belong to nobody, each running a
 * fully started Jupyter server under a placeholder base URL and a pool token. A claim mounts the learner's
 * home into its slot and, in one request, has the server rebind itself to the learner's base URL and secret
 * (a few milliseconds). Claims take servers off the idle list synchronously, so one server never goes to
 * two learners; the pool refills in the background. Claimed containers are never returned to the pool.
 */
export class WarmPool {
  private readonly idle: WarmServer[] = [];
  private warming = 0;
  private stopped = false;
  private readonly homePath: string;
  private refilling: Promise<void> | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  private lastClaimAt = 0;

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
      this.lastClaimAt = performance.now();
      this.refillSoon();
      if (!server) return undefined;
      try {
        return await this.bind(server, request);
      } catch (err) {
        this.options.log?.warn({ err, container: server.containerName }, 'warm server could not be claimed');
        // In the background: the learner goes on to the next idle server at once.
        void this.discard(server);
      }
    }
  }

  /**
   * The learner's home goes into the slot and their secret into its `ctl/` (a file, never the network),
   * then the claim request makes the running server the learner's: it answers once the server serves
   * `request.baseUrl` with `request.secret` (and no longer the placeholder or the pool token), with a proof
   * that it holds the pool token. A server that died refuses the connection: the claim fails at once; and
   * whatever else took its port cannot give the proof, so it never gets the learner's secret.
   */
  private async bind(server: WarmServer, request: StartRequest): Promise<Started> {
    await writeFile(join(server.slotDir, 'claimed'), `${request.userName}\n`);
    await writeFile(join(server.slotDir, 'ctl', 'secret'), request.secret, { mode: 0o600 });
    await mountHome(server.slotDir, request.home);
    const nonce = randomBytes(16).toString('hex');
    const answer = await httpCall(server, 'POST', `${server.poolBaseUrl}sifu-claim`, {
      body: JSON.stringify({ baseUrl: request.baseUrl, nonce }),
      timeoutMs: this.options.claimTimeoutMs ?? 5_000,
    });
    if (answer.status !== 200) throw new Error(`the claim was answered ${answer.status}`);
    const expected = createHmac('sha256', server.poolToken)
      .update(nonce + request.baseUrl)
      .digest();
    let proof: Buffer;
    try {
      proof = Buffer.from(String((JSON.parse(answer.body) as { proof?: unknown }).proof ?? ''), 'hex');
    } catch {
      proof = Buffer.alloc(0);
    }
    if (proof.length !== expected.length || !timingSafeEqual(proof, expected))
      throw new Error('the claim was answered without the proof of the pool token');
    const state: DockerState = {
      containerId: server.containerId,
      containerName: server.containerName,
      port: server.port,
      secretDir: null,
      slotDir: server.slotDir,
    };
    return { url: `http://127.0.0.1:${server.port}`, state: { ...state } };
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
    const quietMs = this.options.refillDelayMs ?? 1_000;
    const worker = async (): Promise<void> => {
      while (!this.stopped && this.idle.length + this.warming < this.options.size) {
        // Claims are coming in (a burst): starting another pool server now would take CPU from them.
        const sinceClaim = performance.now() - this.lastClaimAt;
        if (sinceClaim < quietMs) {
          await sleep(quietMs - sinceClaim);
          continue;
        }
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
    const poolToken = randomBytes(32).toString('hex');
    const poolBaseUrl = `/sifu-pool-${slot}/`;
    await mkdir(join(slotDir, 'home'), { recursive: true, mode: 0o700 });
    await mkdir(ctl, { recursive: true, mode: 0o700 });
    await writeFile(join(ctl, 'token'), poolToken, { mode: 0o600 });
    const port = await pickFreePort();
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
          `SIFU_SERVER_PORT=${port}`,
          `SIFU_POOL_BASE_URL=${poolBaseUrl}`,
          `SIFU_CLAIM_TOKEN_FILE=${CLAIM_MOUNT}/token`,
          `SIFU_CLAIM_SECRET_FILE=${CLAIM_MOUNT}/secret`,
        ],
        WorkingDir: '/',
        Labels: {
          ...this.options.labels,
          [LABEL_MANAGED]: 'true',
          [LABEL_INSTANCE]: this.options.instance,
          [LABEL_POOL]: slot,
          [LABEL_SERVER]: '',
          [LABEL_PORT]: String(port),
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
      const server = { containerId, containerName, slotDir, port, poolBaseUrl, poolToken };
      await this.waitClaimable(server);
      return server;
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

  /**
   * Claimable once the server answers its API under the placeholder with the pool token (the launcher
   * also logs "ready for a claim"); the engine is asked every second whether it died meanwhile.
   */
  private async waitClaimable(server: WarmServer): Promise<void> {
    const deadline = performance.now() + (this.options.warmTimeoutMs ?? 60_000);
    const container = this.options.docker.getContainer(server.containerId);
    let inspectedAt = performance.now();
    while (performance.now() < deadline) {
      const answer = await httpCall(server, 'GET', `${server.poolBaseUrl}api`, { timeoutMs: 2_000 });
      if (answer.status === 200) return;
      if (performance.now() - inspectedAt >= 1_000) {
        inspectedAt = performance.now();
        const info = await container.inspect();
        if (!info.State.Running) {
          const raw = (await container.logs({ stdout: true, stderr: true, tail: 20 })) as unknown as Buffer;
          throw new Error(`warm server exited: ${demuxLogs(raw, [server.poolToken]).slice(-500)}`);
        }
      }
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

/**
 * One request to a pool server with its pool token; resolves with the status and (up to 64 KiB of) body,
 * status 0 when there was no answer (refused, reset, timed out). A fresh connection each time.
 */
function httpCall(
  server: WarmServer,
  method: 'GET' | 'POST',
  path: string,
  options: { body?: string; timeoutMs: number },
): Promise<{ status: number; body: string }> {
  const none = { status: 0, body: '' };
  return new Promise((resolve) => {
    const req = request({
      host: '127.0.0.1',
      port: server.port,
      path,
      method,
      agent: false,
      headers: {
        authorization: `token ${server.poolToken}`,
        ...(options.body === undefined
          ? {}
          : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body) }),
      },
    });
    const timer = setTimeout(() => req.destroy(new Error('timed out')), options.timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= 65_536) chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', () => {
        clearTimeout(timer);
        resolve(none);
      });
    });
    req.on('error', () => {
      clearTimeout(timer);
      resolve(none);
    });
    req.end(options.body);
  });
}
