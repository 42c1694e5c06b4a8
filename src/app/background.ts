import type { Logger } from 'pino';
import type { SifuConfig } from '../config/schema.js';
import { cullIdleServers, cullIdleUsers, fetchKernels } from '../lifecycle/culler.js';
import type { ServerManager } from '../lifecycle/server-manager.js';
import { baseUrlOf } from '../routes.js';
import type { Storage } from '../storage/storage.js';
import type { Store } from '../store/store.js';
import type { Cluster } from './cluster.js';

export interface BackgroundServices {
  cluster: Cluster;
  config: SifuConfig;
  store: Store;
  storage: Storage;
  manager: ServerManager;
  log: Logger;
}

/**
 * The periodic work of a Sifu process: polling and route sync on every process; purges and the culler only
 * where `singletons` (the first worker). A round still running when the next is due is skipped, not stacked.
 * Returns the function that stops them all.
 */
export function startBackgroundTasks(services: BackgroundServices, singletons: boolean): () => void {
  const { config, store, storage, manager, log, cluster } = services;
  const timers: NodeJS.Timeout[] = [];
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
  // The host's heartbeat (and declaring silent hosts gone) from one process per host; the others re-read.
  every(config.cluster.heartbeatInterval, () =>
    singletons ? cluster.hosts.beat() : cluster.hosts.refresh(),
  );
  every(config.spawner.pollInterval, () => manager.checkRunning());
  every(config.spawner.routeSyncInterval, () => manager.syncRoutes());
  every(10, () => manager.flushActivity());
  if (singletons) {
    every(config.spawner.pollInterval, () => manager.forgetStalePending());
    every(3600, () => store.deleteExpiredSessions(new Date()));
    every(3600, () => storage.trash.purgeExpired());
  }
  if (config.culler.enabled && singletons) {
    const idleTimeoutMs = config.culler.idleTimeout * 1000;
    every(config.culler.interval, async () => {
      await cullIdleServers(
        {
          // Each host culls its own servers (with activity every replica flushed to the store).
          routes: () => manager.localRoutes(),
          kernels: (route) => fetchKernels(route, baseUrlOf(route.userName, route.serverName)),
          stop: (user, server) => manager.stop(user, server, 'idle'),
          log,
        },
        idleTimeoutMs,
      );
      // Users are the store's, whichever host runs their servers; every host's culler may delete one,
      // and a user deleted twice is recorded once (the second delete finds no row).
      if (config.culler.users) {
        await manager.flushActivity();
        await cullIdleUsers(
          {
            listUsers: () => store.listUsers(),
            listServers: () => store.listServers(),
            deleteUser: (name) => store.deleteUser(name),
            addEvent: (type, user, data) => store.addEvent(type, user, data),
            log,
          },
          idleTimeoutMs,
        );
      }
    });
  }
  return () => {
    for (const timer of timers) clearInterval(timer);
  };
}
