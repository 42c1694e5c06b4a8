import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { basename, dirname, join } from 'node:path';
import type Docker from 'dockerode';
import { assetPath } from '../../assets.js';
import { sleep } from '../../cancelled.js';
import { CONTAINER_RUNTIME_DIR, CONTAINER_USER } from '../../container-security.js';
import { CONTAINER_SOCKET_DIR } from '../../container-server.js';
import { makeServerSocketDir, SERVER_SOCKET_NAME, serverSocketKey } from '../../server-socket.js';
import type { Started, StartRequest } from '../../spawner.js';
import type { DockerState } from '../docker-state.js';
import { demuxLogs } from '../engine.js';
import { poolLabels } from '../labels.js';
import { type ContainerLimits, createServerContainer, discardServer } from '../server-container.js';
import { mountHome } from './slots.js';

/**
 * One warm-pool server (docs/pool.md) and the launcher's protocol: made for nobody under a placeholder base
 * URL and a pool token, then claimed once, in one request, for one learner.
 */

export interface PoolServer {
  containerId: string;
  containerName: string;
  slotDir: string;
  /** Host directory of its unix socket, made with the slot: a claim routes to `socketPath`. */
  socketDir: string;
  /** Where the server listens, on the host. */
  socketPath: string;
  /** Its placeholder base URL until the claim, `/sifu-pool-<slot>/`. */
  poolBaseUrl: string;
  /** Its token until the claim: Sifu's secret, gone with the claim. */
  poolToken: string;
}

/** What making a pool server needs: the docker spawner's engine, image, limits and labels. */
export interface PoolServerSettings {
  docker: Docker;
  image: string;
  limits: ContainerLimits;
  instance: string;
  labels?: Record<string, string>;
  homePath: string;
  /** Host directory of the slots (a shared mount, `slots.ts`). */
  slotsDir: string;
  /** Host directory of servers' socket directories (the docker spawner's `runDir`). */
  runDir: string;
  /** Bound on one pool server becoming claimable. */
  warmTimeoutMs: number;
}

const CLAIM_MOUNT = '/run/sifu-claim';
const LAUNCHER_MOUNT = '/sifu-pool';

/** The user no learner can be (not a valid name) whose "server" is a slot: keys a pool socket directory. */
const POOL_SOCKET_OWNER = '~pool';

/** The socket directory of a slot's server (made by `warmPoolServer`). */
export function poolSocketDir(runDir: string, slot: string): string {
  return join(runDir, serverSocketKey(POOL_SOCKET_OWNER, slot));
}

/** Writes a file only the container's user can read (the server reads it; the learner cannot change it). */
async function writeForContainer(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o400 });
  await chown(path, CONTAINER_USER.uid, CONTAINER_USER.gid);
}

/**
 * Makes a pool server: its slot (an empty `home/`, and `ctl/` holding the pool token), its socket
 * directory, a container running the launcher (`assets/warm-pool/`, mounted read-only), and resolves once
 * it is claimable. On failure removes what it made and rejects.
 */
