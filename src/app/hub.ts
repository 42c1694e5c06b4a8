import formbody from '@fastify/formbody';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { registerCourseRoutes } from '../api/courses.js';
import { registerGroupRoutes } from '../api/groups.js';
import { registerHubInfoRoutes } from '../api/hub-info.js';
import { registerLaunchRoutes } from '../api/launch.js';
import { registerMetricsRoutes } from '../api/metrics.js';
import { registerRootRoutes } from '../api/root.js';
import { registerServerRoutes } from '../api/servers.js';
import { registerSingleUserRoutes } from '../api/singleuser.js';
import { registerStorageRoutes } from '../api/storage.js';
import { registerTokenRoutes } from '../api/tokens.js';
import { registerUserRoutes } from '../api/users.js';
import { registerV1CompatRoutes } from '../api/v1-compat.js';
import { registerLtiRoutes } from '../auth/lti/lti-routes.js';
import { registerExternalLoginRoutes } from '../auth/oauth/external-login.js';
import type { SifuConfig } from '../config/schema.js';
import { errorBody, hubApiStatus, isSifuError, SifuError } from '../errors.js';
import { registerAdminPages } from '../pages/admin.js';
import { registerPageRoutes } from '../pages/routes.js';
import { type ConnectionCaps, capConnections, totalCap } from '../web/connection-limits.js';
import type { HubContext } from '../web/context.js';
import { errorPage } from '../web/layout.js';

/** Each port's client connection caps, from `limits.*`. */
export function connectionCaps(config: SifuConfig): ConnectionCaps {
  return {
    total: totalCap(config.limits.maxConnections),
    perAddress: config.limits.maxConnectionsPerAddress,
  };
}

/**
 * A JSON content type with an empty body is no body (what `requests` and many JupyterHub clients send
 * with `POST /users/<name>/server`), as JupyterHub takes it; any other body goes to fastify's own parser,
 * with its guards against prototype poisoning.
 */
function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    parseJson(req, text, done);
  });
}

/** The hub: REST API, sign-in and learner pages, on the hub port. */
export async function createHub(ctx: HubContext): Promise<FastifyInstance> {
  // Typed as the default instance: route modules need not know the logger's concrete type.
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'hub' }),
    // Per-request lines would drown the log; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    trustProxy: false,
    // Shutdown must not wait on open keep-alive or progress-stream connections.
    forceCloseConnections: true,
    // A stalled client (headers or body trickling in) is cut off instead of holding a descriptor; the
    // timeouts are checked every second rather than Node's default 30.
    http: { headersTimeout: ctx.config.limits.headersTimeout * 1000, connectionsCheckingInterval: 1000 },
    requestTimeout: ctx.config.limits.hubRequestTimeout * 1000,
    connectionTimeout: 120_000,
    routerOptions: { maxParamLength: 300 },
  }) as unknown as FastifyInstance;
  capConnections(app.server, connectionCaps(ctx.config));
  await app.register(formbody);
  acceptEmptyJsonBodies(app);

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'same-origin');
    reply.header('content-security-policy', `frame-ancestors ${ctx.config.proxy.frameAncestors.join(' ')}`);
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    if (req.url.startsWith('/hub/api')) reply.header('x-jupyterhub-version', ctx.version);
    return payload;
  });

  app.setErrorHandler((err, req, reply) => {
    let error: SifuError;
    if (isSifuError(err)) {
      error = err;
    } else if ((err as { statusCode?: number }).statusCode === 413) {
      error = new SifuError('SIFU_ERR_PAYLOAD_TOO_LARGE', 'the request body is too large');
    } else if (
      (err as { statusCode?: number }).statusCode &&
      (err as { statusCode: number }).statusCode < 500
    ) {
      error = new SifuError('SIFU_ERR_BAD_REQUEST', 'the request is malformed');
    } else {
      req.log.error({ err }, 'unexpected error');
      error = new SifuError('SIFU_ERR_INTERNAL', 'an unexpected error happened; it has been logged');
    }
    if (error.logDetail) req.log.warn({ code: error.code, detail: error.logDetail }, error.message);
    if (req.url.startsWith('/hub/api')) {
      const status = hubApiStatus[error.code] ?? error.status;
      reply.code(status);
      return reply.send(errorBody(error, status));
    }
    reply.code(error.status);
    return reply.type('text/html').send(errorPage(error.status, error.code, error.message));
  });

  registerMetricsRoutes(app, ctx);
  registerRootRoutes(app, ctx);
  registerUserRoutes(app, ctx);
  registerServerRoutes(app, ctx);
  registerTokenRoutes(app, ctx);
  registerGroupRoutes(app, ctx);
  registerHubInfoRoutes(app, ctx);
  registerLaunchRoutes(app, ctx);
  registerCourseRoutes(app, ctx);
  registerV1CompatRoutes(app, ctx);
  registerStorageRoutes(app, ctx);
  registerLtiRoutes(app, ctx);
  registerSingleUserRoutes(app, ctx);
  registerPageRoutes(app, ctx);
  registerAdminPages(app, ctx);
  registerExternalLoginRoutes(app, ctx);
  return app;
}
