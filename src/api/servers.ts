import type { FastifyInstance, FastifyReply } from 'fastify';
import { SifuError } from '../errors.js';
import type { SpawnProgress } from '../lifecycle/spawn-progress.js';
import { normalizeUsername } from '../names.js';
import { baseUrlOf } from '../routes.js';
import type { ProgressEvent } from '../spawner/spawner.js';
import type { HubContext } from '../web/context.js';
import { requireIdentity, requireScopeOn } from './identity.js';

/** How long `POST .../server` waits for a start before answering 202 (JupyterHub's slow_spawn_timeout). */
const SLOW_SPAWN_MS = 10_000;

/** `/hub/api/users/<name>/server`: start, stop and watch a user's default server. */
export function registerServerRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { store, manager } = ctx;

  async function existingUser(raw: string) {
    const name = normalizeUsername(raw);
    if (!(await store.getUser(name))) throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${name}`);
    return name;
  }

  app.post<{ Params: { name: string } }>('/hub/api/users/:name/server', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireScopeOn(identity, name, 'servers');
    await existingUser(name);
    const progress = await manager.start(name, '', { exclusive: true });
    await Promise.race([progress.done, new Promise((resolve) => setTimeout(resolve, SLOW_SPAWN_MS).unref())]);
    if (progress.outcome === 'failed' && progress.error) throw progress.error;
    reply.code(progress.outcome === 'ready' ? 201 : 202);
    return null;
  });

  app.delete<{ Params: { name: string } }>('/hub/api/users/:name/server', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireScopeOn(identity, name, 'servers');
    await existingUser(name);
    await manager.stop(
      name,
      '',
      identity.userName === name ? 'requested' : `requested by ${identity.userName}`,
    );
    reply.code(204);
  });

  app.get<{ Params: { name: string } }>('/hub/api/users/:name/server/progress', async (req, reply) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    requireScopeOn(identity, name, 'servers');
    await existingUser(name);
    const progress = manager.progress(name, '');
    if (progress || manager.route(name, '')) {
      streamProgress(reply, progress, name);
      return;
    }
    // Not started here: another replica or worker may be starting it. Follow it through the store.
    if ((await manager.followElsewhere(name, '')) === 'gone') {
      throw new SifuError('SIFU_ERR_SERVER_NOT_FOUND', `${name} has no server starting or running`);
    }
    streamFromStore(
      reply,
      name,
      () => manager.followElsewhere(name, ''),
      ctx.config.spawner.startTimeout * 1000,
    );
  });
}

/** Progress of a start running elsewhere: one waiting event, then ready or failed as the store tells. */
function streamFromStore(
  reply: FastifyReply,
  userName: string,
  follow: () => Promise<'running' | 'pending' | 'gone'>,
  timeoutMs: number,
): void {
  const { res, send } = openEventStream(reply);
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
        url: baseUrlOf(userName, ''),
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

/** Takes the response over for Server-Sent Events; `send` writes one `data:` event. */
function openEventStream(reply: FastifyReply) {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  const send = (data: Record<string, unknown>) => res.write(`data: ${JSON.stringify(data)}\n\n`);
  return { res, send };
}

/** Server-Sent Events as JupyterHub sends them: `data: {progress, message}` ... then `ready` or `failed`. */
function streamProgress(reply: FastifyReply, progress: SpawnProgress | undefined, userName: string): void {
  const { res, send } = openEventStream(reply);
  const finish = (p: SpawnProgress | undefined) => {
    if (!p || p.outcome === 'ready') {
      send({
        progress: 100,
        ready: true,
        message: 'Your notebook server is ready',
        url: baseUrlOf(userName, ''),
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
