import type { FastifyReply, FastifyRequest } from 'fastify';
import { completeSignIn } from '../auth/sign-in.js';
import { notebookFilePath, notebookUrl } from '../routes.js';
import type { HubContext } from './context.js';

/** What a launch names: the course, the unit, and optionally one of the unit's notebooks. */
export interface LaunchData {
  courseId: string;
  unitId: string;
  notebook: string | null;
}

/**
 * The end of every launch (launch URL, LTI): the learner's copy of the unit's notebook exists, they are
 * signed in, and the spawn page (live progress) takes them to that notebook once their server is ready.
 */
export async function landOnCourseNotebook(
  ctx: HubContext,
  req: FastifyRequest,
  reply: FastifyReply,
  userName: string,
  launch: LaunchData,
  via: string,
) {
  await ctx.store.ensureUser(userName);
  const path = await ctx.courses.ensureLearnerCopy(userName, launch.courseId, launch.unitId, launch.notebook);
  const target = notebookUrl(ctx, userName, path ? notebookFilePath(path) : '');
  return completeSignIn(
    ctx,
    req,
    reply,
    userName,
    `/hub/spawn/${userName}?next=${encodeURIComponent(target)}`,
    via,
  );
}
