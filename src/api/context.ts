import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { SessionService } from '../auth/sessions.js';
import type { TokenService } from '../auth/tokens.js';
import type { SifuConfig } from '../config/schema.js';
import type { CourseNotebooks } from '../courses/course-notebooks.js';
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
  notebookOrigin: string;
  version: string;
  /** Learners' homes, trash, usage and leases (src/storage). */
  storage?: Storage;
  /** Course notebooks and learners' copies (src/courses); `courses` below adapts it for launches. */
  courseNotebooks?: CourseNotebooks;
  /** Set when sign-in happens at a platform (edx, oidc): `/hub/login` hands the browser to it. */
  externalLogin?: ExternalLogin;
  /** Course notebooks for launches; absent until course storage is configured. */
  courses?: LaunchCourses;
}

/** What a launch needs from course storage (the courses service implements it). */
export interface LaunchCourses {
  /** Throws SifuError SIFU_ERR_COURSE_UNIT_NOT_FOUND when the unit (or its named notebook) is unknown. */
  checkUnit(courseId: string, unitId: string, notebook: string | null): Promise<void>;
  /**
   * Makes the learner's copy of the unit's notebook if it is missing (never overwrites one); returns its
   * path relative to the learner's home, e.g. `course-x/intro.ipynb`, or null when there is none.
   */
  ensureLearnerCopy(
    userName: string,
    courseId: string,
    unitId: string,
    notebook: string | null,
  ): Promise<string | null>;
}

/** An authenticator whose sign-in happens elsewhere (OAuth2 / OpenID Connect). */
export interface ExternalLogin {
  /** Sends the browser to the platform; `next` (already checked by `safeNext`) is where to land after. */
  begin(req: FastifyRequest, reply: FastifyReply, next: string | null): Promise<FastifyReply> | FastifyReply;
}
