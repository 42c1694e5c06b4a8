import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hasScope } from '../auth/tokens.js';
import { errorBody, isSifuError, SifuError } from '../errors.js';
import { METRICS_CONTENT_TYPE, metricsText, prepareWorkerMetrics } from '../metrics/cluster.js';
import {
  ACTIVE_PERIODS,
  type ActivePeriod,
  requestDuration,
  setHubGauges,
  watchEventLoop,
} from '../metrics/metrics.js';
import type { HubContext } from '../web/context.js';
import { identify } from './identity.js';

/**
 * `/hub/metrics` (Prometheus text, for the whole process group) and the hub's request instrumentation.
 * Registered first, so that the request hook sees every route. Behind the `read:metrics` scope unless
 * `metrics.requireAuth` is off; JupyterHub answers 403 there without one, and so does Sifu.
 */
export function registerMetricsRoutes(app: FastifyInstance, ctx: HubContext): void {
  prepareWorkerMetrics();
  const unsetGauges = setHubGauges({
    runningServers: () => ctx.manager.localRoutes().length,
    async users() {
      const now = Date.now();
      const active = { '24h': 0, '7d': 0, '30d': 0 };
      const users = await ctx.store.listUsers();
      for (const user of users) {
        const last = user.lastActivity?.getTime();
        if (last === undefined) continue;
        for (const period of Object.keys(ACTIVE_PERIODS) as ActivePeriod[]) {
          if (now - last <= ACTIVE_PERIODS[period]) active[period] += 1;
        }
      }
      return { total: users.length, active };
    },
  });
  const stopWatching = watchEventLoop();
  app.addHook('onClose', async () => {
    stopWatching();
    unsetGauges();
  });

  app.addHook('onResponse', async (req, reply) => {
    requestDuration.observe(
      {
        method: req.method,
        // The route pattern, not the path: one series per handler, whatever the names in it.
        handler: req.routeOptions.url ?? 'unmatched',
        code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });

  app.get('/hub/metrics', async (req, reply) => {
    if (ctx.config.metrics.requireAuth) {
      try {
        await requireMetricsScope(ctx, req);
      } catch (err) {
        // A scraper is an API client: the refusal is JSON, as under /hub/api, not the HTML error page.
        if (!isSifuError(err)) throw err;
        return reply.code(err.status).send(errorBody(err));
      }
    }
    const text = await metricsText();
    return reply.type(METRICS_CONTENT_TYPE).send(text);
  });
}

async function requireMetricsScope(ctx: HubContext, req: FastifyRequest): Promise<void> {
  const refused = new SifuError(
    'SIFU_ERR_MISSING_SCOPE',
    "the metrics need a token with the 'read:metrics' scope",
  );
  const identity = await identify(ctx, req).catch((err: unknown) => {
    // An unknown token is refused as no token is: 403, as JupyterHub answers a scraper.
    if (isSifuError(err) && err.code === 'SIFU_ERR_UNAUTHENTICATED') return null;
    throw err;
  });
  if (!identity || !hasScope(identity, 'read:metrics')) throw refused;
}
