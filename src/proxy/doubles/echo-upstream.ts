/**
 * Test double of a notebook server: a real HTTP server on 127.0.0.1, port 0, that records every
 * request it receives (so tests can assert that a refused request never reached it) and answers:
 * - `.../echo`: JSON of method, url, headers;
 * - POST/PUT anything: JSON `{ bytes, sha256 }` of the streamed body;
 * - `.../download?mb=N[&length=1]`: N MiB of a deterministic pattern, chunked (or with Content-Length);
 * - `.../files/...`, `.../view/...`: HTML with Jupyter's own CSP (`frame-ancestors 'self'`);
 * - `.../api/contents/json` JSON, `.../api/contents/raw` text;
 * - `.../set-cookie`: sets a `sifu-session` cookie and an `_xsrf` cookie;
 * - `.../hang`: never answers; `.../half`: announces 100 bytes, sends 10, then closes;
 * - WebSocket: echoes every message; records upgrade requests too.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  upgrade: boolean;
}

export interface EchoUpstream {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** Every request and upgrade received, in order. */
  seen: SeenRequest[];
  /** WebSocket messages received. */
  wsMessages: number;
  /** TCP connections accepted (keep-alive reuse keeps this low). */
  connections: number;
  /** WebSockets currently open. */
  openWebSockets(): number;
  close(): Promise<void>;
}

/** The byte at offset `i` of a download: a pattern that catches reordered or dropped chunks. */
export function patternByte(i: number): number {
  return (i * 31 + (i >>> 16)) & 0xff;
}

export function patternBlock(start: number, length: number): Buffer {
  const block = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) block[i] = patternByte(start + i);
  return block;
}

function download(res: http.ServerResponse, url: URL): void {
  const total = Number(url.searchParams.get('mb') ?? '1') * 1024 * 1024;
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream' };
  if (url.searchParams.has('length')) headers['content-length'] = total;
  res.writeHead(200, headers);
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const size = Math.min(64 * 1024, total - sent);
      const ok = res.write(patternBlock(sent, size));
      sent += size;
      if (!ok) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

function answer(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://upstream');
  const path = url.pathname;
  if (req.method === 'POST' || req.method === 'PUT') {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ method: req.method, bytes, sha256: hash.digest('hex'), headers: req.headers }),
      );
    });
    return;
  }
  if (path.endsWith('/page-with-token')) {
    // As Jupyter's pages do: the token of the authenticated request, written into the HTML (chunked).
    const token = (req.headers.authorization ?? '').replace(/^token /, '');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.write(`<body data-jupyter-api-token="${token.slice(0, 5)}`);
    res.end(`${token.slice(5)}"><a href="/user/ada/tree?token=${token}">home</a></body>`);
    return;
  }
  if (path.endsWith('/compressed-page')) {
    res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip', 'content-length': '3' });
    res.end('abc');
    return;
  }
  if (path.endsWith('/hang')) return;
  if (path.endsWith('/half')) {
    res.writeHead(200, { 'content-length': '100' });
    res.write('0123456789');
    setImmediate(() => res.socket?.destroy());
    return;
  }
  if (path.endsWith('/download')) {
    download(res, url);
    return;
  }
  if (path.endsWith('/set-cookie')) {
    res.writeHead(200, { 'set-cookie': ['sifu-session=planted; Path=/', '_xsrf=abc; Path=/'] });
    res.end('ok');
    return;
  }
  if (/\/(files|view)\//.test(path) || path.endsWith('/api/contents/raw')) {
    const type = path.endsWith('/api/contents/raw') ? 'text/plain' : 'text/html';
    res.writeHead(200, {
      'content-type': type,
      'content-security-policy': "frame-ancestors 'self'",
      'x-frame-options': 'SAMEORIGIN',
    });
    res.end('<script>document.title = "learner content"</script>');
    return;
  }
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-security-policy': "frame-ancestors 'self'",
  });
  res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
}

/** Listens on 127.0.0.1 (port from the OS), or on the unix socket `socketPath` (origin `unix:<path>`). */
export async function startEchoUpstream(options: { socketPath?: string } = {}): Promise<EchoUpstream> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, upgrade: false });
    answer(req, res);
  });
  const wss = new WebSocketServer({ noServer: true });
  const upstream: EchoUpstream = {
    origin: '',
    seen,
    wsMessages: 0,
    connections: 0,
    openWebSockets: () => wss.clients.size,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', () => {
    upstream.connections++;
  });
  server.on('upgrade', (req, socket, head) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, upgrade: true });
    socket.on('error', () => socket.destroy());
    if (req.url?.endsWith('/refuse')) {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno socket');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, binary) => {
        upstream.wsMessages++;
        ws.send(data, { binary });
      });
    });
  });
  if (options.socketPath) {
    const path = options.socketPath;
    await new Promise<void>((resolve) => server.listen(path, resolve));
    upstream.origin = `unix:${path}`;
    return upstream;
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  upstream.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return upstream;
}
