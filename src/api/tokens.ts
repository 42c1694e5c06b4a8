import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { checkRequestedScopes, type GroupsOf } from '../auth/scopes.js';
import { grantsOf, parseScopes } from '../auth/tokens.js';
import { SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import type { HubContext } from '../web/context.js';
import { requireGrant, requireGrantOrHide, requireIdentity, userTarget } from './identity.js';
import { tokenModel } from './models.js';
import { parseBody } from './validate.js';

const createBody = z
  .strictObject({
    note: z.string().max(1000).optional(),
    expires_in: z
      .number()
      .int()
      .positive()
      .max(366 * 24 * 3600)
      .optional(),
    scopes: z.array(z.string()).max(50).optional(),
    // JupyterHub 2's roles for a token (deprecated in 3.0, still sent): resolved to their scopes at once.
    roles: z
      .array(z.enum(['user', 'admin', 'token', 'server']))
      .max(4)
      .optional(),
  })
  .optional();

/** Without scopes: JupyterHub's default, all the owner's role holds (`self` for a user, admin for an admin). */
const DEFAULT_SCOPES = ['inherit'];

/** A JupyterHub role as the scope it stands for: `user` is `self`, `admin` the admin role, `token` all. */
function roleScope(role: 'user' | 'admin' | 'token' | 'server'): string {
  if (role === 'user') return 'self';
  if (role === 'admin') return 'admin';
  if (role === 'token') return 'inherit';
  // A server's own role: its activity and identity.
  return 'users:activity!user';
}

/** `/hub/api/users/<name>/tokens`: a user's API tokens (JupyterHub's fields). */
export function registerTokenRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { store, tokens } = ctx;

  const userNotFound = (name: string) => new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${name}`);

  async function owner(name: string) {
    const user = await store.getUser(name);
    if (!user) throw userNotFound(name);
    return user;
  }

  app.get<{ Params: { name: string } }>('/hub/api/users/:name/tokens', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireGrantOrHide(identity, 'read:tokens', await userTarget(ctx, identity, name), () =>
      userNotFound(name),
    );
    const user = await owner(name);
    return { api_tokens: (await store.listTokens(name)).map((t) => tokenModel(t, user)) };
  });

  app.get<{ Params: { name: string; id: string } }>('/hub/api/users/:name/tokens/:id', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireGrantOrHide(identity, 'read:tokens', await userTarget(ctx, identity, name), () =>
      userNotFound(name),
    );
    const user = await owner(name);
    const token = (await store.listTokens(name)).find((t) => t.id === req.params.id);
    if (!token) throw new SifuError('SIFU_ERR_TOKEN_NOT_FOUND', 'no such token');
    return tokenModel(token, user);
  });

  app.post<{ Params: { name: string } }>('/hub/api/users/:name/tokens', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    // As JupyterHub: making a token for someone else without the scope is a 403, not a 404.
    requireGrant(identity, 'tokens', await userTarget(ctx, identity, name));
    const body = parseBody(createBody, req.body);
    const user = await owner(name);
    const asked = [...(body?.scopes ? parseScopes(body.scopes) : []), ...(body?.roles ?? []).map(roleScope)];
    if (asked.length === 0) asked.push(...DEFAULT_SCOPES);
    let groupsOf: GroupsOf | undefined;
    if (asked.some((s) => s.includes('!group='))) {
      const groups = await store.listGroups();
      groupsOf = (userName) => groups.filter((g) => g.users.includes(userName)).map((g) => g.name);
    }
    // A token never carries more than its creator holds, nor more than its owner's role.
    const scopes = checkRequestedScopes(asked, { name, admin: user.admin }, grantsOf(identity), groupsOf, {
      creatorIsOwner: identity.userName === name,
    });
    const { token, record } = await tokens.create({
      userName: name,
      scopes,
      note: body?.note,
      expiresInSeconds: body?.expires_in ?? null,
    });
    await store.addEvent('token.create', name, { id: record.id, by: identity.userName, scopes });
    reply.code(201);
    return { ...tokenModel(record, user), token };
  });

  app.delete<{ Params: { name: string; id: string } }>(
    '/hub/api/users/:name/tokens/:id',
    async (req, reply) => {
      const identity = await requireIdentity(ctx, req);
      const name = normalizeUsername(req.params.name);
      requireGrantOrHide(identity, 'tokens', await userTarget(ctx, identity, name), () => userNotFound(name));
      if (!(await store.deleteToken(name, req.params.id))) {
        throw new SifuError('SIFU_ERR_TOKEN_NOT_FOUND', 'no such token');
      }
      await store.addEvent('token.delete', name, { id: req.params.id, by: identity.userName });
      reply.code(204);
    },
  );
}
