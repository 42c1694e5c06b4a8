import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { reportScopes } from '../auth/scopes.js';
import { grantsOf, hasScope, type Identity } from '../auth/tokens.js';
import { SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import type { NamedServerRecord, ServerRecord, UserRecord } from '../store/store.js';
import type { HubContext } from '../web/context.js';
import { holds, requireGrant, requireGrantOrHide, requireIdentity, userTarget } from './identity.js';
import { type ModelOrigins, userModel } from './models.js';
import { pageAnswer, pageOf, queryFlag } from './pagination.js';
import { parseBody } from './validate.js';

const createBody = z.strictObject({ admin: z.boolean().optional() }).optional();
const createManyBody = z.strictObject({
  usernames: z.array(z.string()).min(1).max(1000),
  admin: z.boolean().optional(),
});
const patchBody = z.strictObject({ name: z.string().optional(), admin: z.boolean().optional() });

const STATES = ['ready', 'active', 'inactive'] as const;
type StateFilter = (typeof STATES)[number];
const SORTS = ['name', 'last_activity', 'id'] as const;

const userNotFound = (name: string) => new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${name}`);

/** `/hub/api/users` and `/hub/api/user`: JupyterHub's users resource. */
export function registerUserRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { store, manager } = ctx;
  const origins: ModelOrigins = ctx;

  /** Everything a user model needs, read once for one user or for all. */
  async function snapshot(userName?: string) {
    const [servers, named, groups] = await Promise.all([
      store.listServers(),
      store.listNamedServers(userName),
      store.listGroups(userName === undefined ? {} : { userName }),
    ]);
    const by = <T extends { userName: string }>(list: T[]) => {
      const map = new Map<string, T[]>();
      for (const item of list) map.set(item.userName, [...(map.get(item.userName) ?? []), item]);
      return map;
    };
    const groupsOf = new Map<string, string[]>();
    for (const group of groups) {
      for (const member of group.users) groupsOf.set(member, [...(groupsOf.get(member) ?? []), group.name]);
    }
    return { servers: by(servers), named: by(named), groupsOf };
  }

  type Snapshot = Awaited<ReturnType<typeof snapshot>>;

  function modelOf(user: UserRecord, snap: Snapshot, identity: Identity, includeStopped: boolean) {
    const servers = snap.servers.get(user.name) ?? [];
    const running = new Set(servers.map((s) => s.name));
    const stopped: NamedServerRecord[] = includeStopped
      ? (snap.named.get(user.name) ?? []).filter((n) => !running.has(n.name))
      : [];
    return userModel(manager, user, servers, {
      withState: holds(identity, 'admin:server_state', { user: user.name }),
      groups: snap.groupsOf.get(user.name) ?? [],
      stopped,
      origins,
    });
  }

  async function model(name: string, identity: Identity, includeStopped = false) {
    const user = await store.getUser(name);
    if (!user) throw userNotFound(name);
    return modelOf(user, await snapshot(name), identity, includeStopped);
  }

  app.get('/hub/api/users', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const grants = grantsOf(identity);
    if (!grants.has('list:users')) {
      throw new SifuError('SIFU_ERR_MISSING_SCOPE', "listing users needs the 'list:users' scope");
    }
    const query = req.query as Record<string, unknown>;
    const state = stateFilter(query.state);
    const sort = sortOrder(query.sort);
    const nameFilter = typeof query.name_filter === 'string' ? query.name_filter : undefined;
    const page = pageOf(req);
    const snap = await snapshot();
    let users = await store.listUsers();
    // A filtered `list:users` (`!user=`, `!group=`) lists what it reaches.
    users = users.filter((u) =>
      holds(identity, 'list:users', { user: u.name, userGroups: snap.groupsOf.get(u.name) ?? [] }),
    );
    // As JupyterHub: a case-insensitive substring (names are lower case already).
    if (nameFilter !== undefined) {
      const needle = nameFilter.toLowerCase();
      users = users.filter((u) => u.name.includes(needle));
    }
    if (state) users = users.filter((u) => inState(state, snap.servers.get(u.name) ?? []));
    users = sortUsers(users, sort);
    const includeStopped = queryFlag(req, 'include_stopped_servers');
    return mapPage(pageAnswer(req, page, users), (u: UserRecord) =>
      modelOf(u, snap, identity, includeStopped),
    );
  });

  app.get<{ Params: { name: string } }>('/hub/api/users/:name', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    if (identity.userName !== name) {
      requireGrantOrHide(identity, 'read:users', await userTarget(ctx, identity, name), () =>
        userNotFound(name),
      );
    }
    return model(name, identity, queryFlag(req, 'include_stopped_servers'));
  });

  app.post<{ Params: { name: string } }>('/hub/api/users/:name', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    requireGrant(identity, 'admin:users');
    const name = normalizeUsername(req.params.name);
    const body = parseBody(createBody, req.body);
    requireAdminToMakeAdmin(identity, body?.admin);
    await store.createUser(name, { admin: body?.admin ?? false });
    await store.addEvent('user.create', name, { by: identity.userName });
    reply.code(201);
    return model(name, identity);
  });

  app.post('/hub/api/users', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    requireGrant(identity, 'admin:users');
    const body = parseBody(createManyBody, req.body);
    requireAdminToMakeAdmin(identity, body.admin);
    // Every name is checked before any user is made: one bad name changes nothing.
    const names = [...new Set(body.usernames.map(normalizeUsername))];
    // As JupyterHub: existing users are skipped; only a batch of nothing new is a conflict.
    const fresh = [];
    for (const name of names) if (!(await store.getUser(name))) fresh.push(name);
    if (fresh.length === 0) throw new SifuError('SIFU_ERR_USER_EXISTS', 'every one of these users exists');
    const created = [];
    for (const name of fresh) {
      await store.createUser(name, { admin: body.admin ?? false });
      await store.addEvent('user.create', name, { by: identity.userName });
      created.push(await model(name, identity));
    }
    reply.code(201);
    return created;
  });

  app.patch<{ Params: { name: string } }>('/hub/api/users/:name', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireGrantOrHide(identity, 'admin:users', await userTarget(ctx, identity, name), () =>
      userNotFound(name),
    );
    const body = parseBody(patchBody, req.body ?? {});
    const user = await store.getUser(name);
    if (!user) throw userNotFound(name);
    if (body.name !== undefined && normalizeUsername(body.name) !== name) {
      // Homes, uids, leases, platform identities and running servers are all keyed by the name.
      throw new SifuError('SIFU_ERR_USER_RENAME_UNSUPPORTED', 'users cannot be renamed in Sifu');
    }
    if (body.admin !== undefined && body.admin !== user.admin) {
      requireAdminToMakeAdmin(identity, true);
      await store.setAdmin(name, body.admin);
      await store.addEvent('user.admin', name, { by: identity.userName, admin: body.admin });
    }
    return model(name, identity);
  });

  app.delete<{ Params: { name: string } }>('/hub/api/users/:name', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireGrantOrHide(identity, 'delete:users', await userTarget(ctx, identity, name), () =>
      userNotFound(name),
    );
    if (!(await store.getUser(name))) throw userNotFound(name);
    for (const server of (await store.listServers()).filter((s) => s.userName === name)) {
      await manager.stop(name, server.name, 'user deleted');
    }
    await store.deleteUser(name);
    await store.addEvent('user.delete', name, { by: identity.userName });
    reply.code(204);
  });

  // JupyterHub's (deprecated) token check: the owner of a token, as a user model.
  app.get<{ Params: { token: string } }>('/hub/api/authorizations/token/:token', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const owner = await ctx.tokens.authenticate(`token ${req.params.token}`);
    const notFound = () => new SifuError('SIFU_ERR_TOKEN_NOT_FOUND', 'no such token');
    if (owner?.via !== 'token') throw notFound();
    if (owner.userName !== identity.userName) {
      requireGrantOrHide(identity, 'read:users', await userTarget(ctx, identity, owner.userName), notFound);
    }
    return model(owner.userName, identity);
  });

  app.get('/hub/api/user', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const scopes = reportScopes(grantsOf(identity));
    const extra = { scopes, session_id: null, ...(identity.tokenId ? { token_id: identity.tokenId } : {}) };
    const user = await store.getUser(identity.userName);
    if (!user) {
      // The bootstrap admin token has no user row: it answers as JupyterHub's services do.
      return { kind: 'service', name: identity.userName, admin: identity.admin, roles: ['admin'], ...extra };
    }
    return { ...modelOf(user, await snapshot(identity.userName), identity, false), ...extra };
  });
}

/** Making (or unmaking) an admin takes the whole admin role, not just `admin:users`. */
function requireAdminToMakeAdmin(identity: Identity, admin: boolean | undefined): void {
  if (admin && !hasScope(identity, 'admin')) {
    throw new SifuError('SIFU_ERR_MISSING_SCOPE', "making an admin needs the 'admin' scope");
  }
}

function stateFilter(raw: unknown): StateFilter | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw === 'string' && (STATES as readonly string[]).includes(raw)) return raw as StateFilter;
  throw new SifuError('SIFU_ERR_BAD_REQUEST', `state must be one of ${STATES.join(', ')}`);
}

/** JupyterHub's `ready` (a server is up), `active` (up or starting), `inactive` (neither). */
function inState(state: StateFilter, servers: readonly ServerRecord[]): boolean {
  const ready = servers.some((s) => s.status === 'running');
  if (state === 'ready') return ready;
  if (state === 'active') return servers.length > 0;
  return servers.length === 0;
}

function sortOrder(raw: unknown): { key: (typeof SORTS)[number]; descending: boolean } {
  if (raw === undefined || raw === '') return { key: 'id', descending: false };
  const text = typeof raw === 'string' ? raw : '';
  const descending = text.startsWith('-');
  const key = descending ? text.slice(1) : text;
  if (!(SORTS as readonly string[]).includes(key)) {
    throw new SifuError('SIFU_ERR_BAD_REQUEST', `sort must be one of ${SORTS.join(', ')}, or one with '-'`);
  }
  return { key: key as (typeof SORTS)[number], descending };
}

function sortUsers(users: UserRecord[], sort: ReturnType<typeof sortOrder>): UserRecord[] {
  const value = (u: UserRecord): string =>
    sort.key === 'name'
      ? u.name
      : sort.key === 'last_activity'
        ? (u.lastActivity?.toISOString() ?? '')
        : `${u.createdAt.toISOString()}\n${u.name}`;
  const sorted = [...users].sort((a, b) => (value(a) < value(b) ? -1 : value(a) > value(b) ? 1 : 0));
  return sort.descending ? sorted.reverse() : sorted;
}

/** Maps the items of a page (a bare array or JupyterHub's paginated model). */
function mapPage<T, U>(answer: unknown, map: (item: T) => U): unknown {
  if (Array.isArray(answer)) return (answer as T[]).map(map);
  const paged = answer as { items: T[]; _pagination: unknown };
  return { items: paged.items.map(map), _pagination: paged._pagination };
}
