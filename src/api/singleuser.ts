import type { FastifyInstance } from 'fastify';
import type { HubContext } from '../web/context.js';

/**
 * What JupyterHub's single-user servers ask of their hub (issue 12, in progress): the OAuth2 provider
 * under `/hub/api/oauth2/`, activity posts.
 */
export function registerSingleUserRoutes(_app: FastifyInstance, _ctx: HubContext): void {}
