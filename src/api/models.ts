import { reportScopes, resolveScopes } from '../auth/scopes.js';
import type { ServerManager } from '../lifecycle/server-manager.js';
import { baseUrlOf, type NotebookOrigins, notebookUrl } from '../routes.js';
import type { NamedServerRecord, ServerRecord, TokenRecord, UserRecord } from '../store/store.js';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** Where a server's progress stream is, under `/hub/api`. */
export const progressPath = (userName: string, serverName: string): string =>
  `/hub/api/users/${userName}/server${serverName ? `s/${serverName}` : ''}/progress`;

/** The absolute URLs JupyterHub 5 adds to a server model (`full_url`, `full_progress_url`). */
export interface ModelOrigins extends NotebookOrigins {
  hubOrigin: string;
}

function fullUrls(origins: ModelOrigins | undefined, userName: string, serverName: string) {
  if (!origins) return {};
  return {
    full_url: notebookUrl(origins, userName, '', serverName),
    full_progress_url: `${origins.hubOrigin}${progressPath(userName, serverName)}`,
  };
}

/** A server as JupyterHub's API shows it (`servers[""]`): clients poll `ready`. */
export function serverModel(
  manager: ServerManager,
  record: ServerRecord,
  withState: boolean,
  origins?: ModelOrigins,
) {
  const routed = manager.route(record.userName, record.name) !== undefined;
  const pending = manager.isPending(record.userName, record.name) || record.status === 'pending';
  return {
    name: record.name,
    ready: routed,
    stopped: false,
    pending: routed ? null : pending ? 'spawn' : null,
    url: baseUrlOf(record.userName, record.name),
    progress_url: progressPath(record.userName, record.name),
    ...fullUrls(origins, record.userName, record.name),
    started: iso(record.startedAt),
    last_activity: iso(record.lastActivity ?? record.startedAt),
    user_options: record.userOptions ?? {},
    ...(withState ? { state: record.state } : {}),
  };
}

/** A named server that exists but is stopped (listed with `include_stopped_servers`). */
export function stoppedServerModel(record: NamedServerRecord, withState: boolean, origins?: ModelOrigins) {
  return {
    name: record.name,
    ready: false,
    stopped: true,
    pending: null,
    url: baseUrlOf(record.userName, record.name),
    progress_url: progressPath(record.userName, record.name),
    ...fullUrls(origins, record.userName, record.name),
    started: null,
    last_activity: iso(record.lastActivity),
    user_options: record.userOptions,
    ...(withState ? { state: {} } : {}),
  };
}

/** A user as JupyterHub's API shows it. */
export function userModel(
  manager: ServerManager,
  user: UserRecord,
  servers: ServerRecord[],
  options: {
    withState: boolean;
    groups?: readonly string[];
    /** Stopped named servers to list too (`include_stopped_servers`); the running ones are in `servers`. */
    stopped?: readonly NamedServerRecord[];
    origins?: ModelOrigins;
  },
) {
  const models: Record<string, ReturnType<typeof serverModel> | ReturnType<typeof stoppedServerModel>> = {};
  for (const named of options.stopped ?? []) {
    models[named.name] = stoppedServerModel(named, options.withState, options.origins);
  }
  for (const s of servers) models[s.name] = serverModel(manager, s, options.withState, options.origins);
  const main = servers.some((s) => s.name === '') ? models[''] : undefined;
  return {
    kind: 'user',
    name: user.name,
    admin: user.admin,
    // JupyterHub's roles: every user holds `user`; admins `admin` too.
    roles: user.admin ? ['admin', 'user'] : ['user'],
    groups: [...(options.groups ?? [])],
    server: main?.ready ? main.url : null,
    pending: main?.pending ?? null,
    created: iso(user.createdAt),
    last_activity: iso(user.lastActivity),
    servers: models,
  };
}

/** A token as JupyterHub reports it: its scopes in JupyterHub's words, as far as its owner holds them now. */
export function tokenModel(token: TokenRecord, owner: Pick<UserRecord, 'name' | 'admin'>) {
  return {
    kind: 'api_token',
    id: token.id,
    user: token.userName,
    service: null,
    note: token.note,
    roles: [] as string[],
    scopes: reportScopes(resolveScopes(token.scopes, owner)),
    oauth_client: null,
    session_id: null,
    created: iso(token.createdAt),
    expires_at: iso(token.expiresAt),
    last_activity: iso(token.lastActivity),
  };
}
