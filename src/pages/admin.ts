import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSifuError, SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import type { ServerRecord } from '../store/store.js';
import type { HubContext } from '../web/context.js';
import { type AdminVisit, adminVisit, checkFormPost } from './admin/access.js';
import {
  type ActionTarget,
  type AdminAction,
  performAction,
  serverNameOf,
  tokenIdOf,
} from './admin/actions.js';
import { actionFailedPage, confirmPage } from './admin/confirm-view.js';
import { eventsPage } from './admin/events-view.js';
import { groupsPage } from './admin/groups-view.js';
import { adminUserUrl } from './admin/parts.js';
import {
  pageOfUsers,
  parseEventsQuery,
  parseMemberQuery,
  parseUsersQuery,
  type ServerView,
} from './admin/query.js';
import { ADMIN_CSP } from './admin/shell.js';
import { systemPage } from './admin/system-view.js';
import { userDetailPage, usersListPage } from './admin/users-view.js';

type NameRequest = FastifyRequest<{ Params: { name: string }; Querystring: Record<string, unknown> }>;
type TokenRequest = FastifyRequest<{ Params: { name: string; id: string } }>;

/** Event types offered in the filter besides those seen lately. */
const COMMON_EVENT_TYPES = [
  'user.signin',
  'server.start',
  'server.stop',
  'server.start_failed',
  'admin.access',
  'admin.action',
  'user.delete',
  'token.create',
  'token.delete',
];

/**
 * `/hub/admin`: the admin page (docs/admin.md). Server-rendered HTML without script; only a signed-in
 * identity with the `admin` scope sees it. Every change it makes is a call of the REST API
 * (`admin/actions.ts`), after the form's Origin and per-session token were checked.
 */
