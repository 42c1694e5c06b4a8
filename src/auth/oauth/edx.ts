import * as oauth from 'oauth4webapi';
import type { Logger } from 'pino';
import { SifuError } from '../../errors.js';
import { MESSAGES } from './failures.js';
import { getPlatformJson, httpOptions, type OAuthPlatform, stringOrNull } from './platform.js';
import type { EdxSettings } from './settings.js';

/** The `Authorization` header value Open edX's REST APIs expect for this kind of token. */
export function edxAuthorization(tokenType: EdxSettings['tokenType'], accessToken: string): string {
  return `${tokenType === 'jwt' ? 'JWT' : 'Bearer'} ${accessToken}`;
}

/** `{username}` in the accounts URL, replaced by the (path-encoded) user name. */
export function accountUrl(template: string, username: string): string {
  return template.replaceAll('{username}', encodeURIComponent(username));
}

/**
 * Open edX's LMS as an OAuth2 provider (django-oauth-toolkit behind `oauth_dispatch`). It publishes no
 * OAuth metadata that Sifu relies on, so the endpoints come from settings. `token_type=jwt` in the
 * token request makes the LMS answer a JWT access token (`token_type: "JWT"`); the learner is then
 * named by `GET /api/user/v1/me`, and `GET /api/user/v1/accounts/<username>` adds email and name.
 * The identity is `(lmsUrl, "username:<edX username>")`: its first sign-in makes a user named after it.
 */
export function createEdxPlatform(settings: EdxSettings, log: Logger): OAuthPlatform {
  const as: oauth.AuthorizationServer = {
    issuer: settings.lmsUrl,
    authorization_endpoint: settings.authorizeUrl,
    token_endpoint: settings.tokenUrl,
  };
  return {
    mode: 'edx',
    client: { client_id: settings.clientId },
    scope: settings.scope,
    usesNonce: false,
    tokenParameters: settings.tokenType === 'jwt' ? { token_type: 'jwt' } : {},
    recognizedTokenTypes: { jwt: () => {} },
    http: httpOptions(settings.timeoutMs, settings.allowHttp),
    server: async () => as,
    // The LMS's metadata lists client_secret_post as its only client authentication method.
    clientAuth: () => oauth.ClientSecretPost(settings.clientSecret),
    callbackParameters(params) {
      // Sifu talks to exactly one authorization server here, configured by URL, so an `iss` response
      // parameter (RFC 9207, a defence against mixing up several servers) has nothing to protect; and
      // should an LMS send one, its issuer identifier need not be spelled like lmsUrl.
      const copy = new URLSearchParams(params);
      copy.delete('iss');
      return copy;
    },
    async identify(_as, tokens) {
      const authorization = edxAuthorization(settings.tokenType, tokens.access_token);
      const me = await getPlatformJson(settings.meUrl, authorization, settings.timeoutMs, 'me endpoint');
      const username = stringOrNull(me.username);
      if (!username) {
        throw new SifuError('SIFU_ERR_OAUTH_FAILED', MESSAGES.failed, {
          logDetail: 'me endpoint: the answer has no "username"',
        });
      }
      let email: string | null = null;
      let name: string | null = null;
      try {
        const url = accountUrl(settings.accountsUrl, username);
        const account = await getPlatformJson(url, authorization, settings.timeoutMs, 'accounts endpoint');
        email = stringOrNull(account.email);
        name = stringOrNull(account.name);
      } catch (err) {
        // Email and name are a courtesy: the learner signs in without them.
        const detail = err instanceof SifuError ? err.logDetail : String(err);
        log.warn({ user: username, detail }, 'could not read the learner account at the LMS');
      }
      // The LMS's user API names no `sub`: the username is the LMS's key for the learner. Its prefix keeps
      // it apart from the `sub`s of LTI launches from the same LMS (another namespace: anonymous ids).
      return { issuer: settings.lmsUrl, subject: `username:${username}`, username, email, name };
    },
  };
}
