import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { hashSecret, isSecretShaped, newSecret } from '../auth/secrets.js';
import { hasScope } from '../auth/tokens.js';
import { SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import type { HubContext } from '../web/context.js';
import { type LaunchData, landOnCourseNotebook } from '../web/landing.js';
import { requireIdentity, requireScope } from './identity.js';
import { parseBody } from './validate.js';

const LAUNCH = 'launch';

/** Open edX ids (`course-v1:Org+Course+Run`, `block-v1:...`) and LTI ids: printable, bounded. */
const platformId = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

const launchBody = z.strictObject({
  username: z.string(),
  course_id: platformId,
  unit_id: platformId,
  notebook: z.string().min(1).max(255).nullable().optional(),
});

/** Mints a one-time launch ticket for `userName`; returns the URL that signs them in and lands them. */
export async function mintLaunch(ctx: HubContext, userName: string, data: LaunchData): Promise<string> {
  const code = newSecret();
  await ctx.store.createTicket(hashSecret(code), {
    kind: LAUNCH,
    userName,
    data: { ...data },
    expiresAt: new Date(Date.now() + ctx.config.launch.ttl * 1000),
  });
  return `${ctx.hubOrigin}/hub/launch/${code}`;
}

/**
 * The launch API for the XBlock (server to server) and the page that opens a launch URL. A launch URL is
 * short-lived, single use and bound to one user: it replaces the 2016 practice of replaying LMS cookies.
 */
export function registerLaunchRoutes(app: FastifyInstance, ctx: HubContext): void {
  app.post('/hub/api/launch', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    requireScope(identity, 'launch');
    const body = parseBody(launchBody, req.body);
    const userName = normalizeUsername(body.username);
    const existing = await ctx.store.getUser(userName);
    // The launch scope speaks for learners, never for admins: that would hand out admin sessions.
    if (existing?.admin && !hasScope(identity, 'admin')) {
      throw new SifuError('SIFU_ERR_FORBIDDEN', 'launching as an admin needs the admin scope');
    }
    const notebook = body.notebook ?? null;
    await ctx.courses.checkUnit(body.course_id, body.unit_id, notebook);
    const url = await mintLaunch(ctx, userName, { courseId: body.course_id, unitId: body.unit_id, notebook });
    await ctx.store.addEvent('launch.create', userName, {
      by: identity.userName,
      course: body.course_id,
      unit: body.unit_id,
    });
    reply.code(201);
    return { url, expires_in: ctx.config.launch.ttl };
  });

  app.get<{ Params: { code: string } }>('/hub/launch/:code', async (req, reply) => {
    // A HEAD (a link checker, a chat preview) changes nothing: it must not use up a single-use link.
    if (req.method === 'HEAD') return reply.type('text/html').send('');
    const ticket = isSecretShaped(req.params.code)
      ? await ctx.store.consumeTicket(hashSecret(req.params.code), LAUNCH, new Date())
      : null;
    if (!ticket?.userName) {
      throw new SifuError(
        'SIFU_ERR_LAUNCH_INVALID',
        'This launch link has expired or was already used. Please reload the course page.',
      );
    }
    const data = ticket.data as unknown as LaunchData;
    await ctx.store.addEvent('launch.open', ticket.userName, { course: data.courseId, unit: data.unitId });
    return landOnCourseNotebook(ctx, req, reply, ticket.userName, data, 'launch');
  });
}
