import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import * as oauth from 'oauth4webapi';
import type { Logger } from 'pino';
import { hubOrigin } from '../../config/load.js';
import type { SifuConfig } from '../../config/schema.js';
import { isSifuError, SifuError } from '../../errors.js';
import { normalizeUsername } from '../../names.js';
import type { Store } from '../../store/store.js';
import type { HubContext } from '../../web/context.js';
import { userForIdentity } from '../identities.js';
import { secretsEqual } from '../secrets.js';
import { readCookie } from '../sessions.js';
import { completeSignIn, type ExternalLogin } from '../sign-in.js';
import { createEdxPlatform } from './edx.js';
import { authorizationError, platformError, stateError } from './failures.js';
import { createOidcPlatform } from './oidc.js';
import { type PendingLogin, storePendingLogins } from './pending-logins.js';
import type { OAuthPlatform } from './platform.js';
import { CALLBACK_PATH, resolveOAuthSettings } from './settings.js';

/** Binds a pending login to the browser that began it. Holds a random id, nothing else. */
export const LOGIN_COOKIE = 'sifu-oauth-login';
const LOGIN_TTL_SECONDS = 600;

/**
 * The login cookie: HttpOnly, only ever sent to the callback, and SameSite=Lax so that the top-level
 * redirect back from the platform carries it. `value: null` clears it.
 */
