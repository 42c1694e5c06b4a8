/**
 * Test double of the proxy's hooks: an in-memory table of sessions (cookie `sifu-session=<id>` ->
 * visitor), of routes, and of one-time handoff codes, recording every activity and admin audit call.
 * A cookie value not in the table (forged, or expired) is no session, as the real hooks must treat it.
 */
import type { Route } from '../../routes.js';
import type { ProxyHooks, ProxyRequest, Visitor } from '../types.js';

export const SESSION_COOKIE = 'sifu-session';

export class TableHooks implements ProxyHooks {
  readonly sessions = new Map<string, Visitor>();
  /** Sessions bound to one origin (as the real ones are): valid nowhere else. */
  readonly sessionOrigins = new Map<string, string>();
  /** The origin of each `completeHandoff` call, in order. */
  readonly handoffOrigins: string[] = [];
  readonly routes = new Map<string, Route>();
  /** code -> Set-Cookie value; a code works once. */
  readonly handoffCodes = new Map<string, string>();
  readonly activityCalls: { userName: string; serverName: string; at: Date }[] = [];
  readonly adminAccessCalls: { admin: string; userName: string; serverName: string }[] = [];
  /** When set, `visitor` answers through a promise (as a database-backed session store would). */
  asyncVisitor = false;

  addSession(id: string, visitor: Visitor, origin?: string): this {
    this.sessions.set(id, visitor);
    if (origin !== undefined) this.sessionOrigins.set(id, origin);
    return this;
  }

  addRoute(userName: string, target: string, secret: string): this {
    this.routes.set(userName, { userName, serverName: '', target, secret });
    return this;
  }

  route(userName: string, serverName: string): Route | undefined {
    return serverName === '' ? this.routes.get(userName) : undefined;
  }

  visitor(req: ProxyRequest, origin: string): Promise<Visitor | null> | Visitor | null {
    const cookies = req.headers.cookie ?? '';
    const match = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([^;]*)`).exec(cookies);
    const id = match?.[1] as string;
    const bound = this.sessionOrigins.get(id);
    const visitor = (match && (bound === undefined || bound === origin) && this.sessions.get(id)) || null;
    return this.asyncVisitor ? new Promise((resolve) => setImmediate(() => resolve(visitor))) : visitor;
  }

  async completeHandoff(
    code: string,
    _cookieHeader: string | undefined,
    origin: string,
  ): Promise<string | null> {
    this.handoffOrigins.push(origin);
    const cookie = this.handoffCodes.get(code);
    this.handoffCodes.delete(code);
    return cookie ?? null;
  }

  activity(userName: string, serverName: string, at: Date): void {
    this.activityCalls.push({ userName, serverName, at });
  }

  adminAccess(admin: string, userName: string, serverName: string): void {
    this.adminAccessCalls.push({ admin, userName, serverName });
  }
}
