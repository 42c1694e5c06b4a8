import {
  afterwards,
  ERROR,
  listsNames,
  PAGINATION_ACCEPT,
  type Probe,
  paginated,
  SERVER,
  USER,
  userModel,
} from './model.js';

/** `/users` and `/users/{name}`: list with filters and pagination, create, read, modify, delete. */
export const USER_PROBES: Probe[] = [
  {
    id: 'users.list',
    operation: 'GET /users',
    method: 'GET',
    path: '/users',
    as: 'admin',
    expect: { status: 200, json: { arrayOf: USER }, check: listsNames(['user', 'other']) },
  },
  {
    id: 'users.list-needs-list-users',
    operation: 'GET /users',
    method: 'GET',
    path: '/users',
    as: 'user',
    expect: { status: 403 },
  },
  {
    id: 'users.state-bogus-400',
    operation: 'GET /users',
    method: 'GET',
    path: '/users?state=bogus',
    as: 'admin',
    expect: { status: 400, json: ERROR },
  },
  {
    id: 'users.state-ready',
    operation: 'GET /users',
    method: 'GET',
    path: '/users?state=ready',
    as: 'admin',
    setup: ['server-running'],
    expect: { status: 200, json: { arrayOf: USER }, check: listsNames(['user'], ['other']) },
  },
  {
    id: 'users.state-active',
    operation: 'GET /users',
    method: 'GET',
    path: '/users?state=active',
    as: 'admin',
    setup: ['server-running'],
    expect: { status: 200, check: listsNames(['user'], ['other']) },
  },
  {
    id: 'users.state-inactive',
    operation: 'GET /users',
    method: 'GET',
    path: '/users?state=inactive',
    as: 'admin',
    setup: ['server-running'],
    expect: { status: 200, check: listsNames(['other'], ['user']) },
  },
  {
    id: 'users.paginated',
    operation: 'GET /users',
    method: 'GET',
    path: '/users',
    as: 'admin',
    headers: PAGINATION_ACCEPT,
    expect: { status: 200, json: paginated(USER), check: listsNames(['user', 'other']) },
  },
  {
    id: 'users.paginated-limit',
    operation: 'GET /users',
    method: 'GET',
    path: '/users?limit=1',
    as: 'admin',
    headers: PAGINATION_ACCEPT,
    expect: {
      status: 200,
      json: {
        fields: {
          items: { arrayOf: USER },
          _pagination: {
            fields: {
              offset: { equals: 0 },
              limit: { equals: 1 },
              next: { fields: { offset: { equals: 1 } } },
            },
          },
        },
      },
      check: (res) => {
        const { items, _pagination } = res.json as { items: unknown[]; _pagination: { total: number } };
        if (items.length !== 1) return `${items.length} items`;
        return _pagination.total >= 2 ? undefined : `total ${_pagination.total}`;
      },
    },
  },
  {
    id: 'users.paginated-offset',
    operation: 'GET /users',
    method: 'GET',
    path: '/users?offset=1&limit=1',
    as: 'admin',
    headers: PAGINATION_ACCEPT,
    expect: {
      status: 200,
      json: {
        fields: {
          items: { arrayOf: USER },
          _pagination: { fields: { offset: { equals: 1 }, limit: { equals: 1 } } },
        },
      },
      async check(res, ctx) {
        const first = await ctx.request('GET', '/users?limit=1', { headers: PAGINATION_ACCEPT });
        const a = (first.json as { items?: Array<{ name: string }> }).items?.[0]?.name;
        const b = (res.json as { items: Array<{ name: string }> }).items[0]?.name;
        return a !== undefined && a !== b ? undefined : `offset 1 gave ${b}, offset 0 gave ${a}`;
      },
    },
  },
  {
    id: 'users.limit-without-pagination-accept',
    operation: 'GET /users',
    method: 'GET',
    path: '/users?limit=1',
    as: 'admin',
    expect: {
      status: 200,
      json: { arrayOf: USER },
      check: (res) =>
        (res.json as unknown[]).length === 1 ? undefined : `${(res.json as unknown[]).length} users`,
    },
  },
  {
    id: 'users.offset-without-pagination-accept',
    operation: 'GET /users',
    method: 'GET',
    path: '/users?offset=1',
    as: 'admin',
    expect: {
      status: 200,
      json: { arrayOf: USER },
      async check(res, ctx) {
        const all = (await ctx.request('GET', '/users')).json as Array<{ name: string }>;
        const names = (res.json as Array<{ name: string }>).map((u) => u.name);
        const want = all.slice(1).map((u) => u.name);
        return JSON.stringify(names) === JSON.stringify(want)
          ? undefined
          : `got ${names.length} of ${all.length} users`;
      },
    },
  },
  {
    id: 'users.sort-by-name',
    operation: 'GET /users',
    since: '5.x',
    method: 'GET',
    path: '/users?sort=-name',
    as: 'admin',
    expect: {
      status: 200,
      check(res) {
        const names = (res.json as Array<{ name: string }>).map((u) => u.name);
        const sorted = [...names].sort().reverse();
        return JSON.stringify(names) === JSON.stringify(sorted) ? undefined : `order ${names.join(', ')}`;
      },
    },
  },
  {
    id: 'users.sort-bogus-400',
    operation: 'GET /users',
    since: '5.x',
    method: 'GET',
    path: '/users?sort=shoe_size',
    as: 'admin',
    expect: { status: 400, json: ERROR },
  },
  {
    id: 'users.name-filter',
    operation: 'GET /users',
    method: 'GET',
    // Not in rest-api.yml's parameters, but in JupyterHub since 3.0: a case-insensitive substring.
    path: '/users?name_filter=-AD',
    as: 'admin',
    expect: { status: 200, check: listsNames(['user'], ['other']) },
  },
  {
    id: 'users.create-empty-json-body',
    operation: 'POST /users/{name}',
    method: 'POST',
    path: '/users/{fresh}',
    as: 'admin',
    // What `requests.post(url, headers={'Content-Type': 'application/json'})` sends.
    body: '',
    expect: {
      status: 201,
      json: {
        fields: {
          ...(USER as { fields: object }).fields,
          name: { equals: '{fresh}' },
          admin: { equals: false },
        },
      },
    },
  },
  {
    id: 'users.create-no-body',
    operation: 'POST /users/{name}',
    method: 'POST',
    path: '/users/{fresh}',
    as: 'admin',
    expect: { status: 201, json: { fields: { name: { equals: '{fresh}' } } } },
  },
  {
    id: 'users.create-invalid-json-400',
    operation: 'POST /users/{name}',
    method: 'POST',
    path: '/users/{fresh}',
    as: 'admin',
    body: '{"admin": ',
    expect: { status: 400, json: ERROR, check: (_res, ctx) => afterwards(ctx, 'GET', '/users/{fresh}', 404) },
  },
  {
    id: 'users.create-admin',
    operation: 'POST /users/{name}',
    method: 'POST',
    path: '/users/{fresh}',
    as: 'admin',
    body: { admin: true },
    expect: {
      status: 201,
      json: { fields: { name: { equals: '{fresh}' }, admin: { equals: true } } },
      // Roles as JupyterHub reports them: an admin holds the admin role beside the user role.
      check: (res) => {
        const roles = ((res.json as { roles?: string[] }).roles ?? []).slice().sort();
        return JSON.stringify(roles) === '["admin","user"]' ? undefined : `roles ${JSON.stringify(roles)}`;
      },
    },
  },
  {
    id: 'users.create-exists-409',
    operation: 'POST /users/{name}',
    method: 'POST',
    path: '/users/{user}',
    as: 'admin',
    expect: { status: 409, json: ERROR },
  },
  {
    id: 'users.create-needs-admin-users',
    operation: 'POST /users/{name}',
    method: 'POST',
    path: '/users/{fresh}',
    as: 'user',
    expect: { status: 403, check: (_res, ctx) => afterwards(ctx, 'GET', '/users/{fresh}', 404) },
  },
  {
    id: 'users.create-many',
    operation: 'POST /users',
    method: 'POST',
    path: '/users',
    as: 'admin',
    body: { usernames: ['{fresh}-1', '{fresh}-2'] },
    expect: {
      status: 201,
      json: { arrayOf: USER },
      check: (res, ctx) => {
        const names = (res.json as Array<{ name: string }>).map((u) => u.name).sort();
        const want = [`${ctx.values.fresh}-1`, `${ctx.values.fresh}-2`];
        return JSON.stringify(names) === JSON.stringify(want) ? undefined : `created ${names.join(', ')}`;
      },
    },
  },
  {
    id: 'users.create-many-skips-existing',
    operation: 'POST /users',
    method: 'POST',
    path: '/users',
    as: 'admin',
    body: { usernames: ['{user}', '{fresh}'] },
    expect: { status: 201, json: { arrayOf: USER }, check: listsNames(['fresh'], ['user']) },
  },
  {
    id: 'users.create-many-all-exist-409',
    operation: 'POST /users',
    method: 'POST',
    path: '/users',
    as: 'admin',
    body: { usernames: ['{user}', '{other}'] },
    expect: { status: 409 },
  },
  {
    id: 'users.create-many-none-400',
    operation: 'POST /users',
    method: 'POST',
    path: '/users',
    as: 'admin',
    body: { usernames: [] },
    expect: { status: 400 },
  },
  {
    id: 'users.get',
    operation: 'GET /users/{name}',
    method: 'GET',
    path: '/users/{user}',
    as: 'admin',
    expect: {
      status: 200,
      json: {
        fields: {
          ...(USER as { fields: object }).fields,
          name: { equals: '{user}' },
          roles: { equals: ['user'] },
        },
      },
    },
  },
  {
    id: 'users.get-self',
    operation: 'GET /users/{name}',
    method: 'GET',
    path: '/users/{user}',
    as: 'user',
    expect: { status: 200, json: { fields: { name: { equals: '{user}' } } } },
  },
  {
    id: 'users.get-other-404',
    operation: 'GET /users/{name}',
    method: 'GET',
    path: '/users/{other}',
    as: 'user',
    // A learner cannot tell another learner from no one: JupyterHub answers as for a missing user.
    expect: { status: 404 },
  },
  {
    id: 'users.get-unknown-404',
    operation: 'GET /users/{name}',
    method: 'GET',
    path: '/users/{prefix}-nobody',
    as: 'admin',
    expect: { status: 404, json: ERROR },
  },
  {
    id: 'users.model-running-server',
    operation: 'GET /users/{name}',
    method: 'GET',
    path: '/users/{user}',
    as: 'admin',
    setup: ['server-running'],
    expect: {
      status: 200,
      json: {
        fields: {
          server: 'string',
          pending: 'null',
          servers: {
            fields: {
              '': {
                fields: {
                  ...(SERVER as { fields: object }).fields,
                  name: { equals: '' },
                  ready: { equals: true },
                  stopped: { equals: false },
                  started: 'date-time',
                },
              },
            },
          },
        },
      },
    },
  },
  {
    id: 'users.model-no-server',
    operation: 'GET /users/{name}',
    method: 'GET',
    path: '/users/{other}',
    as: 'admin',
    expect: { status: 200, json: { fields: { server: 'null', servers: { equals: {} } } } },
  },
  {
    id: 'users.patch-admin',
    operation: 'PATCH /users/{name}',
    method: 'PATCH',
    path: '/users/{fresh}',
    as: 'admin',
    setup: ['fresh-user'],
    body: { admin: true },
    expect: { status: 200, json: { fields: { name: { equals: '{fresh}' }, admin: { equals: true } } } },
  },
  {
    id: 'users.patch-rename',
    operation: 'PATCH /users/{name}',
    method: 'PATCH',
    path: '/users/{fresh}',
    as: 'admin',
    setup: ['fresh-user'],
    body: { name: '{fresh}-renamed' },
    expect: {
      status: 200,
      json: { fields: { name: { equals: '{fresh}-renamed' } } },
      check: (_res, ctx) => afterwards(ctx, 'GET', '/users/{fresh}', 404),
    },
  },
  {
    id: 'users.patch-rename-taken-400',
    operation: 'PATCH /users/{name}',
    method: 'PATCH',
    path: '/users/{fresh}',
    as: 'admin',
    setup: ['fresh-user'],
    body: { name: '{other}' },
    expect: { status: 400 },
  },
  {
    id: 'users.patch-unknown-404',
    operation: 'PATCH /users/{name}',
    method: 'PATCH',
    path: '/users/{prefix}-nobody',
    as: 'admin',
    body: { admin: true },
    expect: {
      status: 404,
      check: (_res, ctx) => afterwards(ctx, 'PATCH', '/users/{other}', 200, { body: { admin: false } }),
    },
  },
  {
    id: 'users.patch-needs-admin-users',
    operation: 'PATCH /users/{name}',
    method: 'PATCH',
    path: '/users/{user}',
    as: 'user',
    body: { admin: true },
    expect: {
      status: 403,
      check: async (_res, ctx) =>
        (await userModel(ctx, ctx.values.user as string))?.admin === false ? undefined : 'became admin',
    },
  },
  {
    id: 'users.delete',
    operation: 'DELETE /users/{name}',
    method: 'DELETE',
    path: '/users/{fresh}',
    as: 'admin',
    setup: ['fresh-user'],
    expect: { status: 204, check: (_res, ctx) => afterwards(ctx, 'GET', '/users/{fresh}', 404) },
  },
  {
    id: 'users.delete-with-running-server',
    operation: 'DELETE /users/{name}',
    method: 'DELETE',
    path: '/users/{fresh}',
    as: 'admin',
    setup: ['fresh-user-server-running'],
    // The hub stops the server first; the user is gone when the answer comes.
    expect: { status: 204, check: (_res, ctx) => afterwards(ctx, 'GET', '/users/{fresh}', 404) },
  },
  {
    id: 'users.delete-unknown-404',
    operation: 'DELETE /users/{name}',
    method: 'DELETE',
    path: '/users/{prefix}-nobody',
    as: 'admin',
    expect: { status: 404 },
  },
  {
    id: 'users.delete-needs-delete-users',
    operation: 'DELETE /users/{name}',
    method: 'DELETE',
    path: '/users/{other}',
    as: 'user',
    // A learner holds no delete:users at all: 403 (a scope held only for others would hide the user: 404).
    expect: { status: 403, check: (_res, ctx) => afterwards(ctx, 'GET', '/users/{other}', 200) },
  },
];
