import * as oauth from 'oauth4webapi';
import { SifuError } from '../../errors.js';
import { platformError } from './failures.js';
import { httpOptions, type OAuthPlatform, stringOrNull } from './platform.js';
import type { OidcSettings } from './settings.js';

/** Discovered metadata is reused this long; a failed discovery is not cached. */
const DISCOVERY_TTL_MS = 3600_000;

/**
 * The client authentication method: `client_secret_basic` unless the provider lists methods without
 * it (the default when none are listed, per OpenID Connect Discovery), then `client_secret_post`.
 */
export function chooseClientAuth(supported: readonly string[] | undefined): 'basic' | 'post' {
  if (!supported || supported.length === 0 || supported.includes('client_secret_basic')) return 'basic';
  return supported.includes('client_secret_post') ? 'post' : 'basic';
}

/**
 * Any OpenID Connect provider: metadata from `<issuer>/.well-known/openid-configuration`, `openid`
 * scope, a nonce, and an ID token whose claims (issuer, audience, expiry, nonce) oauth4webapi checks.
 * The user is found by the ID token's `iss` and `sub`; the name of a user made at the first sign-in is one
 * claim: from the ID token, or else from the userinfo endpoint.
 */
export function createOidcPlatform(settings: OidcSettings): OAuthPlatform {
  const client: oauth.Client = { client_id: settings.clientId };
  const http = httpOptions(settings.timeoutMs, settings.allowHttp);
  let discovered: { as: oauth.AuthorizationServer; until: number } | null = null;

  return {
    mode: 'oidc',
    client,
    scope: settings.scope,
    usesNonce: true,
    tokenParameters: {},
    recognizedTokenTypes: {},
    http,
    async server() {
      if (discovered && discovered.until > Date.now()) return discovered.as;
      const issuer = new URL(settings.issuer);
      try {
        const response = await oauth.discoveryRequest(issuer, { ...http, algorithm: 'oidc' });
        const as = await oauth.processDiscoveryResponse(issuer, response);
        discovered = { as, until: Date.now() + DISCOVERY_TTL_MS };
        return as;
      } catch (err) {
        throw platformError(err, 'discovery');
      }
    },
    clientAuth(as) {
      return chooseClientAuth(as.token_endpoint_auth_methods_supported) === 'basic'
        ? oauth.ClientSecretBasic(settings.clientSecret)
        : oauth.ClientSecretPost(settings.clientSecret);
    },
    callbackParameters: (params) => params,
    async identify(as, tokens) {
      const claims = oauth.getValidatedIdTokenClaims(tokens);
      if (!claims) throw platformError(new Error('no ID token'), 'token endpoint');
      let profile: Record<string, unknown> = claims;
      if (claims[settings.usernameClaim] === undefined && as.userinfo_endpoint) {
        try {
          const response = await oauth.userInfoRequest(as, client, tokens.access_token, http);
          profile = { ...(await oauth.processUserInfoResponse(as, client, claims.sub, response)), ...claims };
        } catch (err) {
          throw platformError(err, 'userinfo endpoint');
        }
      }
      const username = stringOrNull(profile[settings.usernameClaim]);
      if (!username) {
        throw new SifuError(
          'SIFU_ERR_INVALID_USERNAME',
          'Your account at the sign-in provider has no user name that Sifu can use. Please tell your course team.',
          { logDetail: `claim "${settings.usernameClaim}" is missing from the ID token and userinfo` },
        );
      }
      return {
        issuer: claims.iss,
        subject: claims.sub,
        username,
        email: stringOrNull(profile.email),
        name: stringOrNull(profile.name),
      };
    },
  };
}
