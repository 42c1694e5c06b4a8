import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  accessTokenScopes,
  clientIdOf,
  issueAccessToken,
  issueCode,
  redeemCode,
  requiredAccessScopes,
  type ServerRef,
  serverTokenScopes,
  verifyAccessToken,
} from '../auth/hub-oauth.js';
import { secretsEqual } from '../auth/secrets.js';
import { errorBody, isSifuError, SifuError } from '../errors.js';
import { normalizeUsername } from '../names.js';
import { baseUrlOf, notebookUrl, parseUserPath } from '../routes.js';
import type { HubContext } from '../web/context.js';
import { requireGrantOrHide, requireIdentity, userTarget } from './identity.js';

/**
 * What JupyterHub's single-user servers (`jupyterhub-singleuser`, images built for JupyterHub) ask of
 * their hub (docs/singleuser.md):
 * - on the hub's port, for browsers: the OAuth2 provider, `/hub/api/oauth2/authorize` (and `token`);
 * - on each server's own hub endpoint (`server-hub.ts`, a unix socket in its sandbox), for the server:
 *   `GET /hub/api/user` (its own token, or a learner's access token), `POST /hub/api/users/<u>/activity`,
 *   `POST /hub/api/oauth2/token`. Nothing else answers there: a server's token can do nothing more.
 */

/** One start of a server, as its hub endpoint knows it. */
export interface Endpoint extends ServerRef {
  secret: string;
}

/** The callback URL of a server's OAuth client, exactly as the provider checks it. */
export const oauthCallbackOf = (ctx: HubContext, server: ServerRef): string =>
  notebookUrl(ctx, server.userName, 'oauth_callback', server.serverName);

/**
 * The `JUPYTERHUB_*` environment of a server with a hub endpoint, but for `JUPYTERHUB_API_URL` and
 * `JUPYTERHUB_ACTIVITY_URL`, which the backend sets to where the server reaches the endpoint.
 */
export function serverHubEnv(ctx: HubContext, endpoint: Endpoint): Record<string, string> {
  const scopes = JSON.stringify(requiredAccessScopes(endpoint));
  return {
    JUPYTERHUB_API_TOKEN: endpoint.secret,
    JUPYTERHUB_CLIENT_ID: clientIdOf(endpoint),
    JUPYTERHUB_USER: endpoint.userName,
    JUPYTERHUB_SERVER_NAME: endpoint.serverName,
    JUPYTERHUB_SERVICE_PREFIX: baseUrlOf(endpoint.userName, endpoint.serverName),
    JUPYTERHUB_BASE_URL: '/',
    JUPYTERHUB_HOST: ctx.hubOrigin,
    JUPYTERHUB_OAUTH_CALLBACK_URL: oauthCallbackOf(ctx, endpoint),
    JUPYTERHUB_OAUTH_SCOPES: scopes,
    JUPYTERHUB_OAUTH_ACCESS_SCOPES: scopes,
    JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES: '[]',
  };
}

const TOKEN_HEADER = /^(?:token|bearer)\s+(\S{1,512})\s*$/i;

function tokenOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  return typeof header === 'string' ? TOKEN_HEADER.exec(header)?.[1] : undefined;
}

const refused = (why: string) => new SifuError('SIFU_ERR_TOKEN_REFUSED', why);

/** A timestamp as JupyterHub sends it: ISO 8601 with a time zone. */
const timestamp = z
  .string()
  .max(64)
  .regex(
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$/,
    'must be an ISO 8601 timestamp with a zone',
  )
  .refine((value) => Number.isFinite(Date.parse(value)), 'must be a valid date');

/** JupyterHub's activity body: `{last_activity, servers: {<name>: {last_activity}}}`, either part optional. */
const activityBody = z
  .object({
    last_activity: timestamp.optional(),
    servers: z.record(z.string().max(255), z.object({ last_activity: timestamp })).optional(),
  })
  .refine((body) => body.last_activity !== undefined || Object.keys(body.servers ?? {}).length > 0, {
    message: 'last_activity or servers is required',
  });

/** The token request, form-encoded (what HubOAuth sends) or JSON. */
const tokenRequest = z.object({
  grant_type: z.string().max(64),
  code: z.string().max(512),
  client_id: z.string().max(512),
  client_secret: z.string().max(512).optional(),
  redirect_uri: z.string().max(2000),
});

