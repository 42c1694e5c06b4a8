import { allows } from '../auth/scopes.js';
import type { SessionService } from '../auth/sessions.js';
import { grantsOf, type Identity, type TokenService } from '../auth/tokens.js';
import type { ServerManager } from '../lifecycle/server-manager.js';
import type { ProxyHooks, Visitor } from '../proxy/types.js';
import type { Store } from '../store/store.js';

const visitorOf = (identity: Identity | null): Visitor | null =>
  identity ? { userName: identity.userName, admin: identity.admin } : null;

/** What the notebook proxy asks of the rest of Sifu, answered by the server manager and the sessions. */
export function proxyHooks(
  manager: ServerManager,
  sessions: SessionService,
  store: Store,
  tokens?: TokenService,
): ProxyHooks {
  return {
    route: (user, server) => manager.route(user, server),
    visitor(req, origin) {
      // Answered without a promise while the session is cached: this runs on every proxied request.
      const identity = sessions.notebookIdentity(req.headers.cookie, origin);
      return identity instanceof Promise ? identity.then(visitorOf) : visitorOf(identity);
    },
    ...(tokens
      ? {
          // An API token opens a server when it holds JupyterHub's `access:servers` on it (a user's
          // default token does on their own); another user's server then only as for sessions (admins,
          // with admin access on, audited).
          async tokenVisitor(authorization, { userName, serverName }) {
            const identity = await tokens.authenticate(authorization);
            if (!identity) return { refuse: 'SIFU_ERR_TOKEN_REFUSED' as const };
            if (!allows(grantsOf(identity), 'access:servers', { user: userName, server: serverName })) {
              return { refuse: 'SIFU_ERR_MISSING_SCOPE' as const };
            }
            return { userName: identity.userName, admin: identity.admin };
          },
        }
      : {}),
    completeHandoff: (code, cookieHeader, origin) => sessions.completeHandoff(code, cookieHeader, origin),
    beginHandoff: () => sessions.beginHandoff(),
    findRoute: async (user, server) => (await manager.followElsewhere(user, server)) === 'running',
    unreachable(target) {
      const route = manager.runningRoutes().find((r) => r.target === target);
      if (route) void manager.checkOne(route.userName, route.serverName).catch(() => {});
    },
    activity: (user, server, at) => manager.activity(user, server, at),
    adminAccess(admin, user, server) {
      void store.addEvent('admin.access', user, { admin, server }).catch(() => {});
    },
  };
}
