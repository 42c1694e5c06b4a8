/**
 * What the admin page can do, and how: each action is a call of the hub's own REST API (`app.inject`,
 * with the admin's session cookie and the hub's Origin), so it meets the same checks and writes the same
 * audit events as any client's call. The page adds one `admin.action` event per attempt, naming the admin
 * and the outcome (a refused action leaves no trace in the API's own events).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type ErrorCode, errorCatalogue, SifuError } from '../../errors.js';
import type { HubContext } from '../../web/context.js';
import type { AdminVisit } from './access.js';

export const ADMIN_ACTIONS = ['start', 'stop', 'delete', 'revoke'] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

export interface ActionTarget {
  user: string;
  /** '' for the default server (start, stop). */
  server: string;
  /** The token's id (revoke). */
  tokenId: string;
}

const SERVER_NAME = /^$|^[a-z0-9][a-z0-9_-]{0,63}$/;
const TOKEN_ID = /^[A-Za-z0-9_-]{1,100}$/;

/** A server name as a form sends it: '' for the default; 400 for anything no server can be named. */
export function serverNameOf(raw: unknown): string {
  const value = raw === undefined ? '' : raw;
  if (typeof value !== 'string' || !SERVER_NAME.test(value)) {
    throw new SifuError('SIFU_ERR_INVALID_SERVER_NAME', 'invalid server name');
  }
  return value;
}

export function tokenIdOf(raw: unknown): string {
  if (typeof raw !== 'string' || !TOKEN_ID.test(raw)) {
    throw new SifuError('SIFU_ERR_TOKEN_NOT_FOUND', 'no such token');
  }
  return raw;
}

function serverPath(t: ActionTarget): string {
  const user = encodeURIComponent(t.user);
  return t.server
    ? `/hub/api/users/${user}/servers/${encodeURIComponent(t.server)}`
    : `/hub/api/users/${user}/server`;
}

/** The API call behind each action. */
export function apiCallOf(action: AdminAction, t: ActionTarget): { method: 'POST' | 'DELETE'; url: string } {
  switch (action) {
    case 'start':
      return { method: 'POST', url: serverPath(t) };
    case 'stop':
      return { method: 'DELETE', url: serverPath(t) };
    case 'delete':
      return { method: 'DELETE', url: `/hub/api/users/${encodeURIComponent(t.user)}` };
    case 'revoke':
      return {
        method: 'DELETE',
        url: `/hub/api/users/${encodeURIComponent(t.user)}/tokens/${encodeURIComponent(t.tokenId)}`,
      };
  }
}

/** An API error answer as the SifuError it was (same code and message); a malformed one as internal. */
function errorFromAnswer(status: number, body: string): SifuError {
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
    if (
      typeof parsed.code === 'string' &&
      parsed.code in errorCatalogue &&
      typeof parsed.message === 'string'
    ) {
      return new SifuError(parsed.code as ErrorCode, parsed.message);
    }
  } catch {
    // not JSON: reported below
  }
  return new SifuError('SIFU_ERR_INTERNAL', 'the action failed unexpectedly; it has been logged', {
    logDetail: `API answered ${status}: ${body.slice(0, 500)}`,
  });
}

/**
 * Performs `action` as the signed-in admin through the REST API. Resolves with the API's status (201 or
 * 202 for a start, 204 otherwise); rejects with the API's own error.
 */
export async function performAction(
  app: FastifyInstance,
  ctx: HubContext,
  req: FastifyRequest,
  visit: AdminVisit,
  action: AdminAction,
  target: ActionTarget,
): Promise<number> {
  const call = apiCallOf(action, target);
  const answer = await app.inject({
    method: call.method,
    url: call.url,
    // The admin's own session: the API sees the same caller as the page, and its Origin check passes
    // because the page checked the form's Origin and token first.
    headers: { cookie: req.headers.cookie ?? '', origin: ctx.hubOrigin },
  });
  const ok = answer.statusCode < 400;
  const error = ok ? undefined : errorFromAnswer(answer.statusCode, answer.body);
  await ctx.store.addEvent('admin.action', target.user, {
    action,
    by: visit.identity.userName,
    ...(action === 'start' || action === 'stop' ? { server: target.server } : {}),
    ...(action === 'revoke' ? { token: target.tokenId } : {}),
    status: answer.statusCode,
    ...(error ? { code: error.code } : {}),
  });
  if (error) throw error;
  return answer.statusCode;
}
