import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SifuError } from '../errors.js';
import type { SpawnProgress } from '../lifecycle/spawn-progress.js';
import { normalizeUsername } from '../names.js';
import { baseUrlOf, RESERVED_SERVER_NAMES } from '../routes.js';
import type { ProgressEvent } from '../spawner/spawner.js';
import type { HubContext } from '../web/context.js';
import { escapeHtml } from '../web/layout.js';
import { requireGrantOrHide, requireIdentity, userTarget } from './identity.js';
import { parseBody } from './validate.js';

/** How long `POST .../server` waits for a start before answering 202 (JupyterHub's slow_spawn_timeout). */
const SLOW_SPAWN_MS = 10_000;
/** A named server's name: one path segment of `/user/<name>/<server>/`, as the relay's calls check it. */
const SERVER_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** JupyterHub's start body is the `user_options` themselves: any JSON object, or nothing. */
/** `user_options` are kept with the server's row and carried to the host that starts it: bounded. */
const MAX_USER_OPTIONS_BYTES = 64 * 1024;
const userOptionsBody = z
  .record(z.string(), z.unknown())
  .refine((options) => Buffer.byteLength(JSON.stringify(options)) <= MAX_USER_OPTIONS_BYTES, {
    message: `user_options must be at most ${MAX_USER_OPTIONS_BYTES / 1024} KiB of JSON`,
  })
  .optional();
const stopBody = z.object({ remove: z.boolean().optional() }).optional();

type Params = { name: string; server?: string };

/**
 * `/hub/api/users/<name>/server` (the default server) and `/hub/api/users/<name>/servers/<server>`
 * (named servers, with `spawner.allowNamedServers`): start, stop, remove and watch.
 */
export function registerServerRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { store, manager, config } = ctx;

  const userNotFound = (name: string) => new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${name}`);

  /** The user and server a request names, with the caller's right to `scope` on them checked. */
  async function target(req: FastifyRequest<{ Params: Params }>, scope: string) {
    const identity = await requireIdentity(ctx, req);
    const userName = normalizeUsername(req.params.name);
    const serverName = req.params.server === undefined ? '' : serverNameOf(req.params.server);
    requireGrantOrHide(identity, scope, await userTarget(ctx, identity, userName, serverName), () =>
      userNotFound(userName),
    );
    if (!(await store.getUser(userName))) throw userNotFound(userName);
    return { identity, userName, serverName };
  }

  async function start(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    const { userName, serverName } = await target(req, 'servers');
    const userOptions = parseBody(userOptionsBody, req.body) ?? {};
    if (serverName !== '') await admitNamedStart(userName, serverName);
    const progress = await manager.start(userName, serverName, { exclusive: true, userOptions });
    if (serverName !== '') await store.rememberNamedServer(userName, serverName, userOptions);
    await Promise.race([progress.done, new Promise((resolve) => setTimeout(resolve, SLOW_SPAWN_MS).unref())]);
    if (progress.outcome === 'failed' && progress.error) throw progress.error;
    reply.code(progress.outcome === 'ready' ? 201 : 202);
    return null;
  }

  /** Named servers must be on, and the user under the limit of named servers running at once. */
  async function admitNamedStart(userName: string, serverName: string) {
    if (!config.spawner.allowNamedServers) {
      throw new SifuError('SIFU_ERR_NAMED_SERVERS_OFF', 'named servers are not enabled here');
    }
    const limit = config.spawner.namedServerLimitPerUser;
    if (limit === 0) return;
    // As JupyterHub counts them: every named server the user has, stopped ones kept included.
    const names = new Set((await store.listNamedServers(userName)).map((s) => s.name));
    for (const s of await store.listServers())
      if (s.userName === userName && s.name !== '') names.add(s.name);
    names.delete(serverName);
    if (names.size >= limit) {
      throw new SifuError(
        'SIFU_ERR_NAMED_SERVER_LIMIT',
        `${userName} already has the most named servers allowed (${limit}); stop one first`,
      );
    }
  }

  async function stop(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    const { identity, userName, serverName } = await target(req, 'delete:servers');
    const body = parseBody(stopBody, req.body);
    if (body?.remove && serverName === '') {
      throw new SifuError(
        'SIFU_ERR_CANNOT_REMOVE_DEFAULT',
        'the default server cannot be removed, only stopped',
      );
    }
    const known =
      serverName === '' ||
      (await store.getServer(userName, serverName)) !== null ||
      (await store.listNamedServers(userName)).some((s) => s.name === serverName);
    if (!known)
      throw new SifuError('SIFU_ERR_SERVER_NOT_FOUND', `${userName} has no server named ${serverName}`);
    await manager.stop(
      userName,
      serverName,
      identity.userName === userName ? 'requested' : `requested by ${identity.userName}`,
    );
    if (serverName !== '') {
      if (body?.remove) await store.forgetNamedServer(userName, serverName);
      else await store.touchNamedServer(userName, serverName, new Date());
    }
    reply.code(204);
  }

  async function progressOf(req: FastifyRequest<{ Params: Params }>, reply: FastifyReply) {
    const { userName, serverName } = await target(req, 'read:servers');
    const progress = manager.progress(userName, serverName);
    if (progress || manager.route(userName, serverName)) {
      streamProgress(reply, ctx.version, progress, userName, serverName);
      return;
    }
    // Not started here: another replica or worker may be starting it. Follow it through the store.
    if ((await manager.followElsewhere(userName, serverName)) === 'gone') {
      // As JupyterHub: a named server kept while stopped is there but idle (400); a stopped default
      // server, or one never made, is not there at all (404).
      const kept =
        serverName !== '' && (await store.listNamedServers(userName)).some((s) => s.name === serverName);
      if (kept) {
        throw new SifuError('SIFU_ERR_SERVER_NOT_ACTIVE', `${userName}'s server ${serverName} is stopped`);
      }
      throw new SifuError('SIFU_ERR_SERVER_NOT_FOUND', `${userName} has no server starting or running`);
    }
    streamFromStore(
      reply,
      ctx.version,
      userName,
      serverName,
      () => manager.followElsewhere(userName, serverName),
      config.spawner.startTimeout * 1000,
    );
  }

  app.post<{ Params: Params }>('/hub/api/users/:name/server', start);
  app.delete<{ Params: Params }>('/hub/api/users/:name/server', stop);
  app.get<{ Params: Params }>('/hub/api/users/:name/server/progress', progressOf);
  app.post<{ Params: Params }>('/hub/api/users/:name/servers/:server', start);
  app.delete<{ Params: Params }>('/hub/api/users/:name/servers/:server', stop);
  app.get<{ Params: Params }>('/hub/api/users/:name/servers/:server/progress', progressOf);
}

