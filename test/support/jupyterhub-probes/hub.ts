import {
  afterwards,
  ERROR,
  GROUP,
  listsNames,
  NEW_TOKEN,
  PAGINATION_ACCEPT,
  type Probe,
  paginated,
  TOKEN,
  userModel,
} from './model.js';

const scopesOf = (json: unknown): string[] =>
  ((json as { scopes?: string[] } | undefined)?.scopes ?? []).slice();

/** Tokens, groups, services, the proxy, the deprecated authorizations, OAuth2, shutdown and shares. */
export const HUB_PROBES: Probe[] = [
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
    body: { scopes: ['read:users!user={user}', 'access:servers!server={user}/'] },
    expect: {
      status: 201,
      json: NEW_TOKEN,
      check: (res, ctx) => {
        const scopes = scopesOf(res.json);
        for (const want of [
          `read:users!user=${ctx.values.user}`,
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
  {
    id: 'groups.create',
    operation: 'POST /groups/{name}',
    method: 'POST',
    path: '/groups/{freshGroup}',
    as: 'admin',
    expect: {
      status: 201,
      json: {
        fields: {
          ...(GROUP as { fields: object }).fields,
          name: { equals: '{freshGroup}' },
          users: { equals: [] },
        },
      },
    },
  },
  {
    id: 'groups.create-with-users',
    operation: 'POST /groups/{name}',
    method: 'POST',
    path: '/groups/{freshGroup}',
    as: 'admin',
    body: { users: ['{user}'] },
    expect: { status: 201, json: { fields: { users: { equals: ['{user}'] } } } },
  },
  {
    id: 'groups.create-exists-409',
    operation: 'POST /groups/{name}',
    method: 'POST',
    path: '/groups/{group}',
    as: 'admin',
    expect: { status: 409 },
  },
  {
    id: 'groups.create-needs-admin-groups',
    operation: 'POST /groups/{name}',
    method: 'POST',
    path: '/groups/{freshGroup}',
    as: 'user',
    expect: { status: 403, check: (_res, ctx) => afterwards(ctx, 'GET', '/groups/{freshGroup}', 404) },
  },
  {
    id: 'groups.list',
    operation: 'GET /groups',
    method: 'GET',
    path: '/groups',
    as: 'admin',
    expect: { status: 200, json: { arrayOf: GROUP }, check: listsNames(['group']) },
  },
  {
    id: 'groups.list-paginated',
    operation: 'GET /groups',
    method: 'GET',
    path: '/groups',
    as: 'admin',
    headers: PAGINATION_ACCEPT,
    expect: { status: 200, json: paginated(GROUP), check: listsNames(['group']) },
  },
  {
    id: 'groups.list-needs-list-groups',
    operation: 'GET /groups',
    method: 'GET',
    path: '/groups',
    as: 'user',
    expect: { status: 403 },
  },
  {
    id: 'groups.get',
    operation: 'GET /groups/{name}',
    method: 'GET',
    path: '/groups/{group}',
    as: 'admin',
    expect: {
      status: 200,
      json: { fields: { ...(GROUP as { fields: object }).fields, name: { equals: '{group}' } } },
    },
  },
  {
    id: 'groups.get-unknown-404',
    operation: 'GET /groups/{name}',
    method: 'GET',
    path: '/groups/{prefix}-nogroup',
    as: 'admin',
    expect: {
      status: 404,
      json: ERROR,
      check: (_res, ctx) => afterwards(ctx, 'GET', '/groups/{group}', 200),
    },
  },
  {
    id: 'groups.add-users',
    operation: 'POST /groups/{name}/users',
    method: 'POST',
    path: '/groups/{group}/users',
    as: 'admin',
    body: { users: ['{user}'] },
    expect: {
      status: 200,
      json: { fields: { ...(GROUP as { fields: object }).fields, users: { equals: ['{user}'] } } },
      async check(_res, ctx) {
        const groups = (await userModel(ctx, ctx.values.user as string))?.groups as string[] | undefined;
        return groups?.includes(ctx.values.group as string)
          ? undefined
          : `user's groups: ${JSON.stringify(groups)}`;
      },
    },
  },
  {
    id: 'groups.add-unknown-user',
    operation: 'POST /groups/{name}/users',
    method: 'POST',
    path: '/groups/{group}/users',
    as: 'admin',
    body: { users: ['{prefix}-nobody'] },
    expect: { status: 400 },
  },
  {
    id: 'groups.remove-users',
    operation: 'DELETE /groups/{name}/users',
    method: 'DELETE',
    path: '/groups/{group}/users',
    as: 'admin',
    setup: ['user-in-group'],
    body: { users: ['{user}'] },
    expect: {
      status: 200,
      async check(_res, ctx) {
        const res = await ctx.request('GET', '/groups/{group}');
        const users = (res.json as { users?: string[] }).users;
        return Array.isArray(users) && !users.includes(ctx.values.user as string)
          ? undefined
          : `users ${JSON.stringify(users)}`;
      },
    },
  },
  {
    id: 'groups.properties',
    operation: 'PUT /groups/{name}/properties',
    since: '3.2',
    method: 'PUT',
    path: '/groups/{group}/properties',
    as: 'admin',
    body: { course: 'probe-101', seats: 30 },
    expect: {
      status: 200,
      json: {
        fields: {
          ...(GROUP as { fields: object }).fields,
          properties: { equals: { course: 'probe-101', seats: 30 } },
        },
      },
    },
  },
  {
    id: 'groups.model-properties',
    operation: 'GET /groups/{name}',
    since: '3.2',
    method: 'GET',
    path: '/groups/{freshGroup}',
    as: 'admin',
    setup: ['fresh-group'],
    expect: { status: 200, json: { fields: { properties: { equals: {} } } } },
  },
  {
    id: 'groups.delete',
    operation: 'DELETE /groups/{name}',
    method: 'DELETE',
    path: '/groups/{freshGroup}',
    as: 'admin',
    setup: ['fresh-group'],
    expect: { status: 204, check: (_res, ctx) => afterwards(ctx, 'GET', '/groups/{freshGroup}', 404) },
  },
  {
    id: 'groups.delete-unknown-404',
    operation: 'DELETE /groups/{name}',
    method: 'DELETE',
    path: '/groups/{prefix}-nogroup',
    as: 'admin',
    setup: ['fresh-group'],
    expect: { status: 404, check: (_res, ctx) => afterwards(ctx, 'DELETE', '/groups/{freshGroup}', 204) },
  },
  {
    id: 'services.list',
    operation: 'GET /services',
    method: 'GET',
    path: '/services',
    as: 'admin',
    // rest-api.yml says an array; JupyterHub (3.0 to 5) answers an object keyed by service name.
    expect: {
      status: 200,
      json: {
        mapOf: { fields: { kind: { equals: 'service' }, name: 'string', roles: { arrayOf: 'string' } } },
      },
    },
  },
  {
    id: 'services.get-needs-read-services',
    operation: 'GET /services/{name}',
    method: 'GET',
    path: '/services/{prefix}-nosvc',
    // An unknown name with the scope is a 500 in JupyterHub (3.0 to the current release): not probed.
    as: 'user',
    expect: { status: 403 },
  },
  {
    id: 'services.no-token-403',
    operation: 'GET /services',
    method: 'GET',
    path: '/services',
    as: 'none',
    expect: { status: 403 },
  },
  {
    id: 'proxy.routes',
    operation: 'GET /proxy',
    method: 'GET',
    path: '/proxy',
    as: 'admin',
    setup: ['server-running'],
    expect: {
      status: 200,
      json: 'object',
      check: (res, ctx) => {
        const keys = Object.keys(res.json as object);
        return keys.some((k) => k.endsWith(`/user/${ctx.values.user}/`))
          ? undefined
          : `no route for /user/${ctx.values.user}/ among ${keys.length}`;
      },
    },
  },
  {
    id: 'proxy.sync',
    operation: 'POST /proxy',
    method: 'POST',
    path: '/proxy',
    as: 'admin',
    expect: { status: 200 },
  },
  {
    id: 'proxy.needs-proxy-scope',
    operation: 'GET /proxy',
    method: 'GET',
    path: '/proxy',
    as: 'user',
    expect: { status: 403 },
  },
  {
    id: 'authorizations.token',
    operation: 'GET /authorizations/token/{token}',
    method: 'GET',
    path: '/authorizations/token/{userToken}',
    as: 'admin',
    expect: { status: 200, json: { fields: { kind: { equals: 'user' }, name: { equals: '{user}' } } } },
  },
  {
    id: 'authorizations.token-unknown-404',
    operation: 'GET /authorizations/token/{token}',
    method: 'GET',
    path: '/authorizations/token/not-a-token-at-all',
    as: 'admin',
    expect: {
      status: 404,
      check: (_res, ctx) => afterwards(ctx, 'GET', '/authorizations/token/{userToken}', 200),
    },
  },
  {
    id: 'oauth2.token-bad-code',
    operation: 'POST /oauth2/token',
    method: 'POST',
    path: '/oauth2/token',
    as: 'none',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=authorization_code&code=nope&client_id=nobody&client_secret=nope&redirect_uri=http%3A%2F%2F127.0.0.1%2F',
    expect: { status: [400, 401], json: { fields: { error: 'string' } } },
  },
  {
    id: 'oauth2.authorize-needs-sign-in',
    operation: 'GET /oauth2/authorize',
    method: 'GET',
    path: '/oauth2/authorize?client_id=jupyterhub-user-{user}&response_type=code&redirect_uri=%2Fuser%2F{user}%2Foauth_callback&state=probe',
    as: 'none',
    // A browser without a session is sent to sign in, and comes back to the same authorize URL.
    expect: { status: 302, headers: { location: /\/hub\/login\?next=.*oauth2.*authorize/ } },
  },
  {
    id: 'shutdown.needs-shutdown-scope',
    operation: 'POST /shutdown',
    method: 'POST',
    path: '/shutdown',
    as: 'user',
    expect: { status: 403 },
  },
  {
    id: 'shares.user-shared',
    operation: 'GET /users/{name}/shared',
    since: '5.x',
    method: 'GET',
    path: '/users/{user}/shared',
    as: 'user',
    expect: { status: 200, json: paginated('object') },
  },
  {
    id: 'shares.owner',
    operation: 'GET /shares/{owner}',
    since: '5.x',
    method: 'GET',
    path: '/shares/{user}',
    as: 'admin',
    expect: { status: 200, json: paginated('object') },
  },
];
