import * as oauth from 'oauth4webapi';
import { SifuError } from '../../errors.js';
import { MESSAGES, platformError } from './failures.js';

/** Who signed in at the platform, before Sifu's own name rules are applied. */
export interface PlatformIdentity {
  /** With `subject`, the key the Sifu user is found by (see `userForIdentity`). */
  issuer: string;
  subject: string;
  /** The platform's user name, still to go through `normalizeUsername`: names a new user, selects none. */
  username: string;
  email: string | null;
  name: string | null;
}

/**
 * One way of signing in at a platform with the authorization code flow (+ PKCE, state). The shared
 * flow in `external-login.ts` drives it; a platform says only what differs.
 */
export interface OAuthPlatform {
  readonly mode: 'edx' | 'oidc';
  readonly client: oauth.Client;
  readonly scope: string;
  /** OpenID Connect: send a nonce and require an ID token carrying it. */
  readonly usesNonce: boolean;
  /** Extra body parameters of the token request (Open edX: `token_type=jwt`). */
  readonly tokenParameters: Record<string, string>;
  /** Token types accepted besides `bearer` and `dpop` (Open edX answers `JWT`). */
  readonly recognizedTokenTypes: oauth.RecognizedTokenTypes;
  /** Options of every request to the platform: timeout, and http only where settings allowed it. */
  readonly http: PlatformHttp;
  /**
   * The authorization server's metadata: built from settings (edx) or discovered (oidc, cached).
   * Throws SIFU_ERR_OAUTH_PROVIDER_DOWN / SIFU_ERR_OAUTH_FAILED.
   */
  server(): Promise<oauth.AuthorizationServer>;
  clientAuth(as: oauth.AuthorizationServer): oauth.ClientAuth;
  /** The callback's parameters as `validateAuthResponse` should see them. */
  callbackParameters(params: URLSearchParams): URLSearchParams;
  /** After a successful token exchange: who is this? Throws SifuErrors. */
  identify(as: oauth.AuthorizationServer, tokens: oauth.TokenEndpointResponse): Promise<PlatformIdentity>;
}

export interface PlatformHttp {
  signal: (url: string) => AbortSignal;
  [oauth.allowInsecureRequests]: boolean;
}

export function httpOptions(timeoutMs: number, allowHttp: boolean): PlatformHttp {
  return {
    signal: () => AbortSignal.timeout(timeoutMs),
    // Plain http reaches oauth4webapi only for URLs the settings accepted: loopback hosts.
    [oauth.allowInsecureRequests]: allowHttp,
  };
}

/**
 * GET a JSON object from a platform API with the access token. Redirects are not followed (the token
 * must not travel elsewhere). Failures become SifuErrors naming `what` in the log detail only.
 */
export async function getPlatformJson(
  url: string,
  authorization: string,
  timeoutMs: number,
  what: string,
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { authorization, accept: 'application/json' },
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw platformError(err, what);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    const code = [502, 503, 504].includes(res.status)
      ? 'SIFU_ERR_OAUTH_PROVIDER_DOWN'
      : 'SIFU_ERR_OAUTH_FAILED';
    throw new SifuError(code, code === 'SIFU_ERR_OAUTH_FAILED' ? MESSAGES.failed : MESSAGES.down, {
      logDetail: `${what}: HTTP ${res.status}`,
    });
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    throw platformError(err, what);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new SifuError('SIFU_ERR_OAUTH_FAILED', MESSAGES.failed, {
      logDetail: `${what}: the answer is not a JSON object`,
    });
  }
  return body as Record<string, unknown>;
}

export const stringOrNull = (value: unknown): string | null =>
  typeof value === 'string' && value.length > 0 ? value : null;
