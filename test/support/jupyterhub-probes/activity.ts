import { afterwards, type Probe, userModel } from './model.js';

/** `POST /users/{name}/activity`: what single-user servers and the idle culler rely on. */
export const ACTIVITY_PROBES: Probe[] = [
  {
    id: 'activity.user',
    operation: 'POST /users/{name}/activity',
    method: 'POST',
    path: '/users/{user}/activity',
    as: 'user',
    body: { last_activity: '{now}' },
    expect: {
      status: 200,
      async check(_res, ctx) {
        const seen = (await userModel(ctx, ctx.values.user as string))?.last_activity;
        return typeof seen === 'string' && Date.parse(seen) >= Date.parse(ctx.values.now as string) - 1000
          ? undefined
          : `last_activity ${seen} is before ${ctx.values.now}`;
      },
    },
  },
  {
    id: 'activity.server',
    operation: 'POST /users/{name}/activity',
    method: 'POST',
    path: '/users/{user}/activity',
    as: 'user',
    setup: ['server-running'],
    body: { servers: { '': { last_activity: '{now}' } } },
    expect: {
      status: 200,
      async check(_res, ctx) {
        const seen = (await userModel(ctx, ctx.values.user as string))?.servers?.['']?.last_activity;
        return typeof seen === 'string' && Date.parse(seen) >= Date.parse(ctx.values.now as string) - 1000
          ? undefined
          : `servers[""].last_activity ${seen} is before ${ctx.values.now}`;
      },
    },
  },
  {
    id: 'activity.unknown-server-400',
    operation: 'POST /users/{name}/activity',
    method: 'POST',
    path: '/users/{user}/activity',
    as: 'admin',
    body: { servers: { 'no-such-server': { last_activity: '{now}' } } },
    expect: { status: 400 },
  },
  {
    id: 'activity.bad-timestamp-400',
    operation: 'POST /users/{name}/activity',
    method: 'POST',
    path: '/users/{user}/activity',
    as: 'admin',
    body: { last_activity: 'last tuesday' },
    expect: { status: 400 },
  },
  {
    id: 'activity.empty-400',
    operation: 'POST /users/{name}/activity',
    method: 'POST',
    path: '/users/{user}/activity',
    as: 'admin',
    body: {},
    expect: { status: 400 },
  },
  {
    id: 'activity.unknown-user-404',
    operation: 'POST /users/{name}/activity',
    method: 'POST',
    path: '/users/{prefix}-nobody/activity',
    as: 'admin',
    body: { last_activity: '{now}' },
    expect: {
      status: 404,
      check: (_res, ctx) =>
        afterwards(ctx, 'POST', '/users/{user}/activity', 200, { body: { last_activity: '{now}' } }),
    },
  },
  {
    id: 'activity.other-user',
    operation: 'POST /users/{name}/activity',
    method: 'POST',
    path: '/users/{user}/activity',
    as: 'other',
    body: { last_activity: '{now}' },
    expect: {
      status: 404,
      check: (_res, ctx) =>
        afterwards(ctx, 'POST', '/users/{user}/activity', 200, {
          as: 'user',
          body: { last_activity: '{now}' },
        }),
    },
  },
  {
    id: 'activity.no-token-403',
    operation: 'POST /users/{name}/activity',
    method: 'POST',
    path: '/users/{user}/activity',
    as: 'none',
    body: { last_activity: '{now}' },
    expect: { status: 403 },
  },
];
