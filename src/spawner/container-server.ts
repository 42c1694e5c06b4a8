import { parseCommand } from './command.js';
import { buildServerEnv, SECRET_VARIABLES } from './local/server-env.js';
import { SERVER_SOCKET_NAME } from './server-socket.js';
import type { StartRequest } from './spawner.js';

/** Where a container sees its server's socket directory (`src/spawner/server-socket.ts`), unless told. */
export const CONTAINER_SOCKET_DIR = '/run/sifu-socket';

/**
 * The environment and argv of a single-user server inside a container (docker, swarm): the variables
 * the local backend passes, with the learner's home at `homePath` and the runtime directory inside the
 * container. The secret never reaches argv (the command may not name it).
 */
export function containerServer(
  request: StartRequest,
  options: {
    command: string;
    homePath: string;
    port: number;
    /** The socket as the container sees it (default: `<CONTAINER_SOCKET_DIR>/jupyter.sock`). */
    socketPath?: string;
    extraEnv?: Record<string, string>;
  },
): { env: Record<string, string>; argv: string[] } {
  const env = buildServerEnv({
    parentEnv: {},
    home: options.homePath,
    port: options.port,
    socketPath: options.socketPath ?? `${CONTAINER_SOCKET_DIR}/${SERVER_SOCKET_NAME}`,
    baseUrl: request.baseUrl,
    secret: request.secret,
    runtimeDir: '/run/sifu',
    extraEnv: options.extraEnv,
    requestEnv: request.env,
  });
  return { env, argv: parseCommand(options.command, env, { forbidden: SECRET_VARIABLES }) };
}

/** Checks the configured command once, when the backend is made: a command naming the secret is refused. */
export function checkContainerCommand(command: string): void {
  parseCommand(command, new Proxy({}, { get: () => '' }), { forbidden: SECRET_VARIABLES });
}
