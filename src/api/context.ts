import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { SessionService } from '../auth/sessions.js';
import type { TokenService } from '../auth/tokens.js';
import type { SifuConfig } from '../config/schema.js';
import type { ServerManager } from '../lifecycle/server-manager.js';
import type { Store } from '../store/store.js';

/** What every hub route module is given: the composed services, nothing global. */
export interface HubContext {
  config: SifuConfig;
  store: Store;
  sessions: SessionService;
  tokens: TokenService;
  manager: ServerManager;
  log: Logger;
  hubOrigin: string;
  notebookOrigin: string;
  version: string;
  /** Set when sign-in happens at a platform (edx, oidc): `/hub/login` hands the browser to it. */
  externalLogin?: ExternalLogin;
}

/** An authenticator whose sign-in happens elsewhere (OAuth2 / OpenID Connect). */
export interface ExternalLogin {
  /** Sends the browser to the platform; `next` (already checked by `safeNext`) is where to land after. */
  begin(req: FastifyRequest, reply: FastifyReply, next: string | null): Promise<FastifyReply> | FastifyReply;
}
