import {
  afterwards,
  ERROR,
  GROUP,
  listsNames,
  PAGINATION_ACCEPT,
  type Probe,
  paginated,
  userModel,
} from './model.js';

/** `/groups`, `/groups/{name}`, its users and its properties. */
export const GROUP_PROBES: Probe[] = [
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
];
