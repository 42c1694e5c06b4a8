/** Variables of Sifu's own environment a server may inherit: what programs need to run, nothing else. */
const INHERITED = ['PATH', 'LANG', 'LC_ALL'] as const;

export interface ServerEnvInput {
  /** Sifu's environment, from which only `INHERITED` passes. */
  parentEnv: NodeJS.ProcessEnv;
  home: string;
  port: number;
  /** The unix socket the server listens on, as the server sees it. */
  socketPath: string;
  baseUrl: string;
  secret: string;
  /** Where Jupyter writes its runtime files (which hold the token): never inside the learner's home. */
  runtimeDir: string;
  /** Operator-level extra variables (`createLocalSpawner({ extraEnv })`). */
  extraEnv?: Record<string, string>;
  /** Per-request variables (`StartRequest.env`). */
  requestEnv?: Record<string, string>;
}

/**
 * The complete environment of a server. Built from scratch rather than copied from Sifu's, which holds
 * secrets (database URL, admin token, OAuth client secret) that learner code must never read.
 * Sifu's own variables come last, so that neither the operator nor a request can point the server at
 * another port, root or token.
 */
export function buildServerEnv(input: ServerEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of INHERITED) {
    const value = input.parentEnv[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, { HOME: input.home }, input.extraEnv, input.requestEnv, {
    SIFU_SERVER_SOCKET: input.socketPath,
    SIFU_SERVER_PORT: String(input.port),
    SIFU_SERVER_BASE_URL: input.baseUrl,
    SIFU_SERVER_ROOT: input.home,
    JUPYTER_TOKEN: input.secret,
    JUPYTER_RUNTIME_DIR: input.runtimeDir,
  });
  return env;
}

/** Names whose values may never be expanded into the command's arguments. */
export const SECRET_VARIABLES = ['JUPYTER_TOKEN', 'JUPYTERHUB_API_TOKEN'] as const;
