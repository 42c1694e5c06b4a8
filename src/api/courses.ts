/**
 * `/hub/api/courses/...`: base notebooks of a course (staff: the `courses` scope) and each learner's
 * copy (the learner with `servers`, or an admin). Staff are, for now, whoever holds the `courses` scope
 * (admins hold every scope); there is no per-course staff list yet.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { courseDirName, validateCourseId } from '../courses/ids.js';
import { SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import { notebookFilePath, notebookUrl } from '../routes.js';
import type { CourseNotebookRecord } from '../store/store.js';
import type { HubContext } from '../web/context.js';
import { requireIdentity, requireScope, requireScopeOn } from './identity.js';
import { parseBody } from './validate.js';

const putBody = z.union([
  z.strictObject({ unit: z.string().optional(), notebook: z.unknown() }),
  z.strictObject({
    unit: z.string().optional(),
    git: z.strictObject({ repo: z.string(), path: z.string(), ref: z.string().optional() }),
  }),
]);

const copyBody = z.strictObject({ unit: z.string().optional() }).optional();

export function notebookModel(record: CourseNotebookRecord) {
  return {
    course: record.courseId,
    unit: record.unitId || null,
    name: record.name,
    directory: courseDirName(record.courseId),
    source: record.source,
    sha256: record.sha256,
    size: record.size,
    updated: record.updatedAt.toISOString(),
    updated_by: record.updatedBy,
  };
}

/** `/user/<name>/notebooks/<dir>/<file>`: where Jupyter opens the learner's copy. */
export function learnerNotebookUrl(ctx: HubContext, userName: string, relPath: string): string {
  return notebookUrl(ctx, userName, notebookFilePath(relPath));
}

type NotebookParams = { course: string; name: string };
type CopyParams = NotebookParams & { user: string };

export function registerCourseRoutes(app: FastifyInstance, ctx: HubContext): void {
  const courses = ctx.courseNotebooks;
  const bodyLimit = ctx.config.storage.maxNotebookBytes * 2 + 64 * 1024;
  const base = '/hub/api/courses/:course/notebooks/:name';

  app.get('/hub/api/courses', async (req) => {
    await requireIdentity(ctx, req);
    const byCourse = new Map<string, number>();
    for (const nb of await courses.list()) byCourse.set(nb.courseId, (byCourse.get(nb.courseId) ?? 0) + 1);
    return {
      courses: [...byCourse].map(([id, notebooks]) => ({ id, directory: courseDirName(id), notebooks })),
    };
  });

  app.get<{ Params: { course: string } }>('/hub/api/courses/:course/notebooks', async (req) => {
    await requireIdentity(ctx, req);
    const list = await courses.list(validateCourseId(req.params.course));
    return { notebooks: list.map(notebookModel) };
  });

  app.get<{ Params: NotebookParams; Querystring: { content?: string } }>(base, async (req) => {
    const identity = await requireIdentity(ctx, req);
    const record = await courses.get(req.params.course, req.params.name);
    if (req.query.content !== 'true') return notebookModel(record);
    requireScope(identity, 'courses');
    return JSON.parse(await courses.content(record.courseId, record.name)) as unknown;
  });

  app.put<{ Params: NotebookParams }>(base, { bodyLimit }, async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    requireScope(identity, 'courses');
    const body = parseBody(putBody, req.body);
    const common = {
      courseId: req.params.course,
      unitId: body.unit ?? null,
      name: req.params.name,
      by: identity.userName,
    };
    const { record, created } =
      'git' in body
        ? await courses.attachFromGit({ ...common, git: body.git })
        : await courses.attachUpload({ ...common, notebook: body.notebook });
    await ctx.store.addEvent('course.notebook.put', null, {
      by: identity.userName,
      course: record.courseId,
      name: record.name,
      source: record.source.kind,
      sha256: record.sha256,
    });
    reply.code(created ? 201 : 200);
    return notebookModel(record);
  });

  app.delete<{ Params: NotebookParams }>(base, async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    requireScope(identity, 'courses');
    await courses.detach(req.params.course, req.params.name);
    await ctx.store.addEvent('course.notebook.delete', null, {
      by: identity.userName,
      course: req.params.course,
      name: req.params.name,
    });
    reply.code(204);
  });

  // learners' copies

  async function learner(req: { params: CopyParams }, identityUser: Parameters<typeof requireScopeOn>[0]) {
    const userName = normalizeUsername(req.params.user);
    requireScopeOn(identityUser, userName, 'servers');
    if (!(await ctx.store.getUser(userName))) {
      throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${userName}`);
    }
    return userName;
  }

  app.get<{ Params: CopyParams }>(`${base}/copies/:user`, async (req) => {
    const userName = await learner(req, await requireIdentity(ctx, req));
    const status = await courses.learnerCopyStatus(userName, req.params.course, req.params.name);
    return {
      path: status.path,
      exists: status.exists,
      size: status.size,
      modified: status.modified?.toISOString() ?? null,
      url: learnerNotebookUrl(ctx, userName, status.path),
    };
  });

  app.post<{ Params: CopyParams }>(`${base}/copies/:user`, async (req, reply) => {
    const userName = await learner(req, await requireIdentity(ctx, req));
    const body = parseBody(copyBody, req.body);
    const copy = await courses.ensureLearnerCopy(
      userName,
      req.params.course,
      body?.unit ?? null,
      req.params.name,
    );
    if (copy.created) {
      await ctx.store.addEvent('notebook.copy', userName, { course: req.params.course, path: copy.path });
    }
    reply.code(copy.created ? 201 : 200);
    return { path: copy.path, created: copy.created, url: learnerNotebookUrl(ctx, userName, copy.path) };
  });

  app.post<{ Params: CopyParams }>(`${base}/copies/:user/reset`, async (req) => {
    const userName = await learner(req, await requireIdentity(ctx, req));
    const result = await courses.resetLearnerCopy(userName, req.params.course, req.params.name);
    await ctx.store.addEvent('notebook.reset', userName, { course: req.params.course, ...result });
    return { ...result, url: learnerNotebookUrl(ctx, userName, result.path) };
  });

  app.delete<{ Params: CopyParams }>(`${base}/copies/:user`, async (req) => {
    const userName = await learner(req, await requireIdentity(ctx, req));
    const entry = await courses.deleteLearnerCopy(userName, req.params.course, req.params.name);
    await ctx.store.addEvent('notebook.trash', userName, { course: req.params.course, id: entry.id });
    return {
      trash: {
        id: entry.id,
        path: entry.path,
        deleted: entry.deletedAt.toISOString(),
        purge_after: entry.purgeAfter.toISOString(),
      },
    };
  });
}