export async function warmPoolServer(settings: PoolServerSettings): Promise<PoolServer> {
  const { docker, homePath } = settings;
  const slot = randomBytes(6).toString('hex');
  const slotDir = join(settings.slotsDir, slot);
  const ctl = join(slotDir, 'ctl');
  const poolToken = randomBytes(32).toString('hex');
  const poolBaseUrl = `/sifu-pool-${slot}/`;
  await mkdir(join(slotDir, 'home'), { recursive: true, mode: 0o700 });
  await mkdir(ctl, { recursive: true, mode: 0o700 });
  const containerName = `sifu-pool-${slot}`;
  const launcher = assetPath('warm-pool/warm-launcher.py');
  let containerId: string | undefined;
  let socketDir: string | undefined;
  try {
    // The container's user owns the empty mount point (its root until the claim) and reads `ctl/`.
    await chown(join(slotDir, 'home'), CONTAINER_USER.uid, CONTAINER_USER.gid);
    await chown(ctl, CONTAINER_USER.uid, CONTAINER_USER.gid);
    await writeForContainer(join(ctl, 'token'), poolToken);
    const socket = await makeServerSocketDir(
      settings.runDir,
      { userName: POOL_SOCKET_OWNER, serverName: slot },
      CONTAINER_USER,
    );
    socketDir = socket.dir;
    const container = await createServerContainer(
      docker,
      {
        name: containerName,
        image: settings.image,
        argv: ['python3', `${LAUNCHER_MOUNT}/${basename(launcher)}`],
        env: {
          HOME: homePath,
          SIFU_SERVER_ROOT: homePath,
          JUPYTER_RUNTIME_DIR: CONTAINER_RUNTIME_DIR,
          SIFU_SERVER_SOCKET: `${CONTAINER_SOCKET_DIR}/${SERVER_SOCKET_NAME}`,
          SIFU_POOL_BASE_URL: poolBaseUrl,
          SIFU_CLAIM_TOKEN_FILE: `${CLAIM_MOUNT}/token`,
          SIFU_CLAIM_SECRET_FILE: `${CLAIM_MOUNT}/secret`,
        },
        workingDir: '/',
        labels: poolLabels(settings.instance, slot, settings.labels),
        binds: [
          `${join(slotDir, 'home')}:${homePath}:rw,rslave`,
          `${socket.dir}:${CONTAINER_SOCKET_DIR}:rw`,
          `${ctl}:${CLAIM_MOUNT}:ro`,
          `${dirname(launcher)}:${LAUNCHER_MOUNT}:ro`,
        ],
      },
      settings.limits,
    );
    containerId = container.id;
    await container.start();
    const server = {
      containerId,
      containerName,
      slotDir,
      socketDir: socket.dir,
      socketPath: socket.path,
      poolBaseUrl,
      poolToken,
    };
    await waitClaimable(docker, server, settings.warmTimeoutMs);
    return server;
  } catch (err) {
    await discardServer(docker, { containerId, slotDir, socketDir });
    throw err;
  }
}

/**
 * Claimable once the server answers its API under the placeholder with the pool token (the launcher
 * also logs "ready for a claim"); the engine is asked every second whether it died meanwhile.
 */
async function waitClaimable(docker: Docker, server: PoolServer, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const container = docker.getContainer(server.containerId);
  let inspectedAt = performance.now();
  while (performance.now() < deadline) {
    const answer = await poolRequest(server, 'GET', `${server.poolBaseUrl}api`, { timeoutMs: 2_000 });
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

/**
 * Makes `server` the learner's. Their home goes into the slot and their secret into its `ctl/` (a file,
 * never the network), then the claim request makes the running server the learner's: it answers once the
 * server serves `request.baseUrl` with `request.secret` (and no longer the placeholder or the pool token),
 * with a proof that it holds the pool token. A server that died refuses the connection: the claim fails at
 * once; and whatever else took its port cannot give the proof, so it never gets the learner's secret.
 * The state is a docker-backend state: `poll` and `stop` work as for any container.
 */
export async function claimPoolServer(
  server: PoolServer,
  request: StartRequest,
  timeoutMs: number,
): Promise<Started> {
  await writeFile(join(server.slotDir, 'claimed'), `${request.userName}\n`);
  await writeForContainer(join(server.slotDir, 'ctl', 'secret'), request.secret);
  await mountHome(server.slotDir, request.home);
  const nonce = randomBytes(16).toString('hex');
  const answer = await poolRequest(server, 'POST', `${server.poolBaseUrl}sifu-claim`, {
    body: JSON.stringify({ baseUrl: request.baseUrl, nonce }),
    timeoutMs,
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
    secretDir: null,
    socketDir: server.socketDir,
    slotDir: server.slotDir,
  };
  return { url: `unix:${server.socketPath}`, state: { ...state } };
}

/**
 * One request to a pool server with its pool token; resolves with the status and (up to 64 KiB of) body,
 * status 0 when there was no answer (refused, reset, timed out). A fresh connection each time.
 */
function poolRequest(
  server: PoolServer,
  method: 'GET' | 'POST',
  path: string,
  options: { body?: string; timeoutMs: number },
): Promise<{ status: number; body: string }> {
  const none = { status: 0, body: '' };
  return new Promise((resolve) => {
    const req = httpRequest({
      socketPath: server.socketPath,
      // What the proxy sends a server on a socket; Jupyter refuses a Host it does not take for local.
      host: 'localhost',
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
