import { ERROR, type Probe, USER } from './model.js';

/** `/`, `/info`, the version header, authentication and `/user` (rest-api.yml paths `/` to `/user`). */
export const IDENTITY_PROBES: Probe[] = [
  {
    id: 'root.version',
    operation: 'GET /',
    method: 'GET',
    path: '/',
    as: 'none',
    expect: { status: 200, json: { fields: { version: 'string' } } },
  },
  {
    id: 'headers.version',
    operation: 'GET /',
    method: 'GET',
    path: '/',
    as: 'none',
    expect: {
      status: 200,
      headers: { 'x-jupyterhub-version': /^\d+\.\d+\.\d+/ },
      check: (res) => {
        const said = (res.json as { version?: string } | undefined)?.version;
        return res.headers.get('x-jupyterhub-version') === said
          ? undefined
          : `the header differs from version ${said}`;
      },
    },
  },
  {
    id: 'headers.json-content-type',
    operation: 'GET /users',
    method: 'GET',
    path: '/users',
    as: 'admin',
    expect: { status: 200, headers: { 'content-type': /^application\/json/ } },
  },
  {
    id: 'info.admin',
    operation: 'GET /info',
    method: 'GET',
    path: '/info',
    as: 'admin',
    expect: {
      status: 200,
      json: {
        fields: {
          version: 'string',
          python: 'string',
          sys_executable: 'string',
          authenticator: { fields: { class: 'string', version: 'string' } },
          spawner: { fields: { class: 'string', version: 'string' } },
        },
      },
    },
  },
  {
    id: 'info.needs-read-hub',
    operation: 'GET /info',
    method: 'GET',
    path: '/info',
    as: 'user',
    expect: { status: 403 },
  },
  {
    id: 'auth.no-token-403',
    operation: 'GET /users',
    method: 'GET',
    path: '/users',
    as: 'none',
    // The version header rides on errors too: clients read it before they authenticate.
    expect: { status: 403, headers: { 'x-jupyterhub-version': /^\d+\.\d+/ }, json: ERROR },
  },
  {
    id: 'auth.bad-token-403',
    operation: 'GET /user',
    method: 'GET',
    path: '/user',
    as: 'bad-token',
    expect: { status: 403, json: ERROR },
  },
  {
    id: 'auth.bearer-scheme',
    operation: 'GET /user',
    method: 'GET',
    path: '/user',
    as: 'none',
    headers: { authorization: 'Bearer {userToken}' },
    expect: { status: 200, json: { fields: { name: { equals: '{user}' } } } },
  },
  {
    id: 'user.self',
    operation: 'GET /user',
    method: 'GET',
    path: '/user',
    as: 'user',
    expect: {
      status: 200,
      json: {
        fields: {
          ...(USER as { fields: object }).fields,
          name: { equals: '{user}' },
          scopes: { arrayOf: 'string' },
        },
      },
    },
  },
  {
    id: 'user.self-scopes',
    operation: 'GET /user',
    method: 'GET',
    path: '/user',
    as: 'user',
    expect: {
      status: 200,
      check(res, ctx) {
        // A token made without scopes holds its owner's: JupyterHub's `self`, expanded and filtered.
        const scopes = (res.json as { scopes?: string[] }).scopes ?? [];
        for (const want of ['read:users', 'servers', 'access:servers', 'tokens', 'users:activity']) {
          const scope = `${want}!user=${ctx.values.user}`;
          if (!scopes.includes(scope)) return `scopes lack ${scope}: ${JSON.stringify(scopes)}`;
        }
        // Reported in JupyterHub's words: a learner's token reaches nothing beyond `!user=<them>`.
        const unfiltered = scopes.filter((s) => !s.includes('!') && s !== '(no_scope)');
        if (unfiltered.length > 0) return `unfiltered scopes: ${JSON.stringify(unfiltered)}`;
        return undefined;
      },
    },
  },
  {
    id: 'user.session-id',
    operation: 'GET /user',
    method: 'GET',
    path: '/user',
    as: 'user',
    expect: { status: 200, json: { fields: { session_id: 'null' } } },
  },
  {
    id: 'user.admin-identity',
    operation: 'GET /user',
    method: 'GET',
    path: '/user',
    as: 'admin',
    expect: {
      status: 200,
      json: { fields: { kind: { oneOf: [{ equals: 'user' }, { equals: 'service' }] }, name: 'string' } },
      check(res) {
        const scopes = (res.json as { scopes?: string[] }).scopes ?? [];
        return ['admin:users', 'admin:servers'].every((s) => scopes.includes(s))
          ? undefined
          : `scopes lack admin:users or admin:servers: ${JSON.stringify(scopes)}`;
      },
    },
  },
  {
    id: 'user.token-id',
    operation: 'GET /user',
    since: '5.x',
    method: 'GET',
    path: '/user',
    as: 'user',
    expect: { status: 200, json: { fields: { token_id: { equals: '{userTokenId}' } } } },
  },
];
