/**
 * `/hub/api/users/<name>/storage` and `/trash`: a user's disk usage and quota, their trash (list,
 * restore), and the purge of all their files (admin only, audited; servers are stopped first).
 */
import type { FastifyInstance } from 'fastify';
import { SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import type { TrashEntry } from '../storage/trash.js';
import type { HubContext } from '../web/context.js';
import { requireIdentity, requireRead, requireScope, requireScopeOn } from './identity.js';

function trashModel(entry: TrashEntry) {
  return {
    id: entry.id,
    path: entry.path,
    deleted: entry.deletedAt.toISOString(),
    purge_after: entry.purgeAfter.toISOString(),
  };
}

export function registerStorageRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { storage } = ctx;
  if (!storage) throw new SifuError('SIFU_ERR_INTERNAL', 'storage is not configured');
  type Params = { name: string };

  app.get<{ Params: Params }>('/hub/api/users/:name/storage', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireRead(identity, name);
    const report = await storage.report(name);
    return {
      usage_bytes: report.bytes,
      files: report.files,
      quota_bytes: report.quota || null,
      over_quota: report.overQuota,
    };
  });

  app.get<{ Params: Params }>('/hub/api/users/:name/trash', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireScopeOn(identity, name, 'servers');
    return { trash: (await storage.trash.list(name)).map(trashModel) };
  });

  app.post<{ Params: Params & { id: string } }>('/hub/api/users/:name/trash/:id/restore', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireScopeOn(identity, name, 'servers');
    const entry = await storage.trash.restore(name, req.params.id);
    await ctx.store.addEvent('notebook.restore', name, { id: entry.id, path: entry.path });
    return trashModel(entry);
  });

  /** A data-deletion request: every file of the user, home and trash, gone for good. */
  app.delete<{ Params: Params }>('/hub/api/users/:name/storage', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    requireScope(identity, 'admin');
    const name = normalizeUsername(req.params.name);
    for (const server of await ctx.store.listServers()) {
      if (server.userName === name)
        await ctx.manager.stop(name, server.name, `purge by ${identity.userName}`);
    }
    const result = await storage.purgeUser(name);
    await ctx.store.addEvent('storage.purge', name, { by: identity.userName, ...result });
    reply.code(204);
  });
}
