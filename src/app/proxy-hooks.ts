import type { SessionService } from '../auth/sessions.js';
import type { ServerManager } from '../lifecycle/server-manager.js';
import type { ProxyHooks } from '../proxy/types.js';
import type { Store } from '../store/store.js';

/** What the notebook proxy asks of the rest of Sifu, answered by the server manager and the sessions. */
export function proxyHooks(manager: ServerManager, sessions: SessionService, store: Store): ProxyHooks {
  return {
    route: (user, server) => manager.route(user, server),
    async visitor(req, origin) {
      const identity = await sessions.notebookIdentity(req.headers.cookie, origin);
      return identity ? { userName: identity.userName, admin: identity.admin } : null;
    },
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
