import { request } from 'node:http';
import type { Logger } from 'pino';
import { culledTotal } from '../metrics/metrics.js';
import { hostHeaderOf, httpAddressOf, type Route } from '../routes.js';

export interface KernelInfo {
  execution_state?: string;
  last_activity?: string;
}

/**
 * Decides whether a server is idle: no proxy activity and no kernel activity since `cutoff`, and no
 * kernel busy right now (a long computation with the browser closed is work, not idleness). Pure.
 */
export function isIdle(lastProxyActivity: number, kernels: readonly KernelInfo[], cutoff: number): boolean {
  if (lastProxyActivity > cutoff) return false;
  for (const kernel of kernels) {
    if (kernel.execution_state === 'busy' || kernel.execution_state === 'starting') return false;
    const last = kernel.last_activity ? Date.parse(kernel.last_activity) : Number.NaN;
    if (Number.isFinite(last) && last > cutoff) return false;
  }
  return true;
}

/** Asks a server for its kernels through its own API (with its secret). Unknown -> treated as busy. */
export function fetchKernels(route: Route, baseUrl: string): Promise<KernelInfo[] | null> {
  const address = httpAddressOf(route.target);
  if (!address) return Promise.resolve(null);
  return new Promise((resolve) => {
    const req = request({
      ...address,
      path: `${baseUrl}api/kernels`,
      agent: false,
      timeout: 5000,
      headers: { authorization: `token ${route.secret}`, host: hostHeaderOf(route.target) },
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.on('response', (res) => {
      // A single-user app without Jupyter's kernels API has no kernels to keep it alive.
      if (res.statusCode !== 200) {
        res.resume();
        resolve(res.statusCode === 404 ? [] : null);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        // A server's answer is untrusted input: a kernel list is small.
        if (size > MAX_KERNELS_BYTES) req.destroy();
        else chunks.push(chunk);
      });
      res.on('error', () => resolve(null));
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
          resolve(Array.isArray(body) ? (body as KernelInfo[]) : null);
        } catch {
          resolve(null);
        }
      });
    });
    req.end();
  });
}

const MAX_KERNELS_BYTES = 1024 * 1024;

export interface CullerDeps {
  routes(): Array<Route & { lastActivity: number }>;
  kernels(route: Route): Promise<KernelInfo[] | null>;
  stop(userName: string, serverName: string): Promise<unknown>;
  log: Logger;
}

/** One culling pass: stops every idle server; returns the users whose servers were stopped. */
export async function cullIdleServers(
  deps: CullerDeps,
  idleTimeoutMs: number,
  now = Date.now(),
): Promise<string[]> {
  const cutoff = now - idleTimeoutMs;
  const culled: string[] = [];
  for (const route of deps.routes()) {
    if (route.lastActivity > cutoff) continue;
    const kernels = await deps.kernels(route);
    // A server that cannot tell us about its kernels is left alone this time: never cull on doubt.
    if (kernels === null || !isIdle(route.lastActivity, kernels, cutoff)) continue;
    deps.log.info({ user: route.userName, server: route.serverName }, 'culling idle server');
    await deps.stop(route.userName, route.serverName);
    culledTotal.inc({ kind: 'server' });
    culled.push(route.userName);
  }
  return culled;
}

/** What culling users needs of the store (a `Store` provides it). */
export interface UserCullerDeps {
  listUsers(): Promise<Array<{ name: string; admin: boolean; createdAt: Date; lastActivity: Date | null }>>;
  /** Every server row (running or starting, on any host): a user with one is not idle. */
  listServers(): Promise<Array<{ userName: string }>>;
  deleteUser(name: string): Promise<boolean>;
  addEvent(type: string, userName: string | null, data?: Record<string, unknown>): Promise<void>;
  log: Logger;
}

/**
 * Deletes users with no server whose last activity (or, never active, their creation) is older than
 * the timeout; never an admin. As jupyterhub-idle-culler's `--cull-users`: the account goes (tokens,
 * sessions), the home stays. Each is recorded as a `user.culled` event. Returns the names deleted.
 */
export async function cullIdleUsers(
  deps: UserCullerDeps,
  idleTimeoutMs: number,
  now = Date.now(),
): Promise<string[]> {
  const cutoff = now - idleTimeoutMs;
  const withServers = new Set((await deps.listServers()).map((s) => s.userName));
  const culled: string[] = [];
  for (const user of await deps.listUsers()) {
    if (user.admin || withServers.has(user.name)) continue;
    const last = (user.lastActivity ?? user.createdAt).getTime();
    if (last > cutoff) continue;
    // Asked again just before: a start claimed since the first read must not lose its row (it would
    // go with the user).
    if ((await deps.listServers()).some((s) => s.userName === user.name)) continue;
    // Gone already (deleted meanwhile): nothing to record.
    if (!(await deps.deleteUser(user.name))) continue;
    await deps.addEvent('user.culled', user.name, {
      lastActivity: user.lastActivity?.toISOString() ?? null,
      idleTimeout: idleTimeoutMs / 1000,
    });
    deps.log.info({ user: user.name }, 'culled idle user');
    culledTotal.inc({ kind: 'user' });
    culled.push(user.name);
  }
  return culled;
}
