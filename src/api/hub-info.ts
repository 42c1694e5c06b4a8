import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SifuError } from '../errors.js';
import { normalizeGroupName, normalizeUsername } from '../names.js';
import type { HubContext } from '../web/context.js';
import { holds, requireGrant, requireIdentity } from './identity.js';
import { pageAnswer, pageOf } from './pagination.js';

/**
 * The hub's own resources as JupyterHub reports them: `/info`, `/services`, `/proxy`. Sifu runs no
 * JupyterHub services, so the services list is empty; the proxy's routes are Sifu's route table.
 */
export function registerHubInfoRoutes(app: FastifyInstance, ctx: HubContext): void {
  app.get('/hub/api/info', async (req) => {
    const identity = await requireIdentity(ctx, req);
    requireGrant(identity, 'read:hub');
    return {
      version: ctx.version,
      // JupyterHub reports its Python; Sifu, the runtime that stands in for it.
      python: `node ${process.versions.node}`,
      sys_executable: process.execPath,
      sifu: true,
      authenticator: { class: `sifu.auth.${ctx.config.authenticator}`, version: ctx.version },
      spawner: { class: `sifu.spawner.${ctx.config.spawner.backend}`, version: ctx.version },
    };
  });

  app.get('/hub/api/services', async (req) => {
    const identity = await requireIdentity(ctx, req);
    if (!holds(identity, 'list:services') && !holds(identity, 'read:services')) {
      throw new SifuError('SIFU_ERR_MISSING_SCOPE', "listing services needs the 'list:services' scope");
    }
    return {};
  });

  app.get<{ Params: { service: string } }>('/hub/api/services/:service', async (req) => {
    const identity = await requireIdentity(ctx, req);
    requireGrant(identity, 'read:services');
    throw new SifuError('SIFU_ERR_NOT_FOUND', 'no such service');
  });

  app.get('/hub/api/proxy', async (req) => {
    const identity = await requireIdentity(ctx, req);
    requireGrant(identity, 'proxy');
    const routes: Record<string, unknown> = {};
    for (const record of await ctx.store.listServers()) {
      const route = ctx.manager.route(record.userName, record.name);
      if (!route) continue;
      const path = `/user/${record.userName}/${record.name ? `${record.name}/` : ''}`;
      // The target is never disclosed as a socket path or relay address: it names the host instead.
      routes[path] = {
        routespec: path,
        target: `sifu://${record.host ?? 'local'}`,
        data: {
          user: record.userName,
          server_name: record.name,
          last_activity: record.lastActivity?.toISOString() ?? null,
        },
      };
    }
    return routes;
  });

  // Shutting the hub down from the API is JupyterHub's; Sifu is stopped by its operator. No role holds it.
  app.post('/hub/api/shutdown', async (req) => {
    const identity = await requireIdentity(ctx, req);
    requireGrant(identity, 'shutdown');
    return null;
  });

  // Sharing (JupyterHub 5) is not offered: every list of shares is empty.
  app.get<{ Params: { name: string } }>('/hub/api/users/:name/shared', async (req) => {
    const identity = await requireIdentity(ctx, req);
    requireGrant(identity, 'read:users:shares', { user: normalizeUsername(req.params.name) });
    return pageAnswer(req, { ...pageOf(req), paginated: true }, []);
  });

  app.get<{ Params: { owner: string } }>('/hub/api/shares/:owner', async (req) => {
    const identity = await requireIdentity(ctx, req);
    requireGrant(identity, 'read:shares', { user: normalizeUsername(req.params.owner) });
    return pageAnswer(req, { ...pageOf(req), paginated: true }, []);
  });

  // A server's shares, and share codes (JupyterHub 5): none, for servers and owners that exist.
  const noShares = async (req: FastifyRequest<{ Params: { owner: string; server?: string } }>) => {
    const identity = await requireIdentity(ctx, req);
    const owner = normalizeUsername(req.params.owner);
    const server = req.params.server ?? '';
    requireGrant(identity, 'read:shares', { user: owner, server });
    if (!(await ctx.store.getUser(owner)))
      throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${owner}`);
    return pageAnswer(req, { ...pageOf(req), paginated: true }, []);
  };
  app.get('/hub/api/shares/:owner/', noShares);
  app.get('/hub/api/shares/:owner/:server', noShares);
  app.get('/hub/api/share-codes/:owner', noShares);
  app.get('/hub/api/share-codes/:owner/', noShares);
  app.get('/hub/api/share-codes/:owner/:server', noShares);

  app.get<{ Params: { group: string } }>('/hub/api/groups/:group/shared', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const group = normalizeGroupName(req.params.group);
    requireGrant(identity, 'read:groups:shares', { group });
    if (!(await ctx.store.getGroup(group)))
      throw new SifuError('SIFU_ERR_GROUP_NOT_FOUND', `no group named ${group}`);
    return pageAnswer(req, { ...pageOf(req), paginated: true }, []);
  });

  // JupyterHub re-syncs its proxy here; Sifu's routes follow the store on their own (push and poll).
  app.post('/hub/api/proxy', async (req) => {
    const identity = await requireIdentity(ctx, req);
    requireGrant(identity, 'proxy');
    return null;
  });
}