function parseTokenRequest(body: unknown): z.infer<typeof tokenRequest> {
  const parsed = tokenRequest.safeParse(body);
  if (!parsed.success) {
    throw new SifuError(
      'SIFU_ERR_BAD_REQUEST',
      'invalid_request: grant_type, code, client_id and redirect_uri are required',
    );
  }
  if (parsed.data.grant_type !== 'authorization_code') {
    throw new SifuError(
      'SIFU_ERR_BAD_REQUEST',
      'unsupported_grant_type: only authorization_code is supported',
    );
  }
  return parsed.data;
}

/** RFC 6749's error names for the token endpoint's refusals (5.2), sent beside Sifu's own fields. */
const OAUTH_ERRORS: Partial<Record<string, string>> = {
  SIFU_ERR_OAUTH_INVALID_CLIENT: 'invalid_client',
  SIFU_ERR_TOKEN_REFUSED: 'invalid_client',
  SIFU_ERR_OAUTH_CLIENT: 'invalid_client',
  SIFU_ERR_OAUTH_GRANT: 'invalid_grant',
  SIFU_ERR_BAD_REQUEST: 'invalid_request',
};

/** Runs a token exchange; a refusal is answered as OAuth2 clients read it: `{error, error_description}`. */
async function oauthAnswer(reply: FastifyReply, exchange: () => Promise<unknown>): Promise<unknown> {
  try {
    return await exchange();
  } catch (err) {
    if (!isSifuError(err)) throw err;
    reply.code(err.status).header('cache-control', 'no-store');
    return {
      error: OAUTH_ERRORS[err.code] ?? 'invalid_request',
      error_description: err.message,
      ...errorBody(err),
    };
  }
}

const invalidClient = (why: string) =>
  new SifuError('SIFU_ERR_OAUTH_INVALID_CLIENT', `invalid_client: ${why}`);

function tokenReply(server: ServerRef, secret: string) {
  return {
    access_token: issueAccessToken(server, secret),
    token_type: 'Bearer',
    scope: accessTokenScopes(server).join(' '),
  };
}

/**
 * The routes of every server's own hub endpoint. `endpointOf` tells which server's socket a request came
 * on; the server's row must still hold that start's secret (a stopped server's endpoint answers nothing).
 */
