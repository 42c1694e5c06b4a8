import type { FastifyRequest } from 'fastify';
import { allows, type Grants, type ScopeTarget } from '../auth/scopes.js';
import type { Identity } from '../auth/tokens.js';
import { grantsOf, hasScope, mayActOn } from '../auth/tokens.js';
import { SifuError } from '../errors.js';
import type { Scope } from '../store/store.js';
import type { HubContext } from '../web/context.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The caller of a hub request: an API token (`Authorization: token ...`) or the hub session cookie.
 * Cookie-authenticated state changes must come from the hub's own origin (CSRF defence); tokens are
 * not sent by browsers on their own, so they need no such check.
 */
export async function identify(ctx: HubContext, req: FastifyRequest): Promise<Identity | null> {
  const authorization = req.headers.authorization;
  if (authorization) {
    const identity = await ctx.tokens.authenticate(authorization);
    if (!identity) {
      throw new SifuError('SIFU_ERR_UNAUTHENTICATED', 'the API token is invalid or expired');
    }
    return identity;
  }
  const session = await ctx.sessions.hubIdentity(req.headers.cookie);
  if (!session) return null;
  if (!SAFE_METHODS.has(req.method) && req.headers.origin !== ctx.hubOrigin) {
    throw new SifuError('SIFU_ERR_BAD_ORIGIN', 'cross-origin requests with a session cookie are refused');
  }
  return session.identity;
}

export async function requireIdentity(ctx: HubContext, req: FastifyRequest): Promise<Identity> {
  const identity = await identify(ctx, req);
  if (!identity) throw new SifuError('SIFU_ERR_UNAUTHENTICATED', 'authentication required: send a token');
  return identity;
}

export function requireScope(identity: Identity, scope: Scope): void {
  if (!hasScope(identity, scope)) {
    throw new SifuError('SIFU_ERR_MISSING_SCOPE', `this action needs the '${scope}' scope`);
  }
}

/** `scope` on `userName`'s resources: their own with the scope, anyone's with admin. */
export function requireScopeOn(identity: Identity, userName: string, scope: Scope): void {
  if (!mayActOn(identity, userName, scope)) {
    throw new SifuError(
      'SIFU_ERR_MISSING_SCOPE',
      identity.userName === userName
        ? `this action needs the '${scope}' scope`
        : `this action on another user needs the 'admin' scope`,
    );
  }
}

/** Reading a user: themselves, or anyone with read:users. */
export function requireRead(identity: Identity, userName: string): void {
  if (identity.userName === userName || hasScope(identity, 'read:users')) return;
  throw new SifuError('SIFU_ERR_MISSING_SCOPE', "reading another user needs the 'read:users' scope");
}

/** True when any of `grants` is filtered by group: only then must a check know the target's groups. */
function hasGroupFilters(grants: Grants): boolean {
  for (const reach of grants.values()) {
    if (reach !== 'all' && [...reach].some((f) => f.startsWith('group='))) return true;
  }
  return false;
}

/** A user as a scope check's target, with their groups when the caller's filters need them. */
export async function userTarget(
  ctx: HubContext,
  identity: Identity,
  userName: string,
  server?: string,
): Promise<ScopeTarget> {
  const target: ScopeTarget = server === undefined ? { user: userName } : { user: userName, server };
  if (!hasGroupFilters(grantsOf(identity))) return target;
  const groups = await ctx.store.listGroups({ userName });
  return { ...target, userGroups: groups.map((g) => g.name) };
}

/** Whether `identity` holds JupyterHub's scope `base` on `target` (on everything without one). */
export function holds(identity: Identity, base: string, target?: ScopeTarget): boolean {
  return allows(grantsOf(identity), base, target);
}

/**
 * As JupyterHub guards a resource: a caller holding `base` for other resources only (a filtered scope)
 * gets `hidden` (a 404: a learner cannot tell another learner from no one); a caller not holding it at
 * all gets 403 SIFU_ERR_MISSING_SCOPE.
 */
export function requireGrantOrHide(
  identity: Identity,
  base: string,
  target: ScopeTarget,
  hidden: () => SifuError,
): void {
  if (holds(identity, base, target)) return;
  if (grantsOf(identity).has(base)) throw hidden();
  throw new SifuError('SIFU_ERR_MISSING_SCOPE', `this action needs the '${base}' scope`);
}

/** Throws SIFU_ERR_MISSING_SCOPE unless `identity` holds JupyterHub's scope `base` on `target`. */
export function requireGrant(identity: Identity, base: string, target?: ScopeTarget): void {
  if (holds(identity, base, target)) return;
  const on = target?.group ?? target?.user;
  throw new SifuError(
    'SIFU_ERR_MISSING_SCOPE',
    on === undefined
      ? `this action needs the '${base}' scope`
      : `this action needs the '${base}' scope on ${on}`,
  );
}
