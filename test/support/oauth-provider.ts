import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
// @ts-expect-error -- oidc-provider 8 ships no type declarations; the few members used are typed below.
import Provider from 'oidc-provider';

/**
 * A REAL OAuth2 / OpenID Connect provider (the `oidc-provider` package) standing in for Open edX's LMS.
 *
 * It serves Open edX's paths (`/oauth2/authorize/`, `/oauth2/access_token/`), requires PKCE (S256),
 * knows two confidential clients (one authenticating like Open edX expects, `client_secret_post`; one
 * with `client_secret_basic` for the generic OIDC mode), and signs in `signInAs` then grants consent on
 * its own, as an LMS application with "Skip authorization" does, or refuses it (`denyConsent`).
 * Beside it, on the same server, `/api/user/v1/me` and `/api/user/v1/accounts/<username>` answer like
 * the LMS's user API, validating the access token against the provider, with `Bearer` or `JWT`.
 *
 * What is NOT Open edX here: when asked `token_type=jwt` the answer says `token_type: "JWT"` as the LMS
 * does, but the token itself stays the provider's opaque token.
 */
export interface StandInAccount {
  /** The LMS username (also the OIDC `sub` and `preferred_username`). */
  username: string;
  email: string;
  name: string;
}

export interface OAuthClientCredentials {
  id: string;
  secret: string;
}

export interface RealOAuthProvider {
  /** The issuer, which is also the LMS base URL (`auth.edx.lmsUrl`). */
  url: string;
  /** Authenticates with client_secret_post, like Open edX's token endpoint. */
  edxClient: OAuthClientCredentials;
  /** Authenticates with client_secret_basic, the OpenID Connect default. */
  oidcClient: OAuthClientCredentials;
  /** The account the next login interaction signs in. */
  signInAs: string;
  /** Refuse consent (the learner clicks "Deny"): the client gets `error=access_denied`. */
  denyConsent: boolean;
  /** One entry per token endpoint request. */
  readonly tokenRequests: Array<{ tokenType: string | undefined; status: number; accessToken?: string }>;
  /** One entry per user API request. */
  readonly apiCalls: Array<{ path: string; scheme: string; status: number }>;
  /** Requests to the OpenID Connect userinfo endpoint. */
  userinfoRequests: number;
  /** Closes the server and every open connection. Idempotent. */
  stop(): Promise<void>;
}

/** The members of oidc-provider's Provider this file uses. */
interface ProviderLike {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options: { mergeWithLastSubmission: boolean },
  ): Promise<void>;
  Grant: new (init: { accountId: string; clientId: string }) => GrantLike;
  AccessToken: { find(value: string): Promise<{ accountId: string; clientId: string } | undefined> };
}
interface KoaContext {
  path: string;
  status: number;
  body: unknown;
  oidc?: { body?: Record<string, unknown> };
}
interface InteractionDetails {
  prompt: { name: string; details: Record<string, unknown> };
  params: Record<string, unknown>;
  session?: { accountId: string };
  grantId?: string;
}
interface GrantLike {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}

export const TOKEN_PATH = '/oauth2/access_token/';
const USERINFO_PATH = '/oauth2/userinfo';

export async function startOAuthProvider(options: {
  redirectUris: string[];
  accounts: StandInAccount[];
}): Promise<RealOAuthProvider> {
  const accounts = new Map(options.accounts.map((a) => [a.username, a]));
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const edxClient = { id: 'sifu-edx', secret: `edx-secret-${randomBytes(16).toString('hex')}` };
  const oidcClient = { id: 'sifu-oidc', secret: `oidc-secret-${randomBytes(16).toString('hex')}` };
  const client = (credentials: OAuthClientCredentials, auth: string) => ({
    client_id: credentials.id,
    client_secret: credentials.secret,
    redirect_uris: options.redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: auth,
  });

  const provider = new Provider(url, {
    clients: [client(edxClient, 'client_secret_post'), client(oidcClient, 'client_secret_basic')],
    routes: {
      authorization: '/oauth2/authorize/',
      token: TOKEN_PATH,
      userinfo: USERINFO_PATH,
      jwks: '/oauth2/jwks.json',
      end_session: '/logout',
    },
    pkce: { methods: ['S256'], required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'stand-in' }] },
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'] },
    async findAccount(_ctx: unknown, id: string) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          preferred_username: account.username,
          name: account.name,
          email: account.email,
        }),
      };
    },
  }) as ProviderLike;

  const state: RealOAuthProvider = {
    url,
    edxClient,
    oidcClient,
    signInAs: options.accounts[0]?.username ?? '',
    denyConsent: false,
    tokenRequests: [],
    apiCalls: [],
    userinfoRequests: 0,
    stop: async () => {},
  };

  // Open edX's token endpoint: `token_type=jwt` gets `token_type: "JWT"` back. Recorded for the tests.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === USERINFO_PATH) state.userinfoRequests += 1;
    if (ctx.path !== TOKEN_PATH) return;
    const tokenType = ctx.oidc?.body?.token_type as string | undefined;
    const body = ctx.body as { access_token?: string; token_type?: string } | undefined;
    if (ctx.status === 200 && body && tokenType?.toLowerCase() === 'jwt') body.token_type = 'JWT';
    state.tokenRequests.push({ tokenType, status: ctx.status, accessToken: body?.access_token });
  });

  async function interaction(req: IncomingMessage, res: ServerResponse) {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'login') {
      const result = { login: { accountId: state.signInAs } };
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    }
    if (state.denyConsent) {
      const result = { error: 'access_denied', error_description: 'the learner denied access' };
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    }
    // "Skip authorization": grant whatever was asked, without a screen.
    const grant = new provider.Grant({
      accountId: details.session?.accountId as string,
      clientId: details.params.client_id as string,
    });
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(resource, scopes.join(' '));
    }
    const grantId = await grant.save();
    return provider.interactionFinished(
      req,
      res,
      { consent: { grantId } },
      { mergeWithLastSubmission: true },
    );
  }

  /** `/api/user/v1/me` and `/api/user/v1/accounts/<username>`, as the LMS answers them. */
  async function userApi(req: IncomingMessage, res: ServerResponse, path: string) {
    const send = (status: number, body: unknown, scheme: string) => {
      state.apiCalls.push({ path, scheme, status });
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const match = /^(Bearer|JWT) (\S+)$/.exec(req.headers.authorization ?? '');
    if (!match) return send(401, { detail: 'Authentication credentials were not provided.' }, 'none');
    const scheme = match[1] as string;
    const token = await provider.AccessToken.find(match[2] as string);
    const account = token ? accounts.get(token.accountId) : undefined;
    if (!account) return send(401, { detail: 'Invalid token.' }, scheme);
    if (path === '/api/user/v1/me') return send(200, { username: account.username }, scheme);
    const wanted = decodeURIComponent(path.slice('/api/user/v1/accounts/'.length));
    if (wanted !== account.username) return send(404, { detail: 'Not found.' }, scheme);
    return send(200, { username: account.username, email: account.email, name: account.name }, scheme);
  }

  const handle = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', url).pathname;
    const fail = (err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    };
    if (path.startsWith('/interaction/')) return void interaction(req, res).catch(fail);
    if (path === '/api/user/v1/me' || path.startsWith('/api/user/v1/accounts/')) {
      return void userApi(req, res, path).catch(fail);
    }
    handle(req, res);
  });

  let stopped: Promise<void> | null = null;
  state.stop = () => {
    stopped ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return stopped;
  };
  return state;
}

/** A TCP server that accepts connections and never answers: a platform that hangs. */
export async function startSilentServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  let stopped: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
      return stopped;
    },
  };
}
