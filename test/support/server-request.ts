import { request } from 'node:http';

/**
 * One GET to a server at a route target (`http://host:port` or `unix:<path>`), as Sifu's proxy makes
 * it (Host `localhost` on a socket): for tests that check a server directly, behind the proxy's back.
 */
export function requestServer(
  target: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const where = target.startsWith('unix:')
    ? { socketPath: target.slice('unix:'.length), host: 'localhost' }
    : { host: new URL(target).hostname, port: Number(new URL(target).port) };
  return new Promise((resolve, reject) => {
    const req = request({ ...where, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${target}${path} in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}
