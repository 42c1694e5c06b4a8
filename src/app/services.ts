import { join } from 'node:path';
import type { Logger } from 'pino';
import { createServerHub, type ServerHub } from '../api/server-hub.js';
import { createExternalLogin } from '../auth/oauth/external-login.js';
import { createSessionService } from '../auth/sessions.js';
import { createTokenService } from '../auth/tokens.js';
import { hubOrigin, notebookOrigin, serverHubEnabled, storeUrl, userOrigins } from '../config/load.js';
import type { SifuConfig } from '../config/schema.js';
import { CourseNotebooks } from '../courses/course-notebooks.js';
import { resolveDeploymentToken } from '../courses/deployment-token.js';
import { launchCourses } from '../courses/launch-adapter.js';
import { ServerManager } from '../lifecycle/server-manager.js';
import { createSpawner } from '../spawner/create-spawner.js';
import type { Spawner } from '../spawner/spawner.js';
import { Storage } from '../storage/storage.js';
import { openStore } from '../store/open-store.js';
import type { HubContext } from '../web/context.js';
import { type Cluster, createCluster } from './cluster.js';

/** The JupyterHub REST API level Sifu answers as (`GET /hub/api/` -> version), for unchanged clients. */
export const JUPYTERHUB_API_VERSION = '3.0.0';

export interface Services extends HubContext {
  spawner: Spawner;
  cluster: Cluster;
  /** Each server's own hub endpoint (JupyterHub single-user servers), which the backend binds in. */
  serverHub?: ServerHub;
}

/**
 * Whether browsers keep `Secure` cookies (and so `__Host-` ones) from `origin`: https, or plain http to
 * a host Chromium and Firefox count as trustworthy (localhost, *.localhost, loopback addresses).
 * Safari does not: there, set `auth.secureCookies` to `never` for plain-http development.
 */
export function allowsSecureCookies(origin: string): boolean {
  const url = new URL(origin);
  if (url.protocol === 'https:') return true;
  const host = url.hostname;
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127\.\d+\.\d+\.\d+$/.test(host) ||
    host === '[::1]'
  );
}

/** Opens the store (migrated) and builds every service on it; nothing listens yet. */
export async function createServices(
  config: SifuConfig,
  log: Logger,
  options: { spawner?: Spawner; singletons: boolean; workers?: number },
): Promise<Services> {
  const store = await openStore(storeUrl(config));
  await store.migrate();
  const externalLogin = createExternalLogin(config, log, store);
  const spawner = options.spawner ?? createSpawner(config, log);
  const storage = Storage.fromConfig(store, config);
  const courseNotebooks = new CourseNotebooks(store, storage, {
    maxNotebookBytes: config.storage.maxNotebookBytes,
    gitAllowedPrefixes: config.courses.gitAllowedPrefixes,
    deploymentToken: () => resolveDeploymentToken(config.courses),
  });
  let manager: ServerManager | undefined;
  let services: Services | undefined;
  const serverHub = serverHubEnabled(config, spawner.backend)
    ? await createServerHub({
        runDir: join(config.dataDir, 'run'),
        context: () => services as Services,
        log,
      })
    : undefined;
  const cluster = await createCluster(config, store, log, () => manager as ServerManager);
  manager = new ServerManager({
    store,
    spawner,
    log: log.child({ component: 'servers' }),
    homes: storage,
    startTimeoutMs: config.spawner.startTimeout * 1000,
    maxConcurrentStarts: config.spawner.maxConcurrentStarts,
    claimWarmServer: spawner.claimWarm?.bind(spawner),
    hosts: cluster.hosts,
    peers: cluster.peers,
    ...(serverHub ? { hubChannel: serverHub } : {}),
  });
  const cookieOptions = (origin: string) => ({
    secure:
      config.auth.secureCookies === 'always' ||
      (config.auth.secureCookies === 'auto' && allowsSecureCookies(origin)),
    maxAgeSeconds: config.auth.sessionMaxAge,
    embedded: config.embed.enabled,
  });
  const sessions = createSessionService(
    store,
    cookieOptions(hubOrigin(config)),
    cookieOptions(notebookOrigin(config)),
  );
  const tokens = createTokenService(store, { bootstrapAdminToken: config.adminToken });
  services = {
    config,
    store,
    sessions,
    tokens,
    manager,
    log,
    hubOrigin: hubOrigin(config),
    notebookOrigin: notebookOrigin(config),
    userOrigins: userOrigins(config),
    version: JUPYTERHUB_API_VERSION,
    externalLogin,
    storage,
    courseNotebooks,
    courses: launchCourses(courseNotebooks),
    spawner,
    cluster,
    ...(serverHub ? { serverHub } : {}),
  };
  return services;
}
