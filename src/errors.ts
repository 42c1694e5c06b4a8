/**
 * The error catalogue: every error Sifu reports to a client has a stable code and an HTTP status,
 * declared here once. Tests assert codes, never prose.
 *
 * An error carries three things, kept apart on purpose (as JupyterHub's SpawnException does):
 * - `message`: safe to show to the learner or API client;
 * - `logDetail`: for the operator's log only (may hold paths, exit codes, stderr tails);
 * - `code`: the stable reason, also used as a metrics label.
 */
export const errorCatalogue = {
  SIFU_ERR_BAD_REQUEST: 400,
  SIFU_ERR_INVALID_USERNAME: 400,
  SIFU_ERR_INVALID_SERVER_NAME: 400,
  SIFU_ERR_INVALID_SCOPE: 400,
  SIFU_ERR_CONFIG: 500,
  SIFU_ERR_UNAUTHENTICATED: 401,
  SIFU_ERR_DEV_AUTH_NOT_LOOPBACK: 500,
  SIFU_ERR_FORBIDDEN: 403,
  SIFU_ERR_MISSING_SCOPE: 403,
  SIFU_ERR_BAD_ORIGIN: 403,
  // An admin on someone else's server while `proxy.adminAccess` is off.
  SIFU_ERR_ADMIN_ACCESS_OFF: 403,
  // A notebook request whose Host is not the origin of the user its path names (per-user origins).
  SIFU_ERR_WRONG_ORIGIN: 403,
  SIFU_ERR_NOT_FOUND: 404,
  SIFU_ERR_USER_NOT_FOUND: 404,
  SIFU_ERR_SERVER_NOT_FOUND: 404,
  SIFU_ERR_TOKEN_NOT_FOUND: 404,
  SIFU_ERR_USER_EXISTS: 409,
  // Groups (JupyterHub's): a name outside the rule, an unknown group, a name taken.
  SIFU_ERR_INVALID_GROUP_NAME: 400,
  SIFU_ERR_GROUP_NOT_FOUND: 404,
  SIFU_ERR_GROUP_EXISTS: 409,
  // A group's new member is no user (JupyterHub: 400): nothing is added.
  SIFU_ERR_GROUP_MEMBER_UNKNOWN: 400,
  // PATCH /users/<name> with another name: homes, uids, leases and identities are keyed by the name.
  SIFU_ERR_USER_RENAME_UNSUPPORTED: 400,
  // JupyterHub answers 400 when a start is asked of a running or pending server; clients rely on it.
  SIFU_ERR_SERVER_PENDING: 400,
  SIFU_ERR_SERVER_ALREADY_RUNNING: 400,
  SIFU_ERR_SERVER_NOT_RUNNING: 503,
  // Progress asked of a named server kept while stopped (JupyterHub: 400 "not starting").
  SIFU_ERR_SERVER_NOT_ACTIVE: 400,
  // Named servers (`spawner.allowNamedServers`): off, over `spawner.namedServerLimitPerUser`, or `remove`
  // asked of the default server (which cannot be removed).
  SIFU_ERR_NAMED_SERVERS_OFF: 400,
  SIFU_ERR_NAMED_SERVER_LIMIT: 400,
  SIFU_ERR_CANNOT_REMOVE_DEFAULT: 400,
  SIFU_ERR_SPAWN_TIMEOUT: 500,
  SIFU_ERR_SPAWN_CRASHED: 500,
  SIFU_ERR_SPAWN_FAILED: 500,
  SIFU_ERR_UPSTREAM_UNREACHABLE: 503,
  SIFU_ERR_UPSTREAM_TIMEOUT: 504,
  // A request to a host's relay without the key all replicas share (or with a wrong one): nothing forwarded.
  SIFU_ERR_RELAY_KEY: 403,
  SIFU_ERR_PAYLOAD_TOO_LARGE: 413,
  SIFU_ERR_LAUNCH_INVALID: 403,
  SIFU_ERR_LTI_INVALID: 401,
  SIFU_ERR_LTI_UNKNOWN_PLATFORM: 400,
  SIFU_ERR_COURSE_UNIT_NOT_FOUND: 404,
  SIFU_ERR_IFRAME_ONLY: 403,
  SIFU_ERR_INTERNAL: 500,
  // Storage and course notebooks (src/storage, src/courses).
  // A name or path that is malformed: `..`, absolute, NUL, too long, wrong extension.
  SIFU_ERR_INVALID_PATH: 400,
  // A path that resolves outside the user's home, through a symlink, or to something not a regular file.
  SIFU_ERR_UNSAFE_PATH: 403,
  SIFU_ERR_INVALID_NOTEBOOK: 400,
  SIFU_ERR_NOTEBOOK_TOO_LARGE: 413,
  SIFU_ERR_NOTEBOOK_NOT_FOUND: 404,
  SIFU_ERR_NOTEBOOK_CONFLICT: 409,
  // The user's files exceed `storage.quota`: the launch is refused until they free space.
  SIFU_ERR_QUOTA_EXCEEDED: 507,
  // Another server holds the lease on the user's home (one writer per home, across hosts).
  SIFU_ERR_HOME_IN_USE: 409,
  // Several hosts: the storage root is not the one every host shares; a host is out of reach; none may start.
  SIFU_ERR_STORAGE_NOT_SHARED: 503,
  SIFU_ERR_HOST_UNREACHABLE: 503,
  SIFU_ERR_NO_HOST: 503,
  SIFU_ERR_GIT_FETCH_FAILED: 502,
  SIFU_ERR_GIT_HOST_NOT_ALLOWED: 403,
  // Sign-in at a platform (edx, oidc). The learner declined; nothing was created.
  SIFU_ERR_OAUTH_DENIED: 403,
  // The callback's state is missing, wrong, expired or already used (or the browser lost its cookie).
  SIFU_ERR_OAUTH_STATE: 400,
  // The platform refused or answered unexpectedly (e.g. invalid_grant for a replayed code, bad client secret).
  SIFU_ERR_OAUTH_FAILED: 502,
  // The platform could not be reached or did not answer within `auth.<mode>.timeout`.
  SIFU_ERR_OAUTH_PROVIDER_DOWN: 502,
  // Single-user servers (docs/singleuser.md). A token sent to a server's hub endpoint or to the notebook
  // proxy that is unknown, expired, or not one this place accepts (JupyterHub answers 403 too).
  SIFU_ERR_TOKEN_REFUSED: 403,
  // The hub's OAuth2 provider: a client id or redirect URI that is no server's (checked exactly).
  SIFU_ERR_OAUTH_CLIENT: 400,
  // The hub's OAuth2 provider: a code unknown, used, expired, or issued to another client or redirect URI.
  SIFU_ERR_OAUTH_GRANT: 400,
  // The hub's OAuth2 token endpoint: a client id that is no running server's, or the wrong client secret
  // (RFC 6749's invalid_client, a 401, checked before the code).
  SIFU_ERR_OAUTH_INVALID_CLIENT: 401,
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

/**
 * Where the REST API under `/hub/api` answers another status than the rest of Sifu, as JupyterHub does:
 * missing or invalid credentials are 403 there (JupyterHub's `HubAuth` turns a 401 into a 500), while the
 * notebook port keeps 401 for a browser that must sign in. The code stays the same.
 */
export const hubApiStatus: Partial<Record<ErrorCode, number>> = {
  SIFU_ERR_UNAUTHENTICATED: 403,
};

export class SifuError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly logDetail: string | undefined;

  constructor(code: ErrorCode, message: string, options: { logDetail?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'SifuError';
    this.code = code;
    this.status = errorCatalogue[code];
    this.logDetail = options.logDetail;
  }
}

export function isSifuError(err: unknown): err is SifuError {
  return err instanceof SifuError;
}

/** The JSON body every API error response carries (JupyterHub clients read `status` and `message`). */
export function errorBody(
  err: SifuError,
  status: number = err.status,
): { status: number; code: ErrorCode; message: string } {
  return { status, code: err.code, message: err.message };
}
