import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { completeSignIn, notebookOwner, proceedTo, safeBinding, safeNext } from '../auth/sign-in.js';
import { isSifuError, SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import { notebookUrl } from '../routes.js';
import type { HubContext } from '../web/context.js';
import { errorPage } from '../web/layout.js';
import { homePage, loginPage, logoutPage, spawnPage, startPage } from './templates.js';

export function registerPageRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { sessions, store, manager } = ctx;
  const notebookHome = (user: string) => notebookUrl(ctx, user);

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
  // Signing out changes state, so only a POST does it; a GET (a link, a prefetch, an <img>) gets the button.
  app.get('/hub/logout', async (req, reply) => {
    const session = await sessions.hubIdentity(req.headers.cookie);
    if (!session) return reply.redirect('/hub/login', 303);
    return reply.type('text/html').send(logoutPage(session.identity.userName));
  });
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

  type SpawnRequest = FastifyRequest<{ Params: { name: string }; Querystring: { next?: string } }>;

  /** Who may start or watch `name`'s server, and where to land afterwards; null: sign in first. */
  const spawnTarget = async (req: SpawnRequest, next: unknown) => {
    const session = await sessions.hubIdentity(req.headers.cookie);
    if (!session) return null;
    const owner = normalizeUsername(req.params.name);
    const { identity } = session;
    if (owner !== identity.userName && !identity.admin) {
      throw new SifuError('SIFU_ERR_FORBIDDEN', 'this is not your server');
    }
    if (!(await store.getUser(owner)))
      throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${owner}`);
    const safe = safeNext(ctx, next);
    const target = safe && notebookOwner(ctx, safe) === owner ? safe : notebookHome(owner);
    return { session, owner, target };
  };

  /**
   * Shows the way to the notebook, changing nothing: running, it goes straight in; starting, live progress;
   * stopped, a page that starts it by POST (submitted by itself, so a learner sees no extra click).
   */
  app.get('/hub/spawn/:name', async (req: SpawnRequest, reply) => {
    const spawn = await spawnTarget(req, req.query.next);
    if (!spawn) return reply.redirect(loginRedirect(req));
    const { session, owner, target } = spawn;
    if (manager.route(owner, '')) return proceed(reply, session.hash, session.identity.userName, target);
    const user = session.identity.userName;
    // Running or starting on another replica or worker: routed here too, or followed through the store.
    const elsewhere = manager.isPending(owner, '') ? 'pending' : await manager.followElsewhere(owner, '');
    if (elsewhere === 'running') return proceed(reply, session.hash, user, target);
    const shown = elsewhere === 'pending' ? spawnPage : startPage;
    return reply.type('text/html').send(shown({ user, owner, next: target }));
  });

  /** Starts the server unless a start is in flight, then shows its progress (through the GET above). */
  app.post<{ Params: { name: string }; Querystring: { next?: string }; Body: { next?: unknown } }>(
    '/hub/spawn/:name',
    async (req, reply) => {
      if (req.headers.origin !== ctx.hubOrigin) {
        throw new SifuError('SIFU_ERR_BAD_ORIGIN', 'cross-origin requests with a session cookie are refused');
      }
      const spawn = await spawnTarget(req as SpawnRequest, req.body?.next);
      if (!spawn) return reply.redirect(loginRedirect(req), 303);
      // A start that fails at once shows its reason here; one that fails later, on the progress page.
      await manager.start(spawn.owner, '').catch((err: unknown) => {
        // Being started by another replica or worker: the page follows it through the store.
        if (!isSifuError(err) || err.code !== 'SIFU_ERR_SERVER_PENDING') throw err;
      });
      return reply.redirect(`/hub/spawn/${spawn.owner}?next=${encodeURIComponent(spawn.target)}`, 303);
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
