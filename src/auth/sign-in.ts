import type { FastifyReply, FastifyRequest } from 'fastify';
import { type NotebookOrigins, notebookUrlOwner } from '../routes.js';
import type { Store } from '../store/store.js';
import { isSecretShaped } from './secrets.js';
import { HANDOFF_PATH, type SessionService } from './sessions.js';

/** What the end of a sign-in needs; the hub's context provides it. */
export interface SignInServices {
  store: Pick<Store, 'ensureUser'>;
  sessions: Pick<SessionService, 'signIn' | 'mintHandoff'>;
  notebookOrigin: string;
  userOrigins: boolean;
}

/** An authenticator whose sign-in happens elsewhere (OAuth2 / OpenID Connect). */
export interface ExternalLogin {
  /** Sends the browser to the platform; `next` (already checked by `safeNext`) is where to land after. */
  begin(req: FastifyRequest, reply: FastifyReply, next: string | null): Promise<FastifyReply> | FastifyReply;
}

/**
 * Where a `next` parameter may send the browser: a hub path, or a notebook URL under `/user/<name>/`
 * on `<name>`'s own origin (see `notebookUrlOwner`). Anything else (other hosts, `//host`,
 * `javascript:`, bob's path on alice's origin) falls back to the home page: no open redirects.
 */
export function safeNext(ctx: NotebookOrigins, next: unknown): string | null {
  if (typeof next !== 'string' || next.length === 0 || next.length > 2000) return null;
  if (/^\/hub\/[^/\\]/.test(next) && !next.includes('..')) return next;
  try {
    const url = new URL(next);
    if (!url.pathname.includes('..') && notebookUrlOwner(ctx, url) !== null) return url.href;
  } catch {
    // not a URL
  }
  return null;
}

/** The user whose notebook URL `next` is (on that user's own origin), if it is one. */
export function notebookOwner(ctx: NotebookOrigins, next: string): string | null {
  try {
    return notebookUrlOwner(ctx, new URL(next));
  } catch {
    return null;
  }
}

/** A handoff binding as the notebook origin mints it (see `SessionService.beginHandoff`). */
export function safeBinding(value: unknown): string | null {
  return isSecretShaped(value) ? value : null;
}

/**
 * Sends a signed-in browser on. A notebook URL needs a notebook-origin session: with the binding the
 * notebook origin gave this browser, a one-time code bound to it is handed over; without one, the
 * browser goes to the notebook URL, whose origin starts a bound handoff (one more round trip, once).
 */
export async function proceedTo(
  ctx: SignInServices,
  reply: FastifyReply,
  hubHash: string,
  userName: string,
  next: string | null,
  binding: string | null = null,
) {
  // With nowhere else to go, a learner goes to their notebook (started if needed), as in JupyterHub.
  const target = next ?? `/hub/spawn/${userName}`;
  if (target.startsWith('/hub/')) return reply.redirect(target, 303);
  if (!binding) return reply.redirect(target, 303);
  // `target` passed `safeNext`: a notebook URL on its owner's origin, where the code is then spent.
  const url = new URL(target);
  const code = await ctx.sessions.mintHandoff(hubHash, userName, binding, url.origin);
  const handoff = `${url.origin}${HANDOFF_PATH}?code=${code}&next=${encodeURIComponent(url.pathname + url.search)}`;
  return reply.redirect(handoff, 303);
}

/**
 * The end of every sign-in, whatever the authenticator: the user exists, a fresh session is set (the
 * old one ends), and the browser goes on to `next` — home instead when `next` is someone else's notebook.
 */
export async function completeSignIn(
  ctx: SignInServices,
  req: FastifyRequest,
  reply: FastifyReply,
  userName: string,
  next: string | null,
  via: string,
  binding: string | null = null,
) {
  const user = await ctx.store.ensureUser(userName);
  const { setCookie, hash } = await ctx.sessions.signIn(userName, req.headers.cookie, via);
  reply.header('set-cookie', setCookie);
  const owner = next ? notebookOwner(ctx, next) : null;
  const target = owner && owner !== userName && !user.admin ? null : next;
  return proceedTo(ctx, reply, hash, userName, target, binding);
}
