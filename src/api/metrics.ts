import type { FastifyInstance } from 'fastify';
import type { HubContext } from '../web/context.js';

/** `/hub/metrics` and the hub's request instrumentation (issue 12, in progress). Registered first. */
export function registerMetricsRoutes(_app: FastifyInstance, _ctx: HubContext): void {}
