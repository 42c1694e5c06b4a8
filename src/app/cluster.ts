/**
 * This host among the hosts that share the store: its name, the relay key, its load, the relay's
 * internal calls (a start placed here, a stop asked from elsewhere) and the pushed route changes.
 */
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { newSecret } from '../auth/secrets.js';
import type { SifuConfig } from '../config/schema.js';
import { errorBody, isSifuError, SifuError } from '../errors.js';
import { Hosts } from '../lifecycle/hosts.js';
import { httpPeers, PEER_PATHS, type Peers } from '../lifecycle/peers.js';
import type { ServerManager } from '../lifecycle/server-manager.js';
import { isValidUsername } from '../names.js';
import { HomeLease } from '../storage/lease.js';
import type { HostLoad, Store } from '../store/store.js';

/** The setting that holds the key every replica presents at a relay (made by the first replica). */
const RELAY_KEY_SETTING = 'cluster.relayKey';
const SERVER_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$|^$/;

/** `cluster.hostId`, else the machine's host name made into a valid id. */
export function hostIdOf(config: SifuConfig): string {
  if (config.cluster.hostId) return config.cluster.hostId;
  const name = hostname()
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 63);
  return name || 'host';
}

/** Memory one server may take under the configured backend (0: no limit set). */
function memPerServer(config: SifuConfig): number {
  const { backend, local, docker } = config.spawner;
  return (backend === 'local' ? local.memLimit : docker.memLimit) ?? 0;
}

async function memAvailable(): Promise<number> {
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const kib = /^MemAvailable:\s+(\d+) kB/m.exec(meminfo)?.[1];
  return kib ? Number(kib) * 1024 : 0;
}

export interface Cluster {
  hosts: Hosts;
  peers: Peers;
  relayKey: string;
}

/**
 * Builds this host's membership (not started: `Hosts.start` registers it). `manager` is asked for lazily:
 * the manager is built with the membership, and the membership reports the manager's servers.
 */
export async function createCluster(
  config: SifuConfig,
  store: Store,
  log: Logger,
  manager: () => ServerManager,
): Promise<Cluster> {
  const relayKey = await store.settingOrInit(RELAY_KEY_SETTING, newSecret());
  const peers = httpPeers(relayKey);
  const perServer = memPerServer(config);
  const load = async (): Promise<HostLoad> => ({
    servers: manager().localCount(),
    maxServers: config.spawner.maxServers,
    memAvailable: await memAvailable(),
    memPerServer: perServer,
  });
  const hosts = new Hosts({
    store,
    log: log.child({ component: 'hosts' }),
    hostId: hostIdOf(config),
    relayUrl: config.cluster.relayUrl ?? null,
    relayKey,
    heartbeatMs: config.cluster.heartbeatInterval * 1000,
    goneAfterMs: config.cluster.goneAfter * 1000,
    load,
    holderOf: (server) => HomeLease.holderOf(server),
    probe: (relayUrl) => peers.alive(relayUrl),
    onFenced: async () => {
      await manager().dropLost();
    },
    onLost: (servers) => manager().forget(servers),
  });
  return { hosts, peers, relayKey };
}

const MAX_INTERNAL_BODY = 256 * 1024;

/** A placed start's `user_options`: an object, or none. */
function userOptionsOf(body: Record<string, unknown>): Record<string, unknown> {
  const options = body.user_options ?? {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new SifuError('SIFU_ERR_BAD_REQUEST', 'user_options must be a JSON object');
  }
  return options as Record<string, unknown>;
}

/** Reads a small JSON body (internal calls carry a few names and a start's options). */
async function jsonBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    // A few names, and a start's `user_options` (at most 64 KiB at the API) with room for escaping.
    if (text.length > MAX_INTERNAL_BODY) throw new SifuError('SIFU_ERR_BAD_REQUEST', 'body too large');
  }
  try {
    const value = JSON.parse(text || '{}') as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {}
  throw new SifuError('SIFU_ERR_BAD_REQUEST', 'the body must be a JSON object');
}

function names(body: Record<string, unknown>): { user: string; server: string } {
  const { user, server } = body;
  if (typeof user !== 'string' || !isValidUsername(user)) {
    throw new SifuError('SIFU_ERR_INVALID_USERNAME', 'invalid user name');
  }
  if (typeof server !== 'string' || !SERVER_NAME.test(server)) {
    throw new SifuError('SIFU_ERR_INVALID_SERVER_NAME', 'invalid server name');
  }
  return { user, server };
}

/**
 * The relay's internal calls, after it checked the key: `start` (placement chose this host: claims and
 * starts here, answering once claimed), `stop` (another replica was asked to stop a server this host
 * runs) and `alive` (a probe before this host is declared gone).
 */
export function internalCalls(manager: ServerManager, log: Logger) {
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const send = (status: number, body: unknown) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const path = (req.url ?? '').split('?')[0];
    const handle = async (): Promise<void> => {
      if (req.method !== 'POST') throw new SifuError('SIFU_ERR_NOT_FOUND', 'internal calls are POST');
      const body = await jsonBody(req);
      if (path === PEER_PATHS.alive) return send(200, { alive: true });
      if (path === PEER_PATHS.start) {
        const { user, server } = names(body);
        await manager.start(user, server, { here: true, userOptions: userOptionsOf(body) });
        return send(202, { status: 'started' });
      }
      if (path === PEER_PATHS.stop) {
        const { user, server } = names(body);
        const reason = typeof body.reason === 'string' ? body.reason.slice(0, 200) : 'requested';
        await manager.stop(user, server, reason);
        return send(200, { status: 'stopped' });
      }
      throw new SifuError('SIFU_ERR_NOT_FOUND', 'no such internal call');
    };
    handle().catch((err: unknown) => {
      const error = isSifuError(err)
        ? err
        : new SifuError('SIFU_ERR_INTERNAL', 'internal call failed', { cause: err });
      if (!isSifuError(err)) log.error({ err, path }, 'internal call failed');
      const body = errorBody(error);
      send(body.status, body);
    });
  };
}

/**
 * Route changes pushed by the store (PostgreSQL `LISTEN/NOTIFY`): a server's row changed → its route
 * here follows; a host changed → the hosts are re-read and every route checked. After a reconnection
 * (changes were missed) everything is re-read. Undefined where the store cannot push: polling remains.
 */
export async function followStoreChanges(
  store: Store,
  manager: ServerManager,
  hosts: Hosts,
  log: Logger,
): Promise<(() => Promise<void>) | undefined> {
  if (!store.subscribe) return undefined;
  const failed = (err: unknown) => log.warn({ err }, 'following a pushed change failed; polling catches up');
  // What routes depend on: a host's relay and whether it is gone (heartbeats change neither).
  const shape = () =>
    hosts
      .list()
      .map((h) => `${h.id} ${h.relayUrl} ${h.gone}`)
      .sort()
      .join('\n');
  const resync = (always: boolean) => {
    const before = shape();
    void hosts
      .refresh()
      .then(() => (always || shape() !== before ? manager.syncRoutes() : undefined))
      .catch(failed);
  };
  return store.subscribe(
    (change) => {
      if (change.table === 'servers') void manager.syncOne(change.userName, change.serverName).catch(failed);
      else resync(false);
    },
    () => resync(true),
  );
}
