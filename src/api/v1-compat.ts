/**
 * The 2016 API (`/v1/api/notebooks/...`), so an XBlock written for the Rails service keeps working,
 * mapped onto course notebooks and secured as the new API is:
 *
 * | 2016 route | now |
 * |---|---|
 * | `GET  /v1/api/notebooks/<course>/<file>` | base notebook exists? 200 `{exists: true, ...}` / 404 `{exists: false}` |
 * | `POST /v1/api/notebooks/<course>/<file>` | write the base notebook (body: the notebook JSON); `courses` scope |
 * | `GET  /v1/api/notebooks/<course>/<file>/users/<user>` | learner copy exists? 200 / 404 |
 * | `POST /v1/api/notebooks/<course>/<file>/users/<user>` | create the learner copy (never overwrites) |
 * | `GET  /v1/api/notebooks/<course>/<file>/users/<user>/serve` | make the copy if needed, 302 into it |
 *
 * `<file>` may omit `.ipynb`. The 2016 notebooks had no units: these are course-wide notebooks. Learner
 * routes need the learner themselves (token with `servers`, or their hub session) or an admin.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, isSifuError, SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import type { HubContext } from '../web/context.js';
import { learnerNotebookUrl, notebookModel } from './courses.js';
import { requireIdentity, requireScope, requireScopeOn } from './identity.js';

type Params = { course: string; file: string; user?: string };

const withIpynb = (file: string) => (file.endsWith('.ipynb') ? file : `${file}.ipynb`);

export function registerV1CompatRoutes(app: FastifyInstance, ctx: HubContext): void {
  const courses = ctx.courseNotebooks;
  const prefix = '/v1/api/notebooks/:course/:file';
  const bodyLimit = ctx.config.storage.maxNotebookBytes * 2 + 64 * 1024;

  /** Errors as JSON (the hub's handler renders HTML outside /hub/api). */
  const route =
    (handler: (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => Promise<unknown>) =>
    async (req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
      try {
        return await handler(req, reply);
      } catch (err) {
        if (!isSifuError(err)) throw err;
        if (err.logDetail) req.log.warn({ code: err.code, detail: err.logDetail }, err.message);
        return reply.code(err.status).send(errorBody(err));
      }
    };

  async function learner(req: FastifyRequest<{ Params: Params }>): Promise<string> {
    const identity = await requireIdentity(ctx, req);
    const userName = normalizeUsername(req.params.user);
    requireScopeOn(identity, userName, 'servers');
    await ctx.store.ensureUser(userName);
    return userName;
  }

  app.get<{ Params: Params }>(
    prefix,
    route(async (req, reply) => {
      await requireIdentity(ctx, req);
      try {
        return {
          exists: true,
          ...notebookModel(await courses.get(req.params.course, withIpynb(req.params.file))),
        };
      } catch (err) {
        if (isSifuError(err) && err.code === 'SIFU_ERR_NOTEBOOK_NOT_FOUND') {
          return reply.code(404).send({ exists: false });
        }
        throw err;
      }
    }),
  );

  app.post<{ Params: Params }>(
    prefix,
    { bodyLimit },
    route(async (req, reply) => {
      const identity = await requireIdentity(ctx, req);
      requireScope(identity, 'courses');
      const raw = req.body as { notebook?: unknown } | null;
      const notebook = raw && typeof raw === 'object' && 'notebook' in raw ? raw.notebook : raw;
      const { record, created } = await courses.attachUpload({
        courseId: req.params.course,
        unitId: null,
        name: withIpynb(req.params.file),
        notebook,
        by: identity.userName,
      });
      await ctx.store.addEvent('course.notebook.put', null, {
        by: identity.userName,
        course: record.courseId,
        name: record.name,
        via: 'v1',
      });
      reply.code(created ? 201 : 200);
      return notebookModel(record);
    }),
  );

  app.get<{ Params: Params }>(
    `${prefix}/users/:user`,
    route(async (req, reply) => {
      const userName = await learner(req);
      const status = await courses.learnerCopyStatus(userName, req.params.course, withIpynb(req.params.file));
      reply.code(status.exists ? 200 : 404);
      return {
        exists: status.exists,
        path: status.path,
        url: learnerNotebookUrl(ctx, userName, status.path),
      };
    }),
  );

  /** The 2016 "create" and "serve" both make the learner's copy if missing (never overwriting it). */
  const ensureCopy = async (req: FastifyRequest<{ Params: Params }>) => {
    const userName = await learner(req);
    const copy = await courses.ensureLearnerCopy(
      userName,
      req.params.course,
      null,
      withIpynb(req.params.file),
    );
    return { userName, copy };
  };

  app.post<{ Params: Params }>(
    `${prefix}/users/:user`,
    route(async (req, reply) => {
      const { userName, copy } = await ensureCopy(req);
      reply.code(copy.created ? 201 : 200);
      return { ...copy, url: learnerNotebookUrl(ctx, userName, copy.path) };
    }),
  );

  app.get<{ Params: Params }>(
    `${prefix}/users/:user/serve`,
    route(async (req, reply) => {
      const { userName, copy } = await ensureCopy(req);
      if (!copy.path) throw new SifuError('SIFU_ERR_NOTEBOOK_NOT_FOUND', 'no such notebook');
      return reply.redirect(learnerNotebookUrl(ctx, userName, copy.path), 302);
    }),
  );
}
