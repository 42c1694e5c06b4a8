import type { Logger } from 'pino';
import type { Route } from '../routes.js';

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
export async function fetchKernels(route: Route, baseUrl: string): Promise<KernelInfo[] | null> {
  try {
    const res = await fetch(`${route.target}${baseUrl}api/kernels`, {
      headers: { authorization: `token ${route.secret}` },
      signal: AbortSignal.timeout(5000),
    });
    // A single-user app without Jupyter's kernels API has no kernels to keep it alive.
    if (res.status === 404) return [];
    if (!res.ok) return null;
    const body = (await res.json()) as unknown;
    return Array.isArray(body) ? (body as KernelInfo[]) : null;
  } catch {
    return null;
  }
}

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
    culled.push(route.userName);
  }
  return culled;
}
