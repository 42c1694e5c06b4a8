import {
  afterwards,
  ERROR,
  events,
  type Probe,
  type ProbeContext,
  type ProbeResponse,
  SERVER,
  userModel,
} from './model.js';

/** The progress stream of a ready server: one event saying so, with the server's URL. */
function saysReady(res: ProbeResponse): string | undefined {
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/event-stream')) return `content-type ${type}`;
  const ready = events(res.text).find((e) => e.ready === true);
  if (!ready) return 'no event with ready: true';
  return typeof ready.url === 'string' ? undefined : 'the ready event has no url';
}

/** After a start: the server (default or `{server}`) becomes ready, and reports `user_options`. */
function startsWithOptions(serverKey: '' | '{server}', userOptions: unknown) {
  return async (_res: ProbeResponse, ctx: ProbeContext): Promise<string | undefined> => {
    const key = serverKey === '' ? '' : (ctx.values.server as string);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const server = (await userModel(ctx, ctx.values.user as string))?.servers?.[key];
      if (server?.ready === true) {
        return JSON.stringify(server.user_options) === JSON.stringify(userOptions)
          ? undefined
          : `user_options ${JSON.stringify(server.user_options)}`;
      }
      if (!server) return `server '${key}' is not in the user model`;
      if (Date.now() > deadline) return `server '${key}' not ready in 60 s`;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
}

/** `/users/{name}/server`, `/users/{name}/servers/{server_name}` and their progress streams. */
export const SERVER_PROBES: Probe[] = [
  {
    id: 'server.start-empty-json-body',
    operation: 'POST /users/{name}/server',
    method: 'POST',
    path: '/users/{user}/server',
    as: 'user',
    setup: ['server-stopped'],
    // JSON content type, no body: what `requests` and many clients send.
    body: '',
    expect: { status: [201, 202], check: startsWithOptions('', {}) },
  },
  {
    id: 'server.start-already-running-400',
    operation: 'POST /users/{name}/server',
    method: 'POST',
    path: '/users/{user}/server',
    as: 'user',
    setup: ['server-running'],
    expect: { status: 400, json: ERROR },
  },
  {
    id: 'server.progress-ready',
    operation: 'GET /users/{name}/server/progress',
    method: 'GET',
    path: '/users/{user}/server/progress',
    as: 'user',
    setup: ['server-running'],
    expect: { status: 200, streamMs: 5_000, check: saysReady },
  },
  {
    id: 'server.progress-html-message',
    operation: 'GET /users/{name}/server/progress',
    method: 'GET',
    path: '/users/{user}/server/progress',
    as: 'user',
    setup: ['server-running'],
    expect: {
      status: 200,
      streamMs: 5_000,
      check: (res) => {
        const ready = events(res.text).find((e) => e.ready === true);
        return typeof ready?.html_message === 'string' &&
          typeof ready.message === 'string' &&
          ready.progress === 100
          ? undefined
          : `ready event ${JSON.stringify(ready)}`;
      },
    },
  },
  {
    id: 'server.progress-unknown-user-404',
    operation: 'GET /users/{name}/server/progress',
    method: 'GET',
    path: '/users/{prefix}-nobody/server/progress',
    as: 'admin',
    expect: {
      status: 404,
      streamMs: 5_000,
      check: (_res, ctx) => afterwards(ctx, 'GET', '/users/{user}/server/progress', 200),
    },
  },
  {
    id: 'server.start-as-other-404',
    operation: 'POST /users/{name}/server',
    method: 'POST',
    path: '/users/{user}/server',
    as: 'other',
    setup: ['server-stopped'],
    expect: {
      status: 404,
      check: async (_res, ctx) =>
        (await userModel(ctx, ctx.values.user as string))?.servers?.[''] ? 'the server started' : undefined,
    },
  },
  {
    id: 'server.start-no-token-403',
    operation: 'POST /users/{name}/server',
    method: 'POST',
    path: '/users/{user}/server',
    as: 'none',
    expect: { status: 403 },
  },
  {
    id: 'server.start-unknown-user-404',
    operation: 'POST /users/{name}/server',
    method: 'POST',
    path: '/users/{prefix}-nobody/server',
    as: 'admin',
    expect: { status: 404 },
  },
  {
    id: 'server.user-options',
    operation: 'POST /users/{name}/server',
    method: 'POST',
    path: '/users/{user}/server',
    as: 'user',
    setup: ['server-stopped'],
    body: { probe_option: 'x', size: 2 },
    expect: { status: [201, 202], check: startsWithOptions('', { probe_option: 'x', size: 2 }) },
  },
  {
    id: 'server.progress-stopped-404',
    operation: 'GET /users/{name}/server/progress',
    method: 'GET',
    path: '/users/{user}/server/progress',
    as: 'user',
    setup: ['server-stopped'],
    // JupyterHub forgets a stopped server's spawner: its progress is a 404 (400 is for a server kept but idle).
    expect: { status: 404, streamMs: 5_000 },
  },
  {
    id: 'server.stop-empty-json-body',
    operation: 'DELETE /users/{name}/server',
    method: 'DELETE',
    path: '/users/{user}/server',
    as: 'user',
    setup: ['server-running'],
    body: '',
    expect: { status: [202, 204] },
  },
  {
    id: 'server.stop-not-running-204',
    operation: 'DELETE /users/{name}/server',
    method: 'DELETE',
    path: '/users/{user}/server',
    as: 'user',
    setup: ['server-stopped'],
    expect: { status: 204 },
  },
  {
    id: 'server.remove-default-400',
    operation: 'DELETE /users/{name}/server',
    method: 'DELETE',
    path: '/users/{user}/server',
    as: 'admin',
    body: { remove: true },
    expect: { status: 400 },
  },
  {
    id: 'server.stop-as-other-404',
    operation: 'DELETE /users/{name}/server',
    method: 'DELETE',
    path: '/users/{user}/server',
    as: 'other',
    setup: ['server-running'],
    expect: {
      status: 404,
      check: async (_res, ctx) =>
        (await userModel(ctx, ctx.values.user as string))?.servers?.['']?.ready === true
          ? undefined
          : 'the server is no longer ready',
    },
  },
  {
    id: 'access.own-token-opens-server',
    operation: 'access:servers (scope)',
    method: 'GET',
    base: 'server',
    // `/api` itself is open in Jupyter; `/api/status` needs the server's authorization.
    path: '/user/{user}/api/status',
    as: 'user',
    setup: ['server-running'],
    // Scripts reach their own server with an API token: `access:servers!user=<them>` lets it through.
    expect: { status: 200, json: { fields: { last_activity: 'date-time', kernels: 'number' } } },
  },
  {
    id: 'access.other-token-refused',
    operation: 'access:servers (scope)',
    method: 'GET',
    base: 'server',
    path: '/user/{user}/api/status',
    as: 'other',
    setup: ['server-running'],
    expect: { status: 403 },
  },
  {
    id: 'named.start',
    operation: 'POST /users/{name}/servers/{server_name}',
    method: 'POST',
    path: '/users/{user}/servers/{server}',
    as: 'user',
    setup: ['server-stopped'],
    body: {},
    expect: { status: [201, 202], check: startsWithOptions('{server}', {}) },
  },
  {
    id: 'named.model',
    operation: 'GET /users/{name}',
    method: 'GET',
    path: '/users/{user}',
    as: 'user',
    setup: ['named-server-running'],
    expect: {
      status: 200,
      json: {
        fields: {
          servers: {
            fields: {
              '{server}': {
                fields: {
                  ...(SERVER as { fields: object }).fields,
                  name: { equals: '{server}' },
                  ready: { equals: true },
                },
              },
            },
          },
        },
      },
      check: (res, ctx) => {
        const url = (res.json as any).servers[ctx.values.server as string].url as string;
        return url.endsWith(`/${ctx.values.user}/${ctx.values.server}/`) ? undefined : `url ${url}`;
      },
    },
  },
  {
    id: 'named.progress-ready',
    operation: 'GET /users/{name}/servers/{server_name}/progress',
    method: 'GET',
    path: '/users/{user}/servers/{server}/progress',
    as: 'user',
    setup: ['named-server-running'],
    expect: { status: 200, streamMs: 5_000, check: saysReady },
  },
  {
    id: 'named.start-as-other-404',
    operation: 'POST /users/{name}/servers/{server_name}',
    method: 'POST',
    path: '/users/{user}/servers/{server}',
    as: 'other',
    setup: ['named-server-running'],
    body: {},
    // As for reading another user: the server of someone else is answered as if it did not exist.
    expect: {
      status: 404,
      check: async (_res, ctx) =>
        (await userModel(ctx, ctx.values.user as string))?.servers?.[ctx.values.server as string]?.ready ===
        true
          ? undefined
          : 'the server is no longer ready',
    },
  },
  {
    id: 'named.stop',
    operation: 'DELETE /users/{name}/servers/{server_name}',
    method: 'DELETE',
    path: '/users/{user}/servers/{server}',
    as: 'user',
    setup: ['named-server-running'],
    expect: { status: [202, 204] },
  },
  {
    id: 'named.stopped-hidden',
    operation: 'GET /users/{name}',
    method: 'GET',
    path: '/users/{user}',
    as: 'admin',
    setup: ['named-server-stopped'],
    expect: {
      status: 200,
      check: (res, ctx) =>
        (res.json as any).servers?.[ctx.values.server as string] === undefined
          ? undefined
          : 'a stopped server is listed without include_stopped_servers',
    },
  },
  {
    id: 'named.include-stopped-servers',
    operation: 'GET /users/{name}',
    method: 'GET',
    path: '/users/{user}?include_stopped_servers',
    as: 'admin',
    setup: ['named-server-stopped'],
    expect: {
      status: 200,
      json: {
        fields: {
          servers: {
            fields: {
              '{server}': {
                fields: { stopped: { equals: true }, ready: { equals: false }, pending: 'null' },
              },
            },
          },
        },
      },
    },
  },
  {
    id: 'named.list-include-stopped-servers',
    operation: 'GET /users',
    method: 'GET',
    path: '/users?include_stopped_servers',
    as: 'admin',
    setup: ['named-server-stopped'],
    expect: {
      status: 200,
      check: (res, ctx) => {
        const me = (res.json as any[]).find((u) => u.name === ctx.values.user);
        return me?.servers?.[ctx.values.server as string]?.stopped === true
          ? undefined
          : `servers ${JSON.stringify(me?.servers)}`;
      },
    },
  },
  {
    id: 'named.remove',
    operation: 'DELETE /users/{name}/servers/{server_name}',
    method: 'DELETE',
    path: '/users/{user}/servers/{server}',
    as: 'user',
    setup: ['named-server-stopped'],
    body: { remove: true },
    expect: {
      status: 204,
      check: async (_res, ctx) =>
        (await userModel(ctx, ctx.values.user as string, true))?.servers?.[ctx.values.server as string] ===
        undefined
          ? undefined
          : 'the removed server is still listed with include_stopped_servers',
    },
  },
  {
    id: 'named.limit-per-user-400',
    operation: 'POST /users/{name}/servers/{server_name}',
    method: 'POST',
    path: '/users/{user}/servers/nb3',
    as: 'user',
    setup: ['named-servers-at-limit'],
    body: {},
    // named_server_limit_per_user counts the named servers a user has, stopped ones included.
    expect: {
      status: 400,
      json: ERROR,
      check: async (_res, ctx) =>
        (await userModel(ctx, ctx.values.user as string, true))?.servers?.nb3 === undefined
          ? undefined
          : 'the server over the limit exists',
    },
  },
  {
    id: 'named.alongside-default',
    operation: 'POST /users/{name}/servers/{server_name}',
    method: 'POST',
    path: '/users/{user}/servers/{server}',
    as: 'user',
    setup: ['server-running'],
    body: {},
    // In JupyterHub a user's named servers run beside their default one, each its own process.
    expect: {
      status: [201, 202],
      async check(res, ctx) {
        const started = await startsWithOptions('{server}', {})(res, ctx);
        if (started) return started;
        const model = await userModel(ctx, ctx.values.user as string);
        return model?.servers?.['']?.ready === true ? undefined : 'the default server is no longer ready';
      },
    },
  },
  {
    id: 'named.unknown-404',
    operation: 'DELETE /users/{name}/servers/{server_name}',
    method: 'DELETE',
    path: '/users/{user}/servers/no-such-server',
    as: 'admin',
    setup: ['named-server-stopped'],
    expect: {
      status: 404,
      check: (_res, ctx) => afterwards(ctx, 'DELETE', '/users/{user}/servers/{server}', 204),
    },
  },
  {
    id: 'named.full-url',
    operation: 'GET /users/{name}',
    since: '5.x',
    method: 'GET',
    path: '/users/{user}',
    as: 'admin',
    setup: ['server-running'],
    expect: {
      status: 200,
      json: {
        fields: {
          servers: {
            fields: {
              '': {
                fields: {
                  full_url: { oneOf: ['string', 'null'] },
                  full_progress_url: { oneOf: ['string', 'null'] },
                },
              },
            },
          },
        },
      },
    },
  },
];
