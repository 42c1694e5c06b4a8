import { reportScopes, resolveScopes } from '../auth/scopes.js';
import type { ServerManager } from '../lifecycle/server-manager.js';
import { baseUrlOf } from '../routes.js';
import type { ServerRecord, TokenRecord, UserRecord } from '../store/store.js';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** A server as JupyterHub's API shows it (`servers[""]`): clients poll `ready`. */
export function serverModel(manager: ServerManager, record: ServerRecord, withState: boolean) {
  const routed = manager.route(record.userName, record.name) !== undefined;
  const pending = manager.isPending(record.userName, record.name) || record.status === 'pending';
  return {
    name: record.name,
    ready: routed,
    stopped: false,
    pending: routed ? null : pending ? 'spawn' : null,
    url: baseUrlOf(record.userName, record.name),
    progress_url: `/hub/api/users/${record.userName}/server${record.name ? `s/${record.name}` : ''}/progress`,
    started: iso(record.startedAt),
    last_activity: iso(record.lastActivity ?? record.startedAt),
    user_options: record.userOptions ?? {},
    ...(withState ? { state: record.state } : {}),
  };
}

/** A user as JupyterHub's API shows it. */
export function userModel(
  manager: ServerManager,
  user: UserRecord,
  servers: ServerRecord[],
  options: { withState: boolean; groups?: readonly string[] },
) {
  const models = Object.fromEntries(servers.map((s) => [s.name, serverModel(manager, s, options.withState)]));
  const main = models[''];
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