export function loginCookie(value: string | null, secure: boolean): string {
  const parts = [
    `${LOGIN_COOKIE}=${value ?? 'deleted'}`,
    `Path=${CALLBACK_PATH}`,
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${value === null ? 0 : LOGIN_TTL_SECONDS}`,
  ];
  if (secure) parts.push('Secure');
  return parts.join('; ');
}

/** The authorization request URL the browser is sent to. */
export function authorizationUrl(
  as: oauth.AuthorizationServer,
  platform: Pick<OAuthPlatform, 'client' | 'scope'>,
  redirectUri: string,
  login: { state: string; codeChallenge: string; nonce: string | null },
): URL {
  const url = new URL(as.authorization_endpoint as string);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', platform.client.client_id);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('scope', platform.scope);
  url.searchParams.set('state', login.state);
  url.searchParams.set('code_challenge', login.codeChallenge);
  url.searchParams.set('code_challenge_method', 'S256');
  if (login.nonce) url.searchParams.set('nonce', login.nonce);
  return url;
}

/** An external login that also owns its callback route (`/hub/oauth_callback`). */
export interface OAuthLogin extends ExternalLogin {
  readonly mode: 'edx' | 'oidc';
  register(app: FastifyInstance, ctx: HubContext): void;
}

function isOAuthLogin(login: ExternalLogin | undefined): login is OAuthLogin {
  return typeof (login as OAuthLogin | undefined)?.register === 'function';
}

/** Called by `createHub` after the page routes: adds the callback when sign-in is at a platform. */
export function registerExternalLoginRoutes(app: FastifyInstance, ctx: HubContext): void {
  if (isOAuthLogin(ctx.externalLogin)) ctx.externalLogin.register(app, ctx);
}

/**
 * Sign-in at Open edX (`edx`) or an OpenID Connect provider (`oidc`): authorization code with PKCE
 * (S256) and `state`, the pending login kept server side for 10 minutes and bound to the browser by
 * a cookie, single use. The user is found (or made, at the identity's first sign-in) only once every step
 * succeeded.
 * Undefined for the `dev` authenticator; throws SIFU_ERR_CONFIG naming the option when one is missing.
 */
export function createExternalLogin(config: SifuConfig, log: Logger, store: Store): OAuthLogin | undefined {
  const settings = resolveOAuthSettings(config);
  if (!settings) return undefined;
  const platformLog = log.child({ component: 'oauth', mode: settings.mode });
  const platform =
    settings.mode === 'edx' ? createEdxPlatform(settings, platformLog) : createOidcPlatform(settings);
  const origin = hubOrigin(config);
  const redirectUri = `${origin}${CALLBACK_PATH}`;
  const secure =
    config.auth.secureCookies === 'always' ||
    (config.auth.secureCookies === 'auto' && origin.startsWith('https:'));
  const logins = storePendingLogins(store, LOGIN_TTL_SECONDS * 1000);

  async function begin(_req: FastifyRequest, reply: FastifyReply, next: string | null) {
    const as = await platform.server();
    const codeVerifier = oauth.generateRandomCodeVerifier();
    const pending: PendingLogin = {
      state: oauth.generateRandomState(),
      codeVerifier,
      nonce: platform.usesNonce ? oauth.generateRandomNonce() : null,
      next,
    };
    const codeChallenge = await oauth.calculatePKCECodeChallenge(codeVerifier);
    const url = authorizationUrl(as, platform, redirectUri, { ...pending, codeChallenge });
    reply.header('set-cookie', loginCookie(await logins.put(pending), secure));
    return reply.redirect(url.href, 302);
  }

  /** Checks the callback against the pending login; returns the parameters to redeem. */
  async function checkCallback(req: FastifyRequest, pending: PendingLogin) {
    const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    const params = new URLSearchParams(query);
    const states = params.getAll('state');
    if (states.length !== 1 || !secretsEqual(states[0] as string, pending.state)) {
      throw stateError(states.length === 0 ? 'no state parameter' : 'the state does not match');
    }
    const as = await platform.server();
    try {
      return {
        as,
        params: oauth.validateAuthResponse(
          as,
          platform.client,
          platform.callbackParameters(params),
          pending.state,
        ),
      };
    } catch (err) {
      if (err instanceof oauth.AuthorizationResponseError) throw authorizationError(err);
      throw platformError(err, 'authorization response');
    }
  }

  async function redeem(as: oauth.AuthorizationServer, params: URLSearchParams, pending: PendingLogin) {
    try {
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        platform.client,
        platform.clientAuth(as),
        params,
        redirectUri,
        pending.codeVerifier,
        { ...platform.http, additionalParameters: platform.tokenParameters },
      );
      return await oauth.processAuthorizationCodeResponse(as, platform.client, response, {
        expectedNonce: pending.nonce ?? oauth.expectNoNonce,
        requireIdToken: platform.usesNonce,
        recognizedTokenTypes: platform.recognizedTokenTypes,
      });
    } catch (err) {
      throw platformError(err, 'token endpoint');
    }
  }

  async function callback(ctx: HubContext, req: FastifyRequest, reply: FastifyReply) {
    // The cookie is spent whatever happens next: a login is redeemed at most once.
    reply.header('set-cookie', loginCookie(null, secure));
    const id = readCookie(req.headers.cookie, LOGIN_COOKIE);
    if (!id) throw stateError('no login cookie');
    const pending = await logins.take(id);
    if (!pending) throw stateError('unknown, expired or already used login');
    const { as, params } = await checkCallback(req, pending);
    const tokens = await redeem(as, params, pending);
    const identity = await platform.identify(as, tokens);
    let wished: string;
    try {
      wished = normalizeUsername(identity.username);
    } catch (err) {
      if (!isSifuError(err)) throw err;
      throw new SifuError(
        'SIFU_ERR_INVALID_USERNAME',
        `Your user name at your learning platform cannot be used in Sifu: ${err.message}.`,
        { logDetail: `platform user name ${JSON.stringify(identity.username.slice(0, 100))} is not valid` },
      );
    }
    // Found by (issuer, subject); the platform's name only names a user made at the first sign-in, and
    // never enters a user linked to another identity, nor one made otherwise (an admin, the API's).
    const userName = await userForIdentity(
      ctx.store,
      { issuer: identity.issuer, subject: identity.subject, claimedName: wished },
      { prefix: platform.mode, via: platform.mode },
    );
    platformLog.info({ user: userName, email: identity.email !== null }, 'signed in at the platform');
    return completeSignIn(ctx, req, reply, userName, pending.next, platform.mode);
  }

  return {
    mode: settings.mode,
    begin,
    register(app, ctx) {
      app.get(CALLBACK_PATH, (req, reply) => callback(ctx, req, reply));
    },
  };
}
