import type { SifuConfig } from '../../config/schema.js';
import { SifuError } from '../../errors.js';

/** The callback path registered at the platform: `<hub public origin>/hub/oauth_callback`. */
export const CALLBACK_PATH = '/hub/oauth_callback';

export interface EdxSettings {
  mode: 'edx';
  /** The LMS base URL without a trailing slash; also the expected `iss` of a metadata document. */
  lmsUrl: string;
  authorizeUrl: string;
  tokenUrl: string;
  meUrl: string;
  /** Contains `{username}`. */
  accountsUrl: string;
  clientId: string;
  clientSecret: string;
  tokenType: 'jwt' | 'bearer';
  scope: string;
  timeoutMs: number;
  /** True when some URL is plain http, which `checkUrl` allowed only on a loopback host. */
  allowHttp: boolean;
}

export interface OidcSettings {
  mode: 'oidc';
  issuer: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  usernameClaim: string;
  timeoutMs: number;
  allowHttp: boolean;
}

export type OAuthSettings = EdxSettings | OidcSettings;

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/;

function configError(path: string, problem: string): SifuError {
  return new SifuError('SIFU_ERR_CONFIG', `invalid configuration: \`${path}\` ${problem}`);
}

/**
 * Parses a platform URL: https anywhere, plain http only on a loopback host (a devstack, the tests).
 * Returns whether it is plain http. Never echoes query strings, which might carry credentials.
 */
function checkUrl(path: string, value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError(path, 'must be an absolute http(s) URL');
  }
  if (url.username || url.password) throw configError(path, 'must not contain credentials');
  if (url.protocol === 'https:') return false;
  if (url.protocol === 'http:' && LOOPBACK_HOST.test(url.hostname)) return true;
  throw configError(path, 'must be an https URL (plain http is accepted only on a loopback host)');
}

function required(path: string, value: string | undefined, mode: string): string {
  if (value === undefined || value.trim() === '') {
    throw configError(path, `is required when \`authenticator\` is \`${mode}\``);
  }
  return value.trim();
}

const withoutTrailingSlash = (url: string) => url.replace(/\/+$/, '');

/**
 * The platform sign-in settings, checked at start: required options present, URLs https (or loopback
 * http), endpoint defaults derived from `auth.edx.lmsUrl`. Null for the `dev` authenticator.
 * Throws SIFU_ERR_CONFIG naming the option's path.
 */
export function resolveOAuthSettings(config: SifuConfig): OAuthSettings | null {
  if (config.authenticator === 'edx') {
    const edx = config.auth.edx;
    const lmsUrl = withoutTrailingSlash(required('auth.edx.lmsUrl', edx.lmsUrl, 'edx'));
    const urls = {
      lmsUrl,
      authorizeUrl: edx.authorizeUrl ?? `${lmsUrl}/oauth2/authorize/`,
      tokenUrl: edx.tokenUrl ?? `${lmsUrl}/oauth2/access_token/`,
      meUrl: edx.meUrl ?? `${lmsUrl}/api/user/v1/me`,
      accountsUrl: edx.accountsUrl ?? `${lmsUrl}/api/user/v1/accounts/{username}`,
    };
    const plain = Object.entries(urls).map(([key, value]) => checkUrl(`auth.edx.${key}`, value));
    if (!urls.accountsUrl.includes('{username}')) {
      throw configError('auth.edx.accountsUrl', 'must contain `{username}`');
    }
    return {
      mode: 'edx',
      ...urls,
      clientId: required('auth.edx.clientId', edx.clientId, 'edx'),
      clientSecret: required('auth.edx.clientSecret', edx.clientSecret, 'edx'),
      tokenType: edx.tokenType,
      scope: edx.scope.trim(),
      timeoutMs: edx.timeout * 1000,
      allowHttp: plain.some(Boolean),
    };
  }
  if (config.authenticator === 'oidc') {
    const oidc = config.auth.oidc;
    const issuer = required('auth.oidc.issuer', oidc.issuer, 'oidc');
    const plain = checkUrl('auth.oidc.issuer', issuer);
    const scopes = new Set(oidc.scope.split(/\s+/).filter(Boolean));
    scopes.add('openid');
    return {
      mode: 'oidc',
      issuer,
      clientId: required('auth.oidc.clientId', oidc.clientId, 'oidc'),
      clientSecret: required('auth.oidc.clientSecret', oidc.clientSecret, 'oidc'),
      scope: [...scopes].join(' '),
      usernameClaim: oidc.usernameClaim,
      timeoutMs: oidc.timeout * 1000,
      allowHttp: plain,
    };
  }
  return null;
}