export function registerServerHubRoutes(
  app: FastifyInstance,
  context: () => HubContext,
  endpointOf: (req: FastifyRequest) => Endpoint,
): void {
  /** The endpoint of a server that is still this start, and the kind of token the request holds. */
  async function caller(req: FastifyRequest): Promise<{ endpoint: Endpoint; kind: 'server' | 'access' }> {
    const endpoint = endpointOf(req);
    const token = tokenOf(req);
    if (!token) throw refused('send the server token: Authorization: token <JUPYTERHUB_API_TOKEN>');
    const record = await context().store.getServer(endpoint.userName, endpoint.serverName);
    if (!record || !secretsEqual(record.secret, endpoint.secret)) {
      throw refused('this server is no longer running');
    }
    if (secretsEqual(token, endpoint.secret)) return { endpoint, kind: 'server' };
    if (verifyAccessToken(endpoint, endpoint.secret, token)) return { endpoint, kind: 'access' };
    throw refused("the token is not this server's");
  }

  const version = (_req: FastifyRequest, reply: FastifyReply) => {
    const ctx = context();
    reply.header('x-jupyterhub-version', ctx.version);
    return { version: ctx.version, sifu: true };
  };
  app.get('/hub/api', version);
  app.get('/hub/api/', version);

  app.get('/hub/api/user', async (req, reply) => {
    const { endpoint, kind } = await caller(req);
    const user = await context().store.getUser(endpoint.userName);
    if (!user) throw refused('this server is no longer running');
    reply.header('x-jupyterhub-version', context().version);
    return {
      kind: 'user',
      name: user.name,
      admin: user.admin,
      groups: [],
      session_id: null,
      scopes: kind === 'server' ? serverTokenScopes(endpoint) : accessTokenScopes(endpoint),
    };
  });

  app.post<{ Params: { name: string } }>('/hub/api/users/:name/activity', async (req, reply) => {
    const { endpoint, kind } = await caller(req);
    if (kind !== 'server' || req.params.name !== endpoint.userName) {
      throw new SifuError(
        'SIFU_ERR_MISSING_SCOPE',
        `this token may post activity for ${endpoint.userName} only`,
      );
    }
    const parsed = activityBody.safeParse(req.body ?? {});
    if (!parsed.success) {
      throw new SifuError(
        'SIFU_ERR_BAD_REQUEST',
        `activity: ${parsed.error.issues[0]?.message ?? 'invalid body'}`,
      );
    }
    const servers = parsed.data.servers ?? {};
    const others = Object.keys(servers).filter((name) => name !== endpoint.serverName);
    if (others.length > 0) {
      throw new SifuError('SIFU_ERR_MISSING_SCOPE', "this token may post its own server's activity only");
    }
    // A server cannot claim activity in the future (it would keep itself from the culler for ever).
    const at = (
      latestOf([parsed.data.last_activity, servers[endpoint.serverName]?.last_activity]) as Date
    ).getTime();
    const { manager } = context();
    const route = manager.localRoute(endpoint.userName, endpoint.serverName) as
      | { lastActivity?: number }
      | undefined;
    if (route && (route.lastActivity ?? 0) < at)
      manager.activity(endpoint.userName, endpoint.serverName, new Date(at));
    reply.code(200);
    return {};
  });

  app.post('/hub/api/oauth2/token', async (req, reply) =>
    oauthAnswer(reply, async () => {
      const grant = parseTokenRequest(req.body);
      const endpoint = endpointOf(req);
      // The client first (RFC 6749 5.2): this server's id and secret, then the code.
      if (grant.client_id !== clientIdOf(endpoint)) throw invalidClient("not this server's client id");
      if (grant.client_secret === undefined || !secretsEqual(grant.client_secret, endpoint.secret)) {
        throw invalidClient('wrong client secret');
      }
      const server = await redeemCode(context().store, {
        code: grant.code,
        clientId: grant.client_id,
        redirectUri: grant.redirect_uri,
      });
      return tokenReply(server, endpoint.secret);
    }),
  );

  app.setNotFoundHandler(async (req) => {
    if (req.url.startsWith('/hub/api')) {
      await caller(req);
      throw new SifuError('SIFU_ERR_MISSING_SCOPE', "a server's token can do nothing more on its hub");
    }
    throw new SifuError('SIFU_ERR_NOT_FOUND', 'not found');
  });
}

const authorizeQuery = z.object({
  client_id: z.string().min(1).max(512),
  redirect_uri: z.string().min(1).max(2000),
  response_type: z.string().max(64),
  state: z.string().max(2000).optional(),
});

/**
 * The server a redirect URI belongs to, if it is exactly a server's OAuth callback on its owner's
 * origin and `clientId` is that server's client: else `SIFU_ERR_OAUTH_CLIENT`.
 */
function clientOf(ctx: HubContext, clientId: string, redirectUri: string): ServerRef {
  const bad = () =>
    new SifuError('SIFU_ERR_OAUTH_CLIENT', 'invalid_client: unknown client id or redirect URI', {
      logDetail: `client_id=${clientId.slice(0, 100)} redirect_uri=${redirectUri.slice(0, 200)}`,
    });
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    throw bad();
  }
  const path = parseUserPath(url.pathname);
  if (!path.ok) throw bad();
  const server = { userName: path.userName, serverName: path.serverName };
  if (redirectUri !== oauthCallbackOf(ctx, server) || clientId !== clientIdOf(server)) throw bad();
  return server;
}

/** The latest of an activity body's times, never later than now (else it would keep a server for ever). */
function latestOf(times: (string | undefined)[]): Date | null {
  const parsed = times.filter((value): value is string => value !== undefined).map((v) => Date.parse(v));
  return parsed.length === 0 ? null : new Date(Math.min(Math.max(...parsed), Date.now()));
}

/**
 * The hub's OAuth2 provider for single-user servers, and activity posts from API clients holding
 * `users:activity` (jupyterhub-idle-culler's companions, services), on the hub's port.
 */
