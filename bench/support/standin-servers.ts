/**
 * The stand-in servers of the several-hosts benchmark: ONE process that stands in for many Jupyter
 * servers, each a unix socket of its own answering `GET <base>...` (its readiness check `<base>api`
 * included) with 200 JSON when `Authorization: token <secret>` is its secret. It is not Jupyter: it
 * has no kernels, files or WebSockets; it costs a socket and a few hundred bytes per server, so that a
 * thousand servers fit on a small machine and the replicas' own costs are what is measured.
 *
 * Run as `node --import tsx bench/support/standin-servers.ts <control socket> <socket dir>`; it prints
 * `ready` once it listens. The replicas' stand-in backend (`standin-spawner.ts`) drives it over the
 * control socket with one JSON object per line: `open`, `alive`, `close`, `list`, each answered by a
 * line with the same `id`.
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';

/** What the control socket carries, one JSON object per line. */
export type StandinRequest =
  | { id: number; op: 'open'; host: string; user: string; server: string; secret: string; base: string }
  | { id: number; op: 'alive'; standinId: string }
  | { id: number; op: 'close'; standinId: string }
  | { id: number; op: 'list'; host: string };

export interface StandinServer {
  standinId: string;
  socket: string;
  host: string;
  user: string;
  server: string;
}

interface Served extends StandinServer {
  secret: string;
  base: string;
  listener: net.Server;
}

/** Which stand-in a connection reached (set on each accepted socket). */
const SERVED = Symbol('standin');
type TaggedSocket = net.Socket & { [SERVED]?: Served };

function runStandinServers(controlPath: string, socketDir: string): void {
  const served = new Map<string, Served>();
  let next = 0;

  // One HTTP parser for every stand-in: each accepted connection is handed to it, tagged with its server.
  const http1 = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const server = (req.socket as TaggedSocket)[SERVED];
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    req.resume();
    if (!server || !served.has(server.standinId)) return send(503, { message: 'closed' });
    if (!(req.url ?? '').startsWith(server.base)) return send(404, { message: 'not under the base URL' });
    if (req.headers.authorization !== `token ${server.secret}`) return send(403, { message: 'bad token' });
    send(200, { version: 'standin', user: server.user });
  });

  const open = async (request: Extract<StandinRequest, { op: 'open' }>): Promise<StandinServer> => {
    next += 1;
    const standinId = `s${next}`;
    const socket = join(socketDir, `${standinId}.sock`);
    const listener = net.createServer((connection) => {
      (connection as TaggedSocket)[SERVED] = served.get(standinId);
      http1.emit('connection', connection);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(socket, () => resolve());
    });
    const entry: Served = {
      standinId,
      socket,
      host: request.host,
      user: request.user,
      server: request.server,
      secret: request.secret,
      base: request.base,
      listener,
    };
    served.set(standinId, entry);
    return { standinId, socket, host: entry.host, user: entry.user, server: entry.server };
  };

  const close = async (standinId: string): Promise<void> => {
    const entry = served.get(standinId);
    if (!entry) return;
    served.delete(standinId);
    await new Promise<void>((resolve) => entry.listener.close(() => resolve()));
  };

  const answer = async (request: StandinRequest): Promise<Record<string, unknown>> => {
    switch (request.op) {
      case 'open':
        return { server: await open(request) };
      case 'alive':
        return { alive: served.has(request.standinId) };
      case 'close':
        await close(request.standinId);
        return {};
      case 'list':
        return {
          servers: [...served.values()]
            .filter((s) => s.host === request.host)
            .map(({ standinId, socket, host, user, server }) => ({ standinId, socket, host, user, server })),
        };
    }
  };

  const control = net.createServer((connection) => {
    let buffered = '';
    connection.setEncoding('utf8');
    connection.on('error', () => connection.destroy());
    connection.on('data', (chunk: string) => {
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        const request = JSON.parse(line) as StandinRequest;
        answer(request).then(
          (body) => connection.write(`${JSON.stringify({ id: request.id, ...body })}\n`),
          (err: unknown) => connection.write(`${JSON.stringify({ id: request.id, error: String(err) })}\n`),
        );
      }
    });
  });
  rmSync(controlPath, { force: true });
  control.listen(controlPath, () => process.stdout.write('ready\n'));
  const quit = () => process.exit(0);
  process.on('SIGTERM', quit);
  process.on('SIGINT', quit);
  // The bench that started it is gone: so is the reason to serve.
  process.on('disconnect', quit);
}

const [controlPath, socketDir] = process.argv.slice(2);
if (controlPath === undefined || socketDir === undefined) {
  throw new Error('usage: standin-servers.ts <control socket> <socket dir>');
}
runStandinServers(controlPath, socketDir);
