import type { FastifyInstance } from 'fastify';
import type { HubContext } from '../web/context.js';

/** `GET /hub/api/`: the version, as JupyterHub answers it (no authentication needed). */
export function registerRootRoutes(app: FastifyInstance, ctx: HubContext): void {
  app.get('/hub/api', async () => ({ version: ctx.version, sifu: true }));
  app.get('/hub/api/', async () => ({ version: ctx.version, sifu: true }));
  app.get('/hub/health', async () => ({ ok: true }));
}
