import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hasScope } from '../auth/tokens.js';
import { SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import type { HubContext } from '../web/context.js';
import { requireIdentity, requireRead, requireScope } from './identity.js';
import { userModel } from './models.js';
import { parseBody } from './validate.js';

const createBody = z.strictObject({ admin: z.boolean().optional() }).optional();
const createManyBody = z.strictObject({
  usernames: z.array(z.string()).min(1).max(1000),
  admin: z.boolean().optional(),
});

/** `/hub/api/users`: JupyterHub's users resource. */
export function registerUserRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { store, manager } = ctx;

  async function model(name: string, withState: boolean) {
    const user = await store.getUser(name);
    if (!user) throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${name}`);
    const servers = (await store.listServers()).filter((s) => s.userName === name);
    return userModel(manager, user, servers, { withState });
  }

  app.get('/hub/api/users', async (req) => {
    const identity = await requireIdentity(ctx, req);
    requireScope(identity, 'read:users');
    const servers = await store.listServers();
    return (await store.listUsers()).map((user) =>
      userModel(
        manager,
        user,
        servers.filter((s) => s.userName === user.name),
        { withState: identity.admin },
      ),
    );
  });

  app.get<{ Params: { name: string } }>('/hub/api/users/:name', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireRead(identity, name);
    return model(name, identity.admin);
  });

  app.post<{ Params: { name: string } }>('/hub/api/users/:name', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    requireScope(identity, 'admin:users');
    const name = normalizeUsername(req.params.name);
    const body = parseBody(createBody, req.body);
    if (body?.admin && !hasScope(identity, 'admin')) {
      throw new SifuError('SIFU_ERR_MISSING_SCOPE', "making an admin needs the 'admin' scope");
    }
    await store.createUser(name, { admin: body?.admin ?? false });
    await store.addEvent('user.create', name, { by: identity.userName });
    reply.code(201);
    return model(name, identity.admin);
  });

  app.post('/hub/api/users', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    requireScope(identity, 'admin:users');
    const body = parseBody(createManyBody, req.body);
    if (body.admin && !hasScope(identity, 'admin')) {
      throw new SifuError('SIFU_ERR_MISSING_SCOPE', "making an admin needs the 'admin' scope");
    }
    // Validate every name before creating any: bad input changes nothing.
    const names = [...new Set(body.usernames.map(normalizeUsername))];
    for (const name of names) {
      if (await store.getUser(name))
        throw new SifuError('SIFU_ERR_USER_EXISTS', `user ${name} already exists`);
    }
    const created = [];
    for (const name of names) {
      await store.createUser(name, { admin: body.admin ?? false });
      await store.addEvent('user.create', name, { by: identity.userName });
      created.push(await model(name, identity.admin));
    }
    reply.code(201);
    return created;
  });

  app.delete<{ Params: { name: string } }>('/hub/api/users/:name', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    requireScope(identity, 'admin:users');
    const name = normalizeUsername(req.params.name);
    if (!(await store.getUser(name))) throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${name}`);
    for (const server of (await store.listServers()).filter((s) => s.userName === name)) {
      await manager.stop(name, server.name, 'user deleted');
    }
    await store.deleteUser(name);
    await store.addEvent('user.delete', name, { by: identity.userName });
    reply.code(204);
  });

  app.get('/hub/api/user', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const user = await store.getUser(identity.userName);
    if (!user) {
      // The bootstrap admin token has no user row.
      return {
        kind: 'service',
        name: identity.userName,
        admin: identity.admin,
        scopes: [...identity.scopes],
      };
    }
    return { ...(await model(identity.userName, identity.admin)), scopes: [...identity.scopes] };
  });
}
