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
}
