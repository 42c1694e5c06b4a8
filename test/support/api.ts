/**
 * One request to a hub's REST API (`<hubUrl>/hub/api<path>`; Sifu's, or JupyterHub's in the benchmarks),
 * with a token and a JSON body if given. The answer's body is parsed as JSON, else kept as text.
 */
export async function api(
  sifu: { hubUrl: string },
  path: string,
  init: { method?: string; token?: string; body?: unknown; signal?: AbortSignal } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (init.token !== undefined) headers.authorization = `token ${init.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${sifu.hubUrl}/hub/api${path}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: res.status, body };
}
