import { afterwards, ERROR, type Probe, paginated } from './model.js';

/**
 * Services, the proxy, the deprecated authorizations, OAuth2, shutdown and (5.x) shares. Not probed:
 * `POST /authorizations/token` and `/authorizations/cookie` (gone since JupyterHub 2.0, though rest-api.yml
 * still lists them), `PATCH /proxy` and `POST /shutdown` by an admin (they would end the probed hub), and the
 * 5.x share changes (POST, PATCH and DELETE of `/shares`, `/share-codes`, `/users/{name}/shared/...`).
 */
export const HUB_PROBES: Probe[] = [
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
    id: 'oauth2.token-unknown-client-401',
    operation: 'POST /oauth2/token',
    method: 'POST',
    path: '/oauth2/token',
    as: 'none',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=authorization_code&code=nope&client_id=nobody&client_secret=nope&redirect_uri=http%3A%2F%2F127.0.0.1%2F',
    // An unknown client is invalid_client, a 401 (RFC 6749, 5.2), before the code is looked at.
    expect: { status: 401, json: { fields: { error: { equals: 'invalid_client' } } } },
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
  {
    id: 'shares.server',
    operation: 'GET /shares/{owner}/{server_name}',
    since: '5.x',
    method: 'GET',
    // The default server's name is empty: the path ends with the owner and a slash.
    path: '/shares/{user}/',
    as: 'admin',
    expect: { status: 200, json: paginated('object') },
  },
  {
    id: 'shares.user-shared-server-none-404',
    operation: 'GET /users/{name}/shared/{owner}/{server_name}',
    since: '5.x',
    method: 'GET',
    path: '/users/{user}/shared/{other}/',
    as: 'user',
    expect: {
      status: 404,
      json: ERROR,
      check: (_res, ctx) => afterwards(ctx, 'GET', '/users/{user}/shared', 200, { as: 'user' }),
    },
  },
  {
    id: 'shares.codes-server',
    operation: 'GET /share-codes/{owner}/{server_name}',
    since: '5.x',
    method: 'GET',
    path: '/share-codes/{user}/',
    as: 'admin',
    expect: { status: 200, json: paginated('object') },
  },
  {
    id: 'shares.group-shared',
    operation: 'GET /groups/{name}/shared',
    since: '5.x',
    method: 'GET',
    path: '/groups/{group}/shared',
    as: 'admin',
    expect: { status: 200, json: paginated('object') },
  },
  {
    id: 'shares.codes-owner',
    operation: 'GET /share-codes/{owner}',
    since: '5.x',
    method: 'GET',
    path: '/share-codes/{user}',
    as: 'admin',
    expect: { status: 200, json: paginated('object') },
  },
];
