/**
 * Sifu as shipped, for the proxy benchmark: the process `make run` starts (`node dist/cli/main.js serve`,
 * built first if out of date), the real app with its sessions, activity, CSP and `workers` default, and
 * the default configuration but for its ports, its data dir, a bootstrap admin token (to stop the
 * learner's server afterwards), a uid range of its own (no test on this host shares its learners' uids)
 * and the learner's server: nginx answering the benchmark's body on the
 * unix socket the `local` backend gives a server, in its sandbox and cgroup, where Jupyter would run.
 * The learner signs in as a browser does (dev sign-in, then the handoff to their own origin,
 * `<name>.localhost`), and the load carries that browser's notebook cookie and Host.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { api } from '../test/support/api.js';
import { ensureBuilt } from '../test/support/dist.js';
import { freePort } from '../test/support/free-port.js';
import { waitUntilServing } from '../test/support/process.js';
import { BACKEND_BODY, type ProcessGroup, type Service } from './proxy-processes.js';
import { LoopbackBrowser } from './support/loopback-browser.js';

const ADMIN_TOKEN = 'bench-admin-token-0123456789';
/** Learners' uids of the benchmark's Sifus: past the default range (200000-299999) the tests' Sifus use. */
const UID_BASE = 400_000;

/** The learner's server: nginx on the socket `$1`, its files beside it (the only place it may write). */
const STANDIN_SCRIPT = `#!/bin/sh
set -e
dir=$(dirname "$1")
cat > "$dir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  server {
    listen unix:$1;
    keepalive_requests 1000000;
    location / { default_type text/plain; return 200 '${BACKEND_BODY}'; }
  }
}
EOF
exec /usr/sbin/nginx -p "$dir" -e stderr -c "$dir/nginx.conf"
`;

export interface ShippedSifu extends Service {
  /** What the learner's browser sends with each request: its notebook session cookie and Host. */
  headers: Record<string, string>;
}

/** Another learner's server than nginx, for benchmarks of other traffic (WebSockets). */
export interface LearnerServer {
  /** The stand-in command's shell script: `$1` is the socket to listen on; it must answer GETs with `BACKEND_BODY`. */
  script: string;
  /** First uid of the learners' range: each concurrent benchmark needs its own (default {@link UID_BASE}). */
  uidBase: number;
}

/**
 * Starts the built Sifu in `dir` (`workers` unset: the default), signs `user` in and starts their
 * server; the server is stopped through the API before the group stops Sifu.
 */
export async function startShippedSifu(
  group: ProcessGroup,
  dir: string,
  user: string,
  workers?: number,
  server: LearnerServer = { script: STANDIN_SCRIPT, uidBase: UID_BASE },
  /** More of Sifu's environment (`SIFU_*` options). */
  env: Record<string, string> = {},
): Promise<ShippedSifu> {
  const cli = ensureBuilt();
  // Read by the learner's uid in the sandbox (SIFU_SPAWNER_LOCAL_READ_ONLY_PATHS).
  const standin = join(dir, 'standin');
  await mkdir(standin, { recursive: true });
  await chmod(standin, 0o755);
  const script = join(standin, 'jupyter-standin.sh');
  await writeFile(script, server.script, { mode: 0o755 });
  const [hubPort, notebookPort] = [await freePort(), await freePort()];
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const child = group.start(process.execPath, [cli, 'serve'], {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    SIFU_DATA_DIR: join(dir, 'data'),
    SIFU_HUB_PORT: String(hubPort),
    SIFU_NOTEBOOK_PORT: String(notebookPort),
    SIFU_ADMIN_TOKEN: ADMIN_TOKEN,
    SIFU_SPAWNER_COMMAND: `/bin/sh ${script} \${SIFU_SERVER_SOCKET}`,
    SIFU_SPAWNER_LOCAL_READ_ONLY_PATHS: standin,
    SIFU_SPAWNER_LOCAL_UID_BASE: String(server.uidBase),
    ...(workers === undefined ? {} : { SIFU_WORKERS: String(workers) }),
    ...env,
  });
  await waitUntilServing(child, hubUrl, () => group.printed(child));
  group.beforeStop(async () => {
    await api({ hubUrl }, `/users/${user}/server`, { method: 'DELETE', token: ADMIN_TOKEN }).catch(() => {});
  });

  const notebook = `http://${user}.localhost:${notebookPort}/user/${user}/`;
  const browser = new LoopbackBrowser();
  let visit = await browser.follow(`${hubUrl}/hub/login`, {
    method: 'POST',
    body: new URLSearchParams({ username: user, next: notebook }).toString(),
    headers: { origin: hubUrl, 'content-type': 'application/x-www-form-urlencoded' },
  });
  // The start page hands over to the notebook once the server is up: as its script would, ask again.
  for (let i = 0; i < 100 && !(visit.url === notebook && visit.answer.body === BACKEND_BODY); i++) {
    await new Promise((r) => setTimeout(r, 100));
    visit = await browser.follow(notebook);
  }
  if (visit.url !== notebook || visit.answer.body !== BACKEND_BODY) {
    throw new Error(
      `${user} did not reach their server: ${visit.answer.status} at ${visit.url}: ${visit.answer.body.slice(0, 300)}\n${group.printed(child)}`,
    );
  }
  return {
    output: () => group.printed(child),
    url: `http://127.0.0.1:${notebookPort}`,
    pid: child.pid as number,
    headers: { Host: new URL(notebook).host, Cookie: browser.cookieHeader(notebook) },
    notProxy: ['bwrap'],
  };
}
