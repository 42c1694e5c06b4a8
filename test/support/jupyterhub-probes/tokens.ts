import { afterwards, NEW_TOKEN, type Probe, TOKEN } from './model.js';

const scopesOf = (json: unknown): string[] =>
  ((json as { scopes?: string[] } | undefined)?.scopes ?? []).slice();

/** `/users/{name}/tokens` and `/users/{name}/tokens/{token_id}`, with scopes in JupyterHub's language. */
export const TOKEN_PROBES: Probe[] = [
  {
    id: 'tokens.list',
    operation: 'GET /users/{name}/tokens',
    method: 'GET',
    path: '/users/{user}/tokens',
    as: 'user',
    expect: {
      status: 200,
      json: { fields: { api_tokens: { arrayOf: TOKEN } } },
      check: (res, ctx) => {
        const ids = (res.json as { api_tokens: Array<{ id: string; token?: string }> }).api_tokens;
        if (ids.some((t) => t.token !== undefined)) return 'a token value is listed';
        return ids.some((t) => t.id === ctx.values.userTokenId)
          ? undefined
          : 'the fixture token is not listed';
      },
    },
  },
  {
    id: 'tokens.list-other-404',
    operation: 'GET /users/{name}/tokens',
    method: 'GET',
    path: '/users/{other}/tokens',
    as: 'user',
    expect: { status: 404 },
  },
  {
    id: 'tokens.create',
    operation: 'POST /users/{name}/tokens',
    method: 'POST',
    path: '/users/{user}/tokens',
    as: 'user',
    body: { note: 'probe note', expires_in: 3600 },
    expect: {
      status: 201,
      json: {
        fields: {
          ...(NEW_TOKEN as { fields: object }).fields,
          user: { equals: '{user}' },
          note: { equals: 'probe note' },
          expires_at: 'date-time',
        },
      },
      check: (res) => {
        const at = Date.parse((res.json as { expires_at: string }).expires_at);
        return Math.abs(at - Date.now() - 3600_000) < 120_000 ? undefined : 'expires_at is not in an hour';
      },
    },
  },
  {
    id: 'tokens.create-empty-json-body',
    operation: 'POST /users/{name}/tokens',
    method: 'POST',
    path: '/users/{user}/tokens',
    as: 'user',
    body: '',
    expect: { status: 201, json: NEW_TOKEN },
  },
  {
    id: 'tokens.create-non-dict-400',
    operation: 'POST /users/{name}/tokens',
    method: 'POST',
    path: '/users/{user}/tokens',
    as: 'user',
    body: '[1, 2]',
    expect: { status: 400 },
  },
  {
    id: 'tokens.create-jupyterhub-scopes',
    operation: 'POST /users/{name}/tokens',
    method: 'POST',
    path: '/users/{user}/tokens',
    as: 'user',
    body: {
      scopes: ['read:users!user={user}', 'read:users:activity!user={user}', 'access:servers!server={user}/'],
    },
    expect: {
      status: 201,
      json: NEW_TOKEN,
      check: (res, ctx) => {
        const scopes = scopesOf(res.json);
        for (const want of [
          `read:users!user=${ctx.values.user}`,
          `read:users:activity!user=${ctx.values.user}`,
          `access:servers!server=${ctx.values.user}/`,
        ]) {
          if (!scopes.includes(want)) return `scopes lack ${want}: ${JSON.stringify(scopes)}`;
        }
        return scopes.some((s) => s.startsWith('servers'))
          ? `more than asked: ${JSON.stringify(scopes)}`
          : undefined;
      },
    },
  },
  {
    id: 'tokens.scopes-enforced',
    operation: 'POST /users/{name}/tokens',
    method: 'POST',
    path: '/users/{user}/tokens',
    as: 'user',
    body: { scopes: ['read:users!user={user}'] },
    expect: {
      status: 201,
      async check(res, ctx) {
        const token = (res.json as { token: string }).token;
        const me = await ctx.request('GET', '/users/{user}', { token });
        if (me.status !== 200) return `reading the user with it: ${me.status}`;
        const start = await ctx.request('POST', '/users/{user}/server', { token, body: {} });
        return start.status === 403 ? undefined : `starting a server with it: ${start.status}, not 403`;
      },
    },
  },
  {
    id: 'tokens.create-roles',
    operation: 'POST /users/{name}/tokens',
    method: 'POST',
    path: '/users/{user}/tokens',
    as: 'user',
    // Deprecated in 3.0 but still sent by 2.x clients: roles resolve to their scopes at once.
    body: { roles: ['user'] },
    expect: {
      status: 201,
      json: { fields: { roles: { equals: [] } } },
      check: (res, ctx) =>
        scopesOf(res.json).includes(`servers!user=${ctx.values.user}`)
          ? undefined
          : `scopes ${JSON.stringify(scopesOf(res.json))}`,
    },
  },
  {
    id: 'tokens.create-beyond-owner-400',
    operation: 'POST /users/{name}/tokens',
    method: 'POST',
    path: '/users/{user}/tokens',
    as: 'user',
    body: { scopes: ['admin:users'] },
    // rest-api.yml lists 403 for a role that does not exist; scopes the owner lacks are a 400 ("Not
    // assigning requested scopes ...") in 3.0 as in the current release.
    expect: { status: 400 },
  },
  {
    id: 'tokens.create-unknown-scope-400',
    operation: 'POST /users/{name}/tokens',
    // JupyterHub 3.0 answers 500 (an unhandled KeyError); the current release answers 400.
    since: '5.x',
    method: 'POST',
    path: '/users/{user}/tokens',
    as: 'user',
    body: { scopes: ['no-such-scope'] },
    expect: { status: 400 },
  },
  {
    id: 'tokens.create-for-other-403',
    operation: 'POST /users/{name}/tokens',
    method: 'POST',
    path: '/users/{other}/tokens',
    as: 'user',
    body: {},
    expect: { status: 403 },
  },
  {
    id: 'tokens.create-no-token-403',
    operation: 'POST /users/{name}/tokens',
    method: 'POST',
    path: '/users/{user}/tokens',
    as: 'none',
    body: {},
    expect: { status: 403 },
  },
  {
    id: 'tokens.create-by-admin',
    operation: 'POST /users/{name}/tokens',
    method: 'POST',
    path: '/users/{user}/tokens',
    as: 'admin',
    body: { scopes: ['access:servers!user={user}'], note: 'for a script' },
    expect: {
      status: 201,
      json: { fields: { ...(NEW_TOKEN as { fields: object }).fields, user: { equals: '{user}' } } },
    },
  },
  {
    id: 'tokens.get',
    operation: 'GET /users/{name}/tokens/{token_id}',
    method: 'GET',
    path: '/users/{user}/tokens/{userTokenId}',
    as: 'user',
    expect: {
      status: 200,
      json: {
        fields: {
          ...(TOKEN as { fields: object }).fields,
          id: { equals: '{userTokenId}' },
          user: { equals: '{user}' },
        },
      },
      check: (res) =>
        (res.json as { token?: string }).token === undefined ? undefined : 'the token value is shown',
    },
  },
  {
    id: 'tokens.get-unknown-404',
    operation: 'GET /users/{name}/tokens/{token_id}',
    method: 'GET',
    path: '/users/{user}/tokens/a99999999',
    as: 'user',
    expect: {
      status: 404,
      check: (_res, ctx) => afterwards(ctx, 'GET', '/users/{user}/tokens/{userTokenId}', 200),
    },
  },
  {
    id: 'tokens.delete',
    operation: 'DELETE /users/{name}/tokens/{token_id}',
    method: 'DELETE',
    path: '/users/{user}/tokens/{freshTokenId}',
    as: 'user',
    setup: ['fresh-token'],
    expect: {
      status: 204,
      check: async (_res, ctx) => {
        const used = await ctx.request('GET', '/user', { token: ctx.values.freshToken });
        return used.status === 403 ? undefined : `the revoked token answered ${used.status}, not 403`;
      },
    },
  },
  {
    id: 'tokens.delete-unknown-404',
    operation: 'DELETE /users/{name}/tokens/{token_id}',
    method: 'DELETE',
    path: '/users/{user}/tokens/a99999999',
    as: 'user',
    setup: ['fresh-token'],
    expect: {
      status: 404,
      check: (_res, ctx) => afterwards(ctx, 'DELETE', '/users/{user}/tokens/{freshTokenId}', 204),
    },
  },
];