export function registerAdminPages(app: FastifyInstance, ctx: HubContext): void {
  const { store, manager } = ctx;

  const loginRedirect = (req: FastifyRequest) =>
    `/hub/login?next=${encodeURIComponent(req.url.length <= 2000 ? req.url : '/hub/admin')}`;

  /** The admin, or null after sending a signed-out browser to sign in. */
  async function visitOf(req: FastifyRequest, reply: FastifyReply): Promise<AdminVisit | null> {
    const visit = await adminVisit(ctx, req);
    if (!visit) void reply.redirect(loginRedirect(req), req.method === 'GET' ? 302 : 303);
    return visit;
  }

  const html = (reply: FastifyReply, body: string) => reply.type('text/html').send(body);

  const viewOf = (record: ServerRecord): ServerView => ({
    record,
    state: manager.route(record.userName, record.name) || record.status === 'running' ? 'ready' : 'pending',
  });

  async function existingUser(raw: string) {
    const name = normalizeUsername(raw);
    const user = await store.getUser(name);
    if (!user) throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${name}`);
    return user;
  }

  /** Checks the post, performs the action through the API, then shows where it left things. */
  async function act(req: FastifyRequest, reply: FastifyReply, action: AdminAction, target: ActionTarget) {
    const visit = await visitOf(req, reply);
    if (!visit) return reply;
    checkFormPost(ctx, req, visit);
    let status: number;
    try {
      status = await performAction(app, ctx, req, visit, action, target);
    } catch (err) {
      if (!isSifuError(err)) throw err;
      // The API refused or failed: its reason, with the way back to the user (or the list, if gone).
      const back = err.code === 'SIFU_ERR_USER_NOT_FOUND' ? '/hub/admin' : adminUserUrl(target.user);
      return html(reply.code(err.status), actionFailedPage(visit, action, target, err, back));
    }
    const done =
      action === 'start'
        ? status === 201
          ? 'started'
          : 'starting'
        : action === 'stop'
          ? 'stopped'
          : `${action}d`;
    const back = action === 'delete' ? '/hub/admin' : adminUserUrl(target.user);
    return reply.redirect(`${back}?done=${done}`, 303);
  }

  void app.register(async (admin) => {
    // After the hub's own onSend hook: these pages get the stricter policy.
    admin.addHook('onSend', async (_req, reply, payload) => {
      reply.header('content-security-policy', ADMIN_CSP);
      return payload;
    });

    admin.get('/hub/admin/', (_req, reply) => reply.redirect('/hub/admin'));

    admin.get<{ Querystring: Record<string, unknown> }>('/hub/admin', async (req, reply) => {
      const visit = await visitOf(req, reply);
      if (!visit) return reply;
      const query = parseUsersQuery(req.query);
      const [users, servers] = await Promise.all([store.listUsers(), store.listServers()]);
      const byUser = new Map<string, ServerView[]>();
      for (const record of servers) {
        byUser.set(record.userName, [...(byUser.get(record.userName) ?? []), viewOf(record)]);
      }
      const rows = users.map((user) => ({ user, servers: byUser.get(user.name) ?? [] }));
      return html(
        reply,
        usersListPage({ visit, query, result: pageOfUsers(rows, query), done: req.query.done }),
      );
    });

    admin.get('/hub/admin/users/:name', async (req: NameRequest, reply) => {
      const visit = await visitOf(req, reply);
      if (!visit) return reply;
      const user = await existingUser(req.params.name);
      const [servers, tokens, events, groups, named] = await Promise.all([
        store.listServers(),
        store.listTokens(user.name),
        store.listEvents({ userName: user.name, limit: 20 }),
        store.listGroups({ userName: user.name }),
        store.listNamedServers(user.name),
      ]);
      const own = servers.filter((s) => s.userName === user.name);
      return html(
        reply,
        userDetailPage({
          visit,
          user,
          servers: own.map(viewOf),
          stoppedNamed: named.filter((n) => !own.some((s) => s.name === n.name)),
          adminAccess: ctx.config.proxy.adminAccess,
          tokens,
          events,
          groups,
          done: req.query.done,
        }),
      );
    });

    // Confirmation pages: a GET shows the form, changing nothing; its POST acts.
    admin.get('/hub/admin/users/:name/stop', async (req: NameRequest, reply) => {
      const visit = await visitOf(req, reply);
      if (!visit) return reply;
      const user = await existingUser(req.params.name);
      const server = serverNameOf(req.query.server);
      const target = { user: user.name, server, tokenId: '' };
      return html(reply, confirmPage({ visit, action: 'stop', target }));
    });

    admin.get('/hub/admin/users/:name/delete', async (req: NameRequest, reply) => {
      const visit = await visitOf(req, reply);
      if (!visit) return reply;
      const user = await existingUser(req.params.name);
      return html(
        reply,
        confirmPage({ visit, action: 'delete', target: { user: user.name, server: '', tokenId: '' } }),
      );
    });

    admin.get('/hub/admin/users/:name/tokens/:id/revoke', async (req: TokenRequest, reply) => {
      const visit = await visitOf(req, reply);
      if (!visit) return reply;
      const user = await existingUser(req.params.name);
      const id = tokenIdOf(req.params.id);
      const token = (await store.listTokens(user.name)).find((t) => t.id === id);
      if (!token) throw new SifuError('SIFU_ERR_TOKEN_NOT_FOUND', 'no such token');
      const target = { user: user.name, server: '', tokenId: id };
      return html(reply, confirmPage({ visit, action: 'revoke', target, tokenNote: token.note }));
    });

    type PostRequest = FastifyRequest<{
      Params: { name: string };
      Body: Record<string, unknown> | undefined;
    }>;
    for (const action of ['start', 'stop', 'delete'] as const) {
      admin.post(`/hub/admin/users/:name/${action}`, async (req: PostRequest, reply) => {
        const user = normalizeUsername(req.params.name);
        const server = action === 'delete' ? '' : serverNameOf(req.body?.server);
        return act(req, reply, action, { user, server, tokenId: '' });
      });
    }

    admin.post('/hub/admin/users/:name/tokens/:id/revoke', async (req: TokenRequest, reply) => {
      const user = normalizeUsername(req.params.name);
      return act(req, reply, 'revoke', { user, server: '', tokenId: tokenIdOf(req.params.id) });
    });

    admin.get<{ Querystring: Record<string, unknown> }>('/hub/admin/events', async (req, reply) => {
      const visit = await visitOf(req, reply);
      if (!visit) return reply;
      const query = parseEventsQuery(req.query);
      const [events, recent] = await Promise.all([
        store.listEvents({
          limit: query.limit,
          ...(query.before ? { beforeId: query.before } : {}),
          ...(query.type ? { type: query.type } : {}),
          ...(query.user ? { userName: query.user } : {}),
        }),
        store.listEvents({ limit: 500 }),
      ]);
      const knownTypes = [...new Set([...COMMON_EVENT_TYPES, ...recent.map((e) => e.type)])].sort();
      return html(reply, eventsPage({ visit, query, events, knownTypes }));
    });

    admin.get<{ Querystring: Record<string, unknown> }>('/hub/admin/groups', async (req, reply) => {
      const visit = await visitOf(req, reply);
      if (!visit) return reply;
      const member = parseMemberQuery(req.query);
      const groups = await store.listGroups(member ? { userName: member } : {});
      return html(reply, groupsPage(visit, groups, member));
    });

    admin.get('/hub/admin/system', async (req, reply) => {
      const visit = await visitOf(req, reply);
      if (!visit) return reply;
      const routedHere = manager.localRoutes().length;
      return html(
        reply,
        systemPage(visit, {
          backend: ctx.config.spawner.backend,
          configuredPoolSize: ctx.config.spawner.pool.size,
          pool: manager.warmPool(),
          queue: manager.startQueue(),
          routedHere,
          startingHere: Math.max(0, manager.localCount() - routedHere),
          hosts: await store.listHosts(),
        }),
      );
    });
  });
}
