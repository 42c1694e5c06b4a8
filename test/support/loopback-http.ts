/**
 * HTTP to a `*.localhost` URL from Node: Chromium resolves those names to loopback, Node's resolver
 * does not, so the request goes to 127.0.0.1 with the URL's host in the `Host` header, as a browser
 * would send it.
 */
import http from 'node:http';

export interface LoopbackAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** The `Location` header resolved against the request URL, if any. */
  location: string | undefined;
}

export function loopbackRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<LoopbackAnswer> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: target.port || 80,
        method: init.method ?? 'GET',
        path: target.pathname + target.search,
        setHost: false,
        headers: { host: target.host, ...init.headers },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => {
          const location = res.headers.location;
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            location: location === undefined ? undefined : new URL(location, url).href,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}