export function registerSingleUserRoutes(app: FastifyInstance, ctx: HubContext): void {
  app.post<{ Params: { name: string } }>('/hub/api/users/:name/activity', async (req) => {
    const identity = await requireIdentity(ctx, req);
    const name = normalizeUsername(req.params.name);
    const notFound = () => new SifuError('SIFU_ERR_USER_NOT_FOUND', `no user named ${name}`);
    requireGrantOrHide(identity, 'users:activity', await userTarget(ctx, identity, name), notFound);
    const parsed = activityBody.safeParse(req.body ?? {});
    if (!parsed.success) {
      throw new SifuError(
        'SIFU_ERR_BAD_REQUEST',
        `activity: ${parsed.error.issues[0]?.message ?? 'invalid body'}`,
      );
    }
    const user = await ctx.store.getUser(name);
    if (!user) throw notFound();
    const posted = Object.entries(parsed.data.servers ?? {});
    const records = (await ctx.store.listServers()).filter((s) => s.userName === name);
    // Every server named must exist before anything is recorded: bad input changes nothing.
    for (const [serverName] of posted) {
      if (!records.some((r) => r.name === serverName)) {
        throw new SifuError('SIFU_ERR_BAD_REQUEST', `activity: ${name} has no server named '${serverName}'`);
      }
    }
    for (const [serverName, { last_activity }] of posted) {
      const at = latestOf([last_activity]) as Date;
      const record = records.find((r) => r.name === serverName);
      if (record?.lastActivity && record.lastActivity >= at) continue;
      await ctx.store.touchServer(name, serverName, at);
      ctx.manager.activity(name, serverName, at);
    }
    const userAt = latestOf([parsed.data.last_activity, ...posted.map(([, v]) => v.last_activity)]);
    if (userAt && (!user.lastActivity || user.lastActivity < userAt)) await ctx.store.touchUser(name, userAt);
    return {};
  });

  app.get('/hub/api/oauth2/authorize', async (req, reply) => {
    const parsed = authorizeQuery.safeParse(req.query);
    if (!parsed.success) {
      throw new SifuError(
        'SIFU_ERR_BAD_REQUEST',
        'invalid_request: client_id, redirect_uri and response_type are required',
      );
    }
    const query = parsed.data;
    if (query.response_type !== 'code') {
      throw new SifuError('SIFU_ERR_BAD_REQUEST', 'unsupported_response_type: only code is supported');
    }
    // As JupyterHub: a browser without a session signs in first and comes back here (a local path), and
    // only then is the client checked, so nothing about servers is told to someone not signed in.
    const session = await ctx.sessions.hubIdentity(req.headers.cookie);
    if (!session) {
      return reply.redirect(`/hub/login?next=${encodeURIComponent(req.url)}`, 302);
    }
    const server = clientOf(ctx, query.client_id, query.redirect_uri);
    // A client exists while its server does.
    const record = await ctx.store.getServer(server.userName, server.serverName);
    if (!record) throw new SifuError('SIFU_ERR_OAUTH_CLIENT', 'invalid_client: that server is not running');
    // Only the server's own user is let in (admins enter through the proxy, with proxy.adminAccess).
    if (session.identity.userName !== server.userName) {
      throw new SifuError('SIFU_ERR_FORBIDDEN', "only this server's own user may sign in to it");
    }
    // HEAD asks for nothing: no code is minted.
    if (req.method === 'HEAD') return reply.code(200).send();
    const code = await issueCode(ctx.store, server, query.redirect_uri);
    const target = new URL(query.redirect_uri);
    target.searchParams.set('code', code);
    if (query.state !== undefined) target.searchParams.set('state', query.state);
    return reply.redirect(target.href, 302);
  });

  app.post('/hub/api/oauth2/token', async (req, reply) =>
    oauthAnswer(reply, async () => {
      const grant = parseTokenRequest(req.body);
      // The client first (RFC 6749 5.2): a running server whose client id this is, and its secret.
      const record = (await ctx.store.listServers()).find(
        (s) => clientIdOf({ userName: s.userName, serverName: s.name }) === grant.client_id,
      );
      if (!record) throw invalidClient('no running server has that client id');
      if (grant.client_secret === undefined || !secretsEqual(grant.client_secret, record.secret)) {
        throw invalidClient('wrong client secret');
      }
      const server = await redeemCode(ctx.store, {
        code: grant.code,
        clientId: grant.client_id,
        redirectUri: grant.redirect_uri,
      });
      return tokenReply(server, record.secret);
    }),
  );
}
