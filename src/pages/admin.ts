import type { FastifyInstance } from 'fastify';
import type { HubContext } from '../web/context.js';

/** `/hub/admin`: the admin page (issue 12, in progress). */
export function registerAdminPages(_app: FastifyInstance, _ctx: HubContext): void {}
