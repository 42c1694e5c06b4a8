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
    user_options: {},
    ...(withState ? { state: record.state } : {}),
  };
}

/** A user as JupyterHub's API shows it. */
export function userModel(
  manager: ServerManager,
  user: UserRecord,
  servers: ServerRecord[],
  options: { withState: boolean },
) {
  const models = Object.fromEntries(servers.map((s) => [s.name, serverModel(manager, s, options.withState)]));
  const main = models[''];
  return {
    kind: 'user',
    name: user.name,
    admin: user.admin,
    groups: [] as string[],
    server: main?.ready ? main.url : null,
    pending: main?.pending ?? null,
    created: iso(user.createdAt),
    last_activity: iso(user.lastActivity),
    servers: models,
  };
}

export function tokenModel(token: TokenRecord) {
  return {
    kind: 'api_token',
    id: token.id,
    user: token.userName,
    note: token.note,
    scopes: token.scopes,
    created: iso(token.createdAt),
    expires_at: iso(token.expiresAt),
    last_activity: iso(token.lastActivity),
  };
}
