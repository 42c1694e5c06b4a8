import { readFileSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { createExternalLogin } from '../auth/oauth/external-login.js';
import { resolveOAuthSettings } from '../auth/oauth/settings.js';
import { createSessionService } from '../auth/sessions.js';
import { createTokenService } from '../auth/tokens.js';
import { hubOrigin, notebookOrigin, storeUrl } from '../config/load.js';
import type { SifuConfig } from '../config/schema.js';
import { CourseNotebooks } from '../courses/course-notebooks.js';
import { resolveDeploymentToken } from '../courses/deployment-token.js';
import { launchCourses } from '../courses/launch-adapter.js';
import { SifuError } from '../errors.js';
import { cullIdleServers, fetchKernels } from '../lifecycle/culler.js';
import { ServerManager } from '../lifecycle/server-manager.js';
import { createWarmPool, watchServerDeaths } from '../pool/create-pool.js';
import { createNotebookProxy } from '../proxy/notebook-proxy.js';
import type { ProxyHooks } from '../proxy/types.js';
import { baseUrlOf } from '../routes.js';
import { createSpawner } from '../spawner/create-spawner.js';
import type { Spawner } from '../spawner/spawner.js';
import { Storage } from '../storage/storage.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import type { HubContext } from '../web/context.js';
import { createHub } from './hub.js';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** The JupyterHub REST API level Sifu answers as (`GET /hub/api/` -> version), for unchanged clients. */
export const JUPYTERHUB_API_VERSION = '3.0.0';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export interface SifuOptions {
  log?: Logger;
  /** Replaces the configured backend (tests use failure doubles). */
  spawner?: Spawner;
  /**
   * Whether this process does the once-per-host work: the warm pool, culling, purges (default true).
   * With `workers` > 1, only the first worker does; every worker serves and routes.
   */
  singletons?: boolean;
}

export interface Sifu {
  config: SifuConfig;
  store: Store;
  manager: ServerManager;
  hubUrl: string;
  notebookUrl: string;
  stop(): Promise<void>;
}

function checkAuthenticator(config: SifuConfig): void {
  const exposed = [config.hub.host, config.notebook.host].filter((h) => !LOOPBACK.test(h));
  if (config.authenticator === 'dev' && exposed.length > 0 && !config.auth.dev.allowNonLoopback) {
    throw new SifuError(
      'SIFU_ERR_DEV_AUTH_NOT_LOOPBACK',
      `the dev authenticator signs anyone in without a password; it refuses to listen on ${exposed.join(', ')}. ` +
        'Use a real authenticator, or set auth.dev.allowNonLoopback (SIFU_AUTH_DEV_ALLOW_NON_LOOPBACK=true).',
    );
  }
}

/**
 * The composition root: opens the store, re-adopts running servers, then listens. Traffic is served
 * only after every running server has its route back, so a restart never bounces a learner.
 */
export async function startSifu(config: SifuConfig, options: SifuOptions = {}): Promise<Sifu> {
  checkAuthenticator(config);
  const log =
    options.log ??
    pino({
      level: config.log.level,
      // Client secrets and access tokens are never logged on purpose; these paths are the safety net.
      redact: ['*.secret', '*.token', 'secret', 'token', '*.clientSecret', '*.access_token'],
    });
  // Before anything is opened: a missing or wrong `auth.edx.*` / `auth.oidc.*` option stops the start here.
  resolveOAuthSettings(config);
  const store = await openStore(storeUrl(config));
  await store.migrate();
  const externalLogin = createExternalLogin(config, log, store);
  const spawner = options.spawner ?? createSpawner(config);
  const singletons = options.singletons ?? true;
  const pool = singletons ? createWarmPool(config, spawner, log) : undefined;
  const storage = Storage.fromConfig(store, config);
  const courseNotebooks = new CourseNotebooks(store, storage, {
    maxNotebookBytes: config.storage.maxNotebookBytes,
    deploymentToken: () => resolveDeploymentToken(config.courses),
  });
  const manager = new ServerManager({
    store,
    spawner,
    log: log.child({ component: 'servers' }),
    homesDir: storage.homes.root,
    homes: storage,
    startTimeoutMs: config.spawner.startTimeout * 1000,
    maxConcurrentStarts: config.spawner.maxConcurrentStarts,
    claimWarmServer: pool ? (request) => pool.claim(request) : undefined,
  });
  await manager.adopt();
  await pool?.start();
  // A container that dies is noticed from the engine's events at once, not at the next poll round.
  const unwatchDeaths = watchServerDeaths(spawner, (user, server) => {
    void manager.checkOne(user, server).catch((err) => log.error({ err }, 'checking a dead server'));
  });

  const secure = (origin: string) =>
    config.auth.secureCookies === 'always' ||
    (config.auth.secureCookies === 'auto' && origin.startsWith('https:'));
  const sessions = createSessionService(store, {
    secure: secure(hubOrigin(config)),
    maxAgeSeconds: config.auth.sessionMaxAge,
    embedded: config.embed.enabled,
  });
  const tokens = createTokenService(store, { bootstrapAdminToken: config.adminToken });
  const timers: NodeJS.Timeout[] = [];
  const ctx: HubContext = {
    config,
    store,
    sessions,
    tokens,
    manager,
    log,
    hubOrigin: hubOrigin(config),
    notebookOrigin: notebookOrigin(config),
    version: JUPYTERHUB_API_VERSION,
    externalLogin,
    storage,
    courseNotebooks,
    courses: launchCourses(courseNotebooks),
  };

  const hooks: ProxyHooks = {
    route: (user, server) => manager.route(user, server),
    async visitor(req) {
      const identity = await sessions.notebookIdentity(req.headers.cookie);
      return identity ? { userName: identity.userName, admin: identity.admin } : null;
    },
    completeHandoff: (code, binding) => sessions.completeHandoff(code, binding),
    beginHandoff: () => sessions.beginHandoff(),
    findRoute: async (user, server) => (await manager.followElsewhere(user, server)) === 'running',
    unreachable(target) {
      const route = manager.runningRoutes().find((r) => r.target === target);
      if (route) void manager.checkOne(route.userName, route.serverName).catch(() => {});
    },
    activity: (user, server, at) => manager.activity(user, server, at),
    adminAccess(admin, user, server) {
      void store.addEvent('admin.access', user, { admin, server }).catch(() => {});
    },
  };
  const proxy = createNotebookProxy(hooks, {
    notebookOrigin: ctx.notebookOrigin,
    hubOrigin: ctx.hubOrigin,
    allowedOrigins: config.proxy.allowedOrigins,
    frameAncestors: config.proxy.frameAncestors,
    iframeOnly: config.embed.iframeOnly,
    allowNewTab: config.embed.allowNewTab,
    upstreamIdleTimeoutMs: config.proxy.upstreamIdleTimeout * 1000,
    clientIdleTimeoutMs: config.proxy.clientIdleTimeout * 1000,
  });
  const hub = await createHub(ctx);

  await hub.listen({ host: config.hub.host, port: config.hub.port });
  await new Promise<void>((resolve, reject) => {
    proxy.server.once('error', reject);
    proxy.server.listen(config.notebook.port, config.notebook.host, () => resolve());
  });

  const every = (seconds: number, task: () => Promise<unknown>) => {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      task()
        .catch((err) => log.error({ err }, 'background task failed'))
        .finally(() => {
          running = false;
        });
    }, seconds * 1000);
    timer.unref();
    timers.push(timer);
  };
  every(config.spawner.pollInterval, () => manager.checkRunning());
  every(config.spawner.routeSyncInterval, () => manager.syncRoutes());
  every(10, () => manager.flushActivity());
  if (singletons) {
    every(3600, () => store.deleteExpiredSessions(new Date()));
    every(3600, () => storage.trash.purgeExpired());
  }
  if (config.culler.enabled && singletons) {
    every(config.culler.interval, () =>
      cullIdleServers(
        {
          routes: () => manager.runningRoutes(),
          kernels: (route) => fetchKernels(route, baseUrlOf(route.userName, route.serverName)),
          stop: (user, server) => manager.stop(user, server, 'idle'),
          log,
        },
        config.culler.idleTimeout * 1000,
      ),
    );
  }
  log.info({ hub: ctx.hubOrigin, notebooks: ctx.notebookOrigin }, 'Sifu is serving');

  return {
    config,
    store,
    manager,
    hubUrl: ctx.hubOrigin,
    notebookUrl: ctx.notebookOrigin,
    async stop() {
      for (const timer of timers) clearInterval(timer);
      unwatchDeaths?.();
      // Stop taking requests first, so that no start begins while in-flight ones are cancelled.
      const listeners = Promise.all([hub.close(), proxy.close()]);
      await manager.shutdown();
      await listeners;
      await pool?.stop();
      await manager.flushActivity().catch(() => {});
      await store.close();
    },
  };
}
