import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hasScope, parseScopes } from '../auth/tokens.js';
import { SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import type { HubContext } from '../web/context.js';
import { requireIdentity, requireScopeOn } from './identity.js';
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
    scopes: z.array(z.string()).max(20).optional(),
  })
  .optional();

/** `/hub/api/users/<name>/tokens`: a user's API tokens (JupyterHub's fields). */
export function registerTokenRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { store, tokens } = ctx;

  app.get<{ Params: { name: string } }>('/hub/api/users/:name/tokens', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireScopeOn(identity, name, 'tokens');
    return { api_tokens: (await store.listTokens(name)).map(tokenModel) };
  });

  app.post<{ Params: { name: string } }>('/hub/api/users/:name/tokens', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireScopeOn(identity, name, 'tokens');
    const body = parseBody(createBody, req.body);
    const user = await store.getUser(name);
    if (!user) throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${name}`);
    const scopes = body?.scopes ? parseScopes(body.scopes) : ['servers' as const, 'tokens' as const];
    // A token never carries more than its creator holds, nor admin for a non-admin owner.
    for (const scope of scopes) {
      if (!hasScope(identity, scope) || (scope === 'admin' && !user.admin)) {
        throw new SifuError('SIFU_ERR_MISSING_SCOPE', `cannot grant the '${scope}' scope`);
      }
    }
    const { token, record } = await tokens.create({
      userName: name,
      scopes,
      note: body?.note,
      expiresInSeconds: body?.expires_in ?? null,
    });
    await store.addEvent('token.create', name, { id: record.id, by: identity.userName, scopes });
    reply.code(201);
    return { ...tokenModel(record), token };
  });

  app.delete<{ Params: { name: string; id: string } }>(
    '/hub/api/users/:name/tokens/:id',
    async (req, reply) => {
      const identity = await requireIdentity(ctx, req);
      const name = normalizeUsername(req.params.name);
      requireScopeOn(identity, name, 'tokens');
      if (!(await store.deleteToken(name, req.params.id))) {
        throw new SifuError('SIFU_ERR_TOKEN_NOT_FOUND', 'no such token');
      }
      await store.addEvent('token.delete', name, { id: req.params.id, by: identity.userName });
      reply.code(204);
    },
  );
}