function serverNameOf(raw: string): string {
  if (!SERVER_NAME.test(raw) || RESERVED_SERVER_NAMES.has(raw)) {
    throw new SifuError(
      'SIFU_ERR_INVALID_SERVER_NAME',
      'server names are 1 to 64 characters: a-z, 0-9, "_" or "-", starting with a letter or digit, and not one of Jupyter\'s own paths (api, tree, lab...)',
    );
  }
  return raw;
}

/** Progress of a start running elsewhere: one waiting event, then ready or failed as the store tells. */
function streamFromStore(
  reply: FastifyReply,
  version: string,
  userName: string,
  serverName: string,
  follow: () => Promise<'running' | 'pending' | 'gone'>,
  timeoutMs: number,
): void {
  const { res, send } = openEventStream(reply, version);
  send({ progress: 50, message: 'Your notebook server is starting' });
  const until = Date.now() + timeoutMs;
  const tick = async (): Promise<void> => {
    if (res.destroyed) return;
    const state = await follow().catch(() => 'pending' as const);
    if (state === 'running') {
      send({
        progress: 100,
        ready: true,
        message: 'Your notebook server is ready',
        url: baseUrlOf(userName, serverName),
      });
      res.end();
    } else if (state === 'gone' || Date.now() > until) {
      send({
        progress: 100,
        failed: true,
        message: 'Your notebook server could not be started. Please try again.',
      });
      res.end();
    } else {
      setTimeout(() => void tick(), 250).unref();
    }
  };
  void tick();
}

/**
 * Takes the response over for Server-Sent Events; `send` writes one `data:` event, with JupyterHub's
 * `html_message` (the message, escaped) beside `message`.
 */
function openEventStream(reply: FastifyReply, version: string) {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    'x-jupyterhub-version': version,
    'x-content-type-options': 'nosniff',
  });
  const send = (data: Record<string, unknown>) => {
    const event =
      typeof data.message === 'string' && data.html_message === undefined
        ? { ...data, html_message: escapeHtml(data.message) }
        : data;
    res.write(`data: ${JSON.stringify(event)}\n\n`);
  };
  return { res, send };
}

/** Server-Sent Events as JupyterHub sends them: `data: {progress, message}` ... then `ready` or `failed`. */
function streamProgress(
  reply: FastifyReply,
  version: string,
  progress: SpawnProgress | undefined,
  userName: string,
  serverName: string,
): void {
  const { res, send } = openEventStream(reply, version);
  const finish = (p: SpawnProgress | undefined) => {
    if (!p || p.outcome === 'ready') {
      send({
        progress: 100,
        ready: true,
        message: 'Your notebook server is ready',
        url: baseUrlOf(userName, serverName),
      });
    } else {
      send({
        progress: 100,
        failed: true,
        message: p.error?.message ?? 'the start failed',
        code: p.error?.code,
      });
    }
    res.end();
  };
  if (progress?.outcome !== 'pending') {
    for (const event of progress?.events.slice(0, -1) ?? []) send({ ...event });
    finish(progress);
    return;
  }
  for (const event of progress.events) send({ ...event });
  const unsubscribe = progress.subscribe((event: ProgressEvent) => {
    if (progress.outcome === 'pending') send({ ...event });
  });
  // A comment line now and then keeps intermediaries from closing a quiet stream.
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  res.on('close', () => {
    unsubscribe();
    clearInterval(keepAlive);
  });
  void progress.done.then(() => {
    unsubscribe();
    clearInterval(keepAlive);
    if (!res.writableEnded) finish(progress);
  });
}
