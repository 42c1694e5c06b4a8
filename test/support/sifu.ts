import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { type Sifu, startSifu } from '../../src/app/start.js';
import { loadConfig } from '../../src/config/load.js';
import { DEFAULT_SPAWNER_COMMAND } from '../../src/config/schema.js';
import { createSpawner } from '../../src/spawner/create-spawner.js';
import type { Spawner } from '../../src/spawner/spawner.js';
import { freePort } from './free-port.js';
import { collectOutput, waitUntilServing } from './process.js';

export const REPO = resolve(import.meta.dirname, '../..');
/** Where the failure doubles live: the local sandbox must be let read them (`spawner.local.readOnlyPaths`). */
export const DOUBLES_DIR = join(REPO, 'src/spawner/doubles');
/** The fast stand-in for a Jupyter server (answers the readiness and contents API). */
export const FAKE_SERVER = `/usr/bin/python3 ${join(DOUBLES_DIR, 'fake-server.py')}`;
/** The real single-user server: Debian's jupyter-notebook, as Sifu runs it by default. */
export const JUPYTER = DEFAULT_SPAWNER_COMMAND;
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

// Re-exported here, where most tests take their helpers from; each has one home of its own.
export { api } from './api.js';
export { freePort };

export interface TestSifu extends Sifu {
  dataDir: string;
  /** Stops every learner server, then Sifu, then removes the data dir. */
  cleanup(): Promise<void>;
}

/**
 * Starts Sifu in this process on OS-chosen ports with a fresh data dir. Notebooks share one origin,
 * http://127.0.0.1:<port>, which Node's clients reach without a resolver; `userOrigins` gives each
 * learner `http://<name>.localhost:<port>` instead (as the default configuration does), which only
 * Chromium resolves: Node-side requests then go to 127.0.0.1 with the `Host` header set.
 */
export async function startTestSifu(
  options: {
    command?: string;
    overrides?: Record<string, Record<string, unknown>>;
    dataDir?: string;
    userOrigins?: boolean;
    /** Wraps the configured backend (failure doubles around a real one). */
    wrapSpawner?: (spawner: Spawner) => Spawner;
  } = {},
): Promise<TestSifu> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'sifu-test-')));
  const notebookPort = await freePort();
  const config = loadConfig({
    overrides: {
      dataDir,
      adminToken: ADMIN_TOKEN,
      hub: { port: await freePort() },
      notebook: {
        port: notebookPort,
        publicUrl: `http://${options.userOrigins ? 'localhost' : '127.0.0.1'}:${notebookPort}`,
        ...options.overrides?.notebook,
      },
      spawner: {
        command: options.command ?? `${FAKE_SERVER} fast`,
        startTimeout: 60,
        local: { readOnlyPaths: [DOUBLES_DIR] },
        ...options.overrides?.spawner,
      },
      culler: { enabled: false },
      log: { level: process.env.SIFU_TEST_LOG ?? 'silent' },
      ...Object.fromEntries(
        Object.entries(options.overrides ?? {}).filter(([k]) => k !== 'spawner' && k !== 'notebook'),
      ),
    },
  });
  const spawner = options.wrapSpawner?.(createSpawner(config));
  const sifu = await startSifu(config, {
    log: pino({ level: config.log.level }),
    ...(spawner ? { spawner } : {}),
  }).catch(async (err) => {
    if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  });
  return {
    ...sifu,
    dataDir,
    async cleanup() {
      // Settle starts in flight first (no new ones begin), so that none turns ready after the sweep.
      await sifu.manager.shutdown();
      for (const route of sifu.manager.runningRoutes()) {
        await sifu.manager.stop(route.userName, route.serverName).catch(() => {});
      }
      await sifu.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Sifu as a separate OS process (`sifu serve`), for restart and crash tests; one worker unless `env` says. */
export async function startSifuProcess(
  env: Record<string, string>,
): Promise<{ child: ChildProcess; output(): string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'serve'], {
    env: {
      ...process.env,
      SIFU_CULLER_ENABLED: 'false',
      SIFU_LOG_LEVEL: 'info',
      SIFU_SPAWNER_LOCAL_READ_ONLY_PATHS: DOUBLES_DIR,
      SIFU_WORKERS: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  await waitUntilServing(child, `http://127.0.0.1:${env.SIFU_HUB_PORT}`, output).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  return { child, output };
}

/** The `<form method="post" ... data-autosubmit>` of a page, with its hidden fields, if it has one. */
function autoSubmitForm(html: string, pageUrl: string): { action: string; fields: URLSearchParams } | null {
  const form = /<form method="post" action="([^"]+)" data-autosubmit>([\s\S]*?)<\/form>/.exec(html);
  if (!form) return null;
  const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };
  const decodeEntities = (v: string) =>
    v.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => entities[e] as string);
  const fields = new URLSearchParams();
  for (const input of (form[2] as string).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields.set(input[1] as string, decodeEntities(input[2] as string));
  }
  return { action: new URL(decodeEntities(form[1] as string), pageUrl).href, fields };
}

/** A tiny cookie-keeping HTTP client: what a browser does with redirects and cookies, nothing more. */
export class Client {
  readonly cookies = new Map<string, string>();

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private keep(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = (pair as string).indexOf('=');
      const name = (pair as string).slice(0, eq);
      const value = (pair as string).slice(eq + 1);
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** One request, no redirects followed. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0 && !headers.has('cookie')) headers.set('cookie', this.cookieHeader());
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.keep(res);
    return res;
  }

  /** Follows redirects (GET after 302/303) up to `max` hops; returns the last response and the URLs seen. */
  async follow(url: string, init: RequestInit = {}, max = 10): Promise<{ res: Response; hops: string[] }> {
    const hops = [url];
    const navigate = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
    let res = await this.request(url, {
      ...init,
      headers: { ...navigate, ...(init.headers as Record<string, string>) },
    });
    for (let i = 0; i < max; i++) {
      if (res.status >= 300 && res.status < 400) {
        const next = new URL(res.headers.get('location') as string, hops.at(-1)).href;
        await res.arrayBuffer();
        hops.push(next);
        res = await this.request(next, { headers: navigate });
        continue;
      }
      // A page whose form submits itself (the start page) is submitted, as the browser's script would.
      if (!res.headers.get('content-type')?.startsWith('text/html')) break;
      const text = await res.text();
      const form = autoSubmitForm(text, hops.at(-1) as string);
      if (!form) {
        res = new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers });
        break;
      }
      hops.push(form.action);
      res = await this.request(form.action, {
        method: 'POST',
        body: form.fields,
        headers: {
          ...navigate,
          origin: new URL(hops.at(-2) as string).origin,
          'content-type': 'application/x-www-form-urlencoded',
        },
      });
    }
    return { res, hops };
  }

  /** Signs in with the dev authenticator and completes the handoff to the notebook origin. */
  async signIn(sifu: { hubUrl: string; notebookUrl: string }, user: string, next?: string) {
    const body = new URLSearchParams({ username: user, next: next ?? `${sifu.notebookUrl}/user/${user}/` });
    return this.follow(`${sifu.hubUrl}/hub/login`, {
      method: 'POST',
      body,
      headers: { origin: sifu.hubUrl, 'content-type': 'application/x-www-form-urlencoded' },
    });
  }
}

export { waitFor } from './process.js';

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
