import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { completeSignIn, notebookOwner, proceedTo, safeBinding, safeNext } from '../auth/sign-in.js';
import { isSifuError, SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import { notebookUrl } from '../routes.js';
import type { HubContext } from '../web/context.js';
import { errorPage } from '../web/layout.js';
import { homePage, loginPage, spawnPage } from './templates.js';

export function registerPageRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { sessions, store, manager } = ctx;
  const notebookHome = (user: string) => notebookUrl(ctx.notebookOrigin, user);

  const proceed = (reply: FastifyReply, hubHash: string, userName: string, next: string | null) =>
    proceedTo(ctx, reply, hubHash, userName, next);

  const loginRedirect = (req: FastifyRequest) =>
    `/hub/login?next=${encodeURIComponent(req.url.length <= 2000 ? req.url : '/hub/home')}`;

  app.get('/', (_req, reply) => reply.redirect('/hub/home'));
  app.get('/favicon.ico', (_req, reply) => reply.code(204).send());
  app.get('/hub', (_req, reply) => reply.redirect('/hub/home'));
  app.get('/hub/', (_req, reply) => reply.redirect('/hub/home'));

  app.get<{ Querystring: { next?: string; handoff?: string } }>('/hub/login', async (req, reply) => {
    const next = safeNext(ctx, req.query.next);
    const binding = safeBinding(req.query.handoff);
    const session = await sessions.hubIdentity(req.headers.cookie);
    if (session) return proceedTo(ctx, reply, session.hash, session.identity.userName, next, binding);
    if (ctx.externalLogin) return ctx.externalLogin.begin(req, reply, next);
    return reply.type('text/html').send(loginPage({ next: next ?? '', handoff: binding }));
  });

  app.post<{ Body: { username?: unknown; next?: unknown; handoff?: unknown } }>(
    '/hub/login',
    async (req, reply) => {
      if (ctx.externalLogin)
        throw new SifuError('SIFU_ERR_NOT_FOUND', 'sign in through your learning platform');
      const origin = req.headers.origin;
      // Login CSRF: a sign-in form posted from another site is refused.
      if (origin && origin !== ctx.hubOrigin) {
        throw new SifuError('SIFU_ERR_BAD_ORIGIN', 'sign-in from another site is refused');
      }
      const next = safeNext(ctx, req.body?.next);
      const binding = safeBinding(req.body?.handoff);
      let userName: string;
      try {
        userName = normalizeUsername(req.body?.username);
      } catch (err) {
        if (!isSifuError(err)) throw err;
        const username = typeof req.body?.username === 'string' ? req.body.username.slice(0, 64) : '';
        return reply
          .code(err.status)
          .type('text/html')
          .send(loginPage({ next: next ?? '', handoff: binding, error: err.message, username }));
      }
      return completeSignIn(ctx, req, reply, userName, next, 'dev', binding);
    },
  );

  const logout = async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.method === 'POST' && req.headers.origin && req.headers.origin !== ctx.hubOrigin) {
      throw new SifuError('SIFU_ERR_BAD_ORIGIN', 'sign-out from another site is refused');
    }
    const { setCookie } = await sessions.signOut(req.headers.cookie);
    reply.header('set-cookie', setCookie);
    return reply.redirect('/hub/login', 303);
  };
  app.get('/hub/logout', logout);
  app.post('/hub/logout', logout);

  app.get('/hub/home', async (req, reply) => {
    const session = await sessions.hubIdentity(req.headers.cookie);
    if (!session) return reply.redirect(loginRedirect(req));
    const user = session.identity.userName;
    return reply.type('text/html').send(
      homePage({
        user,
        running: manager.route(user, '') !== undefined,
        pending: manager.isPending(user, ''),
        notebookUrl: notebookHome(user),
      }),
    );
  });

  app.post('/hub/stop', async (req, reply) => {
    const session = await sessions.hubIdentity(req.headers.cookie);
    if (!session) return reply.redirect(loginRedirect(req), 303);
    if (req.headers.origin !== ctx.hubOrigin) {
      throw new SifuError('SIFU_ERR_BAD_ORIGIN', 'cross-origin requests with a session cookie are refused');
    }
    await manager.stop(session.identity.userName, '', 'requested');
    return reply.redirect('/hub/home', 303);
  });

  /** Starts the server if needed and shows live progress; when ready, lands in the notebook. */
  app.get<{ Params: { name: string }; Querystring: { next?: string } }>(
    '/hub/spawn/:name',
    async (req, reply) => {
      const session = await sessions.hubIdentity(req.headers.cookie);
      if (!session) return reply.redirect(loginRedirect(req));
      const owner = normalizeUsername(req.params.name);
      const { identity } = session;
      if (owner !== identity.userName && !identity.admin) {
        throw new SifuError('SIFU_ERR_FORBIDDEN', 'this is not your server');
      }
      if (!(await store.getUser(owner)))
        throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${owner}`);
      const next = safeNext(ctx, req.query.next);
      const target = next && notebookOwner(ctx, next) === owner ? next : notebookHome(owner);
      if (manager.route(owner, '')) return proceed(reply, session.hash, identity.userName, target);
      // Starts unless a start is in flight; a failed start shows its reason and is retried on reload.
      await manager.start(owner, '').catch((err: unknown) => {
        // Being started by another replica or worker: the page follows it through the store.
        if (!isSifuError(err) || err.code !== 'SIFU_ERR_SERVER_PENDING') throw err;
      });
      // Already running after all (e.g. started by another replica, now routed here too): go straight in.
      if (manager.route(owner, '')) return proceed(reply, session.hash, identity.userName, target);
      return reply.type('text/html').send(spawnPage({ user: identity.userName, owner, next: target }));
    },
  );

  app.setNotFoundHandler((req, reply) => {
    const error = new SifuError('SIFU_ERR_NOT_FOUND', 'there is nothing here');
    if (req.url.startsWith('/hub/api'))
      return reply.code(404).send({ status: 404, code: error.code, message: error.message });
    return reply
      .code(404)
      .type('text/html')
      .send(errorPage(404, error.code, error.message));
  });
}
