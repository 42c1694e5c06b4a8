import { createHmac } from 'node:crypto';
import { SifuError } from '../errors.js';
import type { Store } from '../store/store.js';
import { hashSecret, isSecretShaped, newSecret, secretsEqual } from './secrets.js';

/**
 * What a JupyterHub single-user server is given by its hub (docs/singleuser.md): the powers of its own
 * token, and the OAuth2 provider that signs its learner in. Each server is an OAuth client of its own;
 * its client secret is its own token (as in JupyterHub).
 *
 * A server's token and the access tokens it gets are valid only on that server's own hub endpoint
 * (src/api/server-hub.ts), never at the hub's port: on Sifu's API they are unknown tokens, so they pass
 * no scope check there. What they may do is listed here, in JupyterHub's scope language.
 */

/** A server, as the hub endpoint and the OAuth provider name it. */
export interface ServerRef {
  userName: string;
  serverName: string;
}

/** The server's OAuth client id, `jupyterhub-user-<name>` as JupyterHub names it (plus `-<server>`). */
export function clientIdOf(server: ServerRef): string {
  return `jupyterhub-user-${server.userName}${server.serverName ? `-${server.serverName}` : ''}`;
}

/** JupyterHub's `access:servers` filter for one server: `<user>/<server>` (`ada/` for the default). */
export const serverFilter = (server: ServerRef): string => `${server.userName}/${server.serverName}`;

/**
 * The scopes of a server's own token, as JupyterHub's `server` role has them for that server: post its
 * activity, enter itself, read its user's name. Nothing else: no other user, no start or stop, no tokens.
 */
export function serverTokenScopes(server: ServerRef): string[] {
  return [
    `access:servers!server=${serverFilter(server)}`,
    `users:activity!user=${server.userName}`,
    `read:users:name!user=${server.userName}`,
  ];
}

/** What a browser signed in through a server's OAuth client holds: entry into that server, its name. */
export function accessTokenScopes(server: ServerRef): string[] {
  return [`access:servers!server=${serverFilter(server)}`, `read:users:name!user=${server.userName}`];
}

/** The `JUPYTERHUB_OAUTH_ACCESS_SCOPES` a server requires of its visitors. */
export function requiredAccessScopes(server: ServerRef): string[] {
  return [`access:servers!server=${serverFilter(server)}`, `access:servers!user=${server.userName}`];
}

export const CODE_KIND = 'hub-oauth-code';
/** An authorization code lives this long and is taken once (a one-time ticket in the store). */
export const CODE_TTL_MS = 60_000;
/** How long an access token a server got for its learner stays valid (its cookie can last no longer). */
export const ACCESS_TOKEN_TTL_MS = 8 * 3600_000;
const ACCESS_PREFIX = 'sifu-oa';

/** Mints a single-use authorization code for `server`'s client, bound to its exact redirect URI. */
export async function issueCode(
  store: Pick<Store, 'createTicket'>,
  server: ServerRef,
  redirectUri: string,
  now = Date.now(),
): Promise<string> {
  const code = newSecret();
  await store.createTicket(hashSecret(code), {
    kind: CODE_KIND,
    userName: server.userName,
    data: { serverName: server.serverName, clientId: clientIdOf(server), redirectUri },
    expiresAt: new Date(now + CODE_TTL_MS),
  });
  return code;
}

/**
 * Takes a code (once: it is used up whatever follows) and returns the server it was issued for; throws
 * `SIFU_ERR_OAUTH_GRANT` when it is unknown, used, expired, or was issued to another client or redirect
 * URI. The caller then checks the client's secret against that server's.
 */
export async function redeemCode(
  store: Pick<Store, 'consumeTicket'>,
  grant: { code: unknown; clientId: unknown; redirectUri: unknown },
  now = Date.now(),
): Promise<ServerRef> {
  const refused = () =>
    new SifuError('SIFU_ERR_OAUTH_GRANT', 'invalid_grant: the code is unknown, used or expired');
  if (!isSecretShaped(grant.code)) throw refused();
  const ticket = await store.consumeTicket(hashSecret(grant.code), CODE_KIND, new Date(now));
  if (!ticket || ticket.userName === null) throw refused();
  const data = ticket.data as { serverName?: unknown; clientId?: unknown; redirectUri?: unknown };
  if (
    typeof data.serverName !== 'string' ||
    data.clientId !== grant.clientId ||
    typeof grant.redirectUri !== 'string' ||
    data.redirectUri !== grant.redirectUri
  ) {
    throw refused();
  }
  const server = { userName: ticket.userName, serverName: data.serverName };
  if (clientIdOf(server) !== grant.clientId) throw refused();
  return server;
}

/** The key access tokens of one start of a server are signed with: derived from its secret. */
function accessKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('sifu hub-oauth access token v1').digest();
}

function signature(secret: string, payload: string): string {
  return createHmac('sha256', accessKey(secret)).update(payload).digest('base64url');
}

/**
 * An access token for `server`'s learner, valid until `ttlMs` from now and only for this start of the
 * server: it is signed with a key derived from the server's secret, which the next start replaces, so
 * nothing needs storing and a stopped server's tokens die with it. It reveals nothing of the secret.
 */
export function issueAccessToken(
  server: ServerRef,
  secret: string,
  now = Date.now(),
  ttlMs = ACCESS_TOKEN_TTL_MS,
): string {
  const payload = Buffer.from(
    JSON.stringify({
      u: server.userName,
      s: server.serverName,
      exp: now + ttlMs,
      n: newSecret().slice(0, 8),
    }),
  ).toString('base64url');
  return `${ACCESS_PREFIX}.${payload}.${signature(secret, payload)}`;
}

/** Whether `token` is a live access token of this start of `server`. */
export function verifyAccessToken(
  server: ServerRef,
  secret: string,
  token: string,
  now = Date.now(),
): boolean {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== ACCESS_PREFIX) return false;
  const [, payload, mac] = parts as [string, string, string];
  if (payload.length > 400 || !secretsEqual(mac, signature(secret, payload))) return false;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    return (
      claims.u === server.userName &&
      claims.s === server.serverName &&
      typeof claims.exp === 'number' &&
      claims.exp > now
    );
  } catch {
    return false;
  }
}
