/**
 * A private git repository over HTTP on 127.0.0.1: `git http-backend` (CGI) behind a tiny Node server
 * that demands Basic auth with a token, so credentials are truly required. `gate` lets a test hold the
 * first authorised request (e.g. to look at the process table while the clone is in flight).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

export interface GitHttpServer {
  url(repo: string): string;
  /** Requests that came with the right credentials / without or with wrong ones. */
  authorised: number;
  refused: number;
  /** Set to hold authorised requests until it resolves. */
  gate: Promise<void> | null;
  close(): Promise<void>;
}

/** Creates a bare repository `<root>/<name>.git` whose one commit holds `files` (symlinks: `link:` prefix). */
export async function makeRepo(root: string, name: string, files: Record<string, string>): Promise<void> {
  const work = join(root, `${name}-work`);
  await mkdir(work, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: work,
      env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
      stdio: 'pipe',
    });
  git('init', '-q', '-b', 'main');
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(work, path, '..'), { recursive: true });
    if (content.startsWith('link:')) {
      const { symlinkSync } = await import('node:fs');
      symlinkSync(content.slice(5), join(work, path));
    } else {
      await writeFile(join(work, path), content);
    }
  }
  git('add', '-A');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.org', 'commit', '-q', '-m', 'notebooks');
  execFileSync('git', ['clone', '-q', '--bare', work, join(root, `${name}.git`)], { stdio: 'pipe' });
}

export async function startGitHttp(root: string, token: string): Promise<GitHttpServer> {
  const expected = `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;
  const state: GitHttpServer = {
    url: () => '',
    authorised: 0,
    refused: 0,
    gate: null,
    close: async () => {},
  };
  const server: Server = createServer(async (req, res) => {
    if (req.headers.authorization !== expected) {
      state.refused += 1;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"' }).end();
      return;
    }
    state.authorised += 1;
    if (state.gate) await state.gate;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const cgi = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: decodeURIComponent(url.pathname),
        QUERY_STRING: url.search.slice(1),
        REQUEST_METHOD: req.method,
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_USER: 'x-access-token',
        REMOTE_ADDR: '127.0.0.1',
        GIT_CONFIG_GLOBAL: '/dev/null',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString().split('\r\n')) {
        const colon = line.indexOf(':');
        const key = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (key === 'status') status = Number.parseInt(value, 10);
        else headers[key] = value;
      }
      res.writeHead(status, headers);
      res.write(head.subarray(end + 4));
    });
    cgi.stdout.on('end', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  state.url = (repo) => `http://127.0.0.1:${port}/${repo}.git`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}
