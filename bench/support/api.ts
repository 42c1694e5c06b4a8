import { api } from '../../test/support/api.js';

/** A system the benchmarks drive through JupyterHub's REST API: Sifu's hub or JupyterHub itself. */
export interface HubApiTarget {
  /** Origin serving `/hub/api/`. */
  apiUrl: string;
  token: string;
}

/**
 * One API request, bounded by `timeoutMs`. An abort is honoured before the request, never during it: a
 * request cut off mid-flight can leave the system busy (Sifu's hub then waits for it on close).
 */
export async function hubApi(
  target: HubApiTarget,
  method: string,
  path: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<{ status: number; body: unknown }> {
  options.signal?.throwIfAborted();
  return api({ hubUrl: target.apiUrl }, path, {
    method,
    token: target.token,
    signal: AbortSignal.timeout(options.timeoutMs),
  });
}
