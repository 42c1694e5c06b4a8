import type { FastifyRequest } from 'fastify';
import { hashSecret, secretsEqual } from '../../auth/secrets.js';
import type { Identity } from '../../auth/tokens.js';
import { SifuError } from '../../errors.js';
import type { HubContext } from '../../web/context.js';

/** A signed-in admin on the admin page, with the form token of their session. */
export interface AdminVisit {
  identity: Identity;
  /** Goes into every form; a POST without it (or with another session's) is refused. */
  formToken: string;
}

/**
 * The signed-in admin behind the hub cookie; null when nobody is signed in (the caller redirects to
 * sign-in). Signed in without the `admin` scope: 403 SIFU_ERR_MISSING_SCOPE.
 */
export async function adminVisit(ctx: HubContext, req: FastifyRequest): Promise<AdminVisit | null> {
  const session = await ctx.sessions.hubIdentity(req.headers.cookie);
  if (!session) return null;
  if (!session.identity.scopes.has('admin')) {
    throw new SifuError('SIFU_ERR_MISSING_SCOPE', "the admin page needs the 'admin' scope");
  }
  return { identity: session.identity, formToken: formTokenOf(session.hash) };
}

/**
 * Per session, derived from the session's hash (which never leaves the server): another site can neither
 * read nor compute it, and it ends with the session. No state to keep, the same on every replica.
 */
export function formTokenOf(sessionHash: string): string {
  return hashSecret(`sifu-admin-form\n${sessionHash}`);
}

/**
 * A state-changing form post: it must come from the hub's own origin (as the API demands of cookie
 * callers) and carry the session's form token. Either check alone stops a cross-site form; both are kept
 * so that a browser leaving out `Origin` is still covered.
 */
export function checkFormPost(ctx: HubContext, req: FastifyRequest, visit: AdminVisit): void {
  if (req.headers.origin !== ctx.hubOrigin) {
    throw new SifuError('SIFU_ERR_BAD_ORIGIN', 'cross-origin requests with a session cookie are refused');
  }
  const token = (req.body as Record<string, unknown> | undefined)?.token;
  if (typeof token !== 'string' || !secretsEqual(token, visit.formToken)) {
    throw new SifuError(
      'SIFU_ERR_FORBIDDEN',
      'this form has expired or was not made by the admin page; go back, reload it and try again',
    );
  }
}
