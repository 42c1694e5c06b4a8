import type { Logger } from 'pino';
import type { SessionService } from '../auth/sessions.js';
import type { ExternalLogin } from '../auth/sign-in.js';
import type { TokenService } from '../auth/tokens.js';
import type { SifuConfig } from '../config/schema.js';
import type { CourseNotebooks } from '../courses/course-notebooks.js';
import type { LaunchCourses } from '../courses/launch-adapter.js';
import type { ServerManager } from '../lifecycle/server-manager.js';
import type { Storage } from '../storage/storage.js';
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
  /** The notebook public origin; with `userOrigins`, each learner's is `<label>.<its host>` (src/routes.ts). */
  notebookOrigin: string;
  userOrigins: boolean;
  version: string;
  /** Learners' homes, trash, usage and leases (src/storage). */
  storage: Storage;
  /** Course notebooks and learners' copies (src/courses); `courses` below adapts it for launches. */
  courseNotebooks: CourseNotebooks;
  /** Course notebooks as launches (the launch API, LTI) see them. */
  courses: LaunchCourses;
  /** Set when sign-in happens at a platform (edx, oidc): `/hub/login` hands the browser to it. */
  externalLogin?: ExternalLogin;
}
