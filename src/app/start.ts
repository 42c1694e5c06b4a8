import { readFileSync } from 'node:fs';
import pino, { type Logger } from 'pino';
import { resolveOAuthSettings } from '../auth/oauth/settings.js';
import { hubOrigin, notebookOrigin, userOrigins } from '../config/load.js';
import type { SifuConfig } from '../config/schema.js';
import { SifuError } from '../errors.js';
import type { ServerManager } from '../lifecycle/server-manager.js';
import { hubStartupDuration, initSpawnersDuration, secondsSince } from '../metrics/metrics.js';
import { addon, addonUnavailable } from '../proxy/native-addon.js';
import { createNotebookProxy } from '../proxy/notebook-proxy.js';
import { createRelay } from '../proxy/relay.js';
import type { Spawner } from '../spawner/spawner.js';
import type { Store } from '../store/store.js';
import { capConnections } from '../web/connection-limits.js';
import { startBackgroundTasks } from './background.js';
import { followStoreChanges, internalCalls } from './cluster.js';
import { connectionCaps, createHub } from './hub.js';
import { proxyHooks } from './proxy-hooks.js';
import { createServices } from './services.js';

export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

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
  /** How many Sifu processes share this host's ports, this one included (`sifu serve`'s workers; default 1). */
  workers?: number;
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
 * Admin access is safe only where a learner's pages cannot act with the admin's session in other
 * servers, i.e. with per-user origins: refused with a shared origin.
 */
function checkOrigins(config: SifuConfig): void {
  if (config.proxy.adminAccess && !userOrigins(config)) {
    throw new SifuError(
      'SIFU_ERR_CONFIG',
      '`proxy.adminAccess` needs per-user origins: with one origin shared by all learners, a page in ' +
        "a learner's server acts with the admin's session in every other server. Set `notebook.userOrigins` " +
        'to on (and `notebook.publicUrl` to a DNS name with a wildcard record), or turn `proxy.adminAccess` off.',
    );
  }
}

/**
 * Cookies do not isolate ports: with one shared notebook origin on the hub's host name, a learner's
 * page can set cookies the hub receives (cookie tossing). Warned, not refused (a single-user set-up
 * may want it); docs/security.md says what remains.
 */
function warnOfSharedHost(config: SifuConfig, log: Logger): void {
  if (userOrigins(config)) return;
  if (new URL(hubOrigin(config)).hostname !== new URL(notebookOrigin(config)).hostname) return;
  log.warn(
    { hub: hubOrigin(config), notebooks: notebookOrigin(config) },
    "the hub and the shared notebook origin have one host name: a learner's page can set cookies the hub " +
      'receives. Give notebooks a host name of their own (the default http://localhost:<port> does).',
  );
}

/**
 * The composition root: opens the store, re-adopts running servers, then listens. Traffic is served
 * only after every running server has its route back, so a restart never bounces a learner.
 */
export async function startSifu(config: SifuConfig, options: SifuOptions = {}): Promise<Sifu> {
  const startedAt = performance.now();
  checkAuthenticator(config);
  checkOrigins(config);
  const log =
    options.log ??
    pino({
      level: config.log.level,
      // Client secrets and access tokens are never logged on purpose; these paths are the safety net.
      redact: ['*.secret', '*.token', 'secret', 'token', '*.clientSecret', '*.access_token'],
    });
  warnOfSharedHost(config, log);
  // Before anything is opened: a missing or wrong `auth.edx.*` / `auth.oidc.*` option stops the start here.
  resolveOAuthSettings(config);
  const singletons = options.singletons ?? true;
  const services = await createServices(config, log, {
    spawner: options.spawner,
    singletons,
    workers: options.workers ?? 1,
  });
  const { store, manager, spawner, cluster } = services;
  // This host is announced (and the others read) before adoption, which routes their servers too.
  await cluster.hosts.start(singletons);
  const adoptingAt = performance.now();
  await manager.adopt();
  initSpawnersDuration.observe(secondsSince(adoptingAt));
  services.serverHub?.start();
  const unfollow = await followStoreChanges(store, manager, cluster.hosts, log).catch((err: unknown) => {
    log.warn({ err }, 'cannot follow pushed changes; routes follow the store by polling');
    return undefined;
  });
  if (singletons) await spawner.startPool?.();
  // A container that dies is noticed from the engine's events at once, not at the next poll round.
  const unwatchDeaths = spawner.watch?.(({ userName: user, serverName: server }) => {
    void manager.checkOne(user, server).catch((err) => log.error({ err }, 'checking a dead server'));
  });

  const proxy = createNotebookProxy(proxyHooks(manager, services.sessions, store, services.tokens), {
    notebookOrigin: services.notebookOrigin,
    userOrigins: services.userOrigins,
    adminAccess: config.proxy.adminAccess,
    hubOrigin: services.hubOrigin,
    allowedOrigins: config.proxy.allowedOrigins,
    frameAncestors: config.proxy.frameAncestors,
    iframeOnly: config.embed.iframeOnly,
    allowNewTab: config.embed.allowNewTab,
    upstreamIdleTimeoutMs: config.proxy.upstreamIdleTimeout * 1000,
    clientIdleTimeoutMs: config.proxy.clientIdleTimeout * 1000,
    headersTimeoutMs: config.limits.headersTimeout * 1000,
    rawServer: config.proxy.rawServer,
    batchWrites: config.proxy.batchWrites,
    directWrites: config.proxy.directWrites,
    nativeRelay: config.proxy.nativeRelay,
  });
  capConnections(proxy.server, connectionCaps(config));
  const hub = await createHub(services);

  const relay = config.cluster.relayUrl
    ? createRelay(
        {
          key: cluster.relayKey,
          localRoute: (user, server) => manager.localRoute(user, server),
          internal: internalCalls(manager, log),
        },
        {
          idleTimeoutMs: config.proxy.upstreamIdleTimeout * 1000,
          headersTimeoutMs: config.limits.headersTimeout * 1000,
        },
      )
    : undefined;
  if (relay) {
    await new Promise<void>((resolve, reject) => {
      relay.server.once('error', reject);
      relay.server.listen(config.cluster.relayPort, config.cluster.relayHost, () => resolve());
    });
  }
  await hub.listen({ host: config.hub.host, port: config.hub.port });
  await new Promise<void>((resolve, reject) => {
    proxy.server.once('error', reject);
    proxy.server.listen(config.notebook.port, config.notebook.host, () => resolve());
  });
  const stopBackground = startBackgroundTasks(services, singletons);
  hubStartupDuration.observe(secondsSince(startedAt));
  log.info({ hub: services.hubOrigin, notebooks: services.notebookOrigin }, 'Sifu is serving');
  if ((config.proxy.nativeRelay || config.proxy.directWrites) && addon === undefined) {
    log.warn(
      { reason: addonUnavailable },
      "the native addon is not built (build/Release/sifu_relay.node): WebSockets are relayed on the event loop and responses written through Node's streams; `npm run build:native` builds it",
    );
  }

  return {
    config,
    store,
    manager,
    hubUrl: services.hubOrigin,
    notebookUrl: services.notebookOrigin,
    async stop() {
      stopBackground();
      unwatchDeaths?.();
      // Stop taking requests first, so that no start begins while in-flight ones are cancelled.
      const listeners = Promise.all([hub.close(), proxy.close(), relay?.close()]);
      await unfollow?.().catch(() => {});
      await manager.shutdown();
      await listeners;
      if (singletons) await spawner.stopPool?.();
      await manager.flushActivity().catch(() => {});
      await services.serverHub?.shutdown();
      await store.close();
    },
  };
}
