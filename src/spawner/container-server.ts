import { chmod, chown, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCommand } from './command.js';
import { CONTAINER_USER } from './container-security.js';
import {
  behindForwarder,
  HUB_DIR_INSIDE,
  HUB_FORWARDER_INSIDE,
  hubForwarderPath,
  hubUrls,
} from './hub-channel.js';
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
    requestEnv: { ...request.env, ...hubUrls(request) },
  });
  return { env, argv: parseCommand(options.command, env, { forbidden: SECRET_VARIABLES }) };
}

/** Checks the configured command once, when the backend is made: a command naming the secret is refused. */
export function checkContainerCommand(command: string): void {
  parseCommand(command, new Proxy({}, { get: () => '' }), { forbidden: SECRET_VARIABLES });
}

/** The file in a server's hub directory holding its secret variables (`withHubChannel`). */
export const HUB_ENV_FILE = 'server-env.json';

/** A read-only bind of a host path into a container. */
export interface ReadOnlyMount {
  source: string;
  target: string;
}

/**
 * Gives a container its server's hub endpoint (`StartRequest.hubSocketDir`), on `docker` and `swarm`; a
 * request without one is returned as it is. The endpoint's directory and the forwarder are bound in
 * read-only, and the command runs behind the forwarder (`hub-channel.ts`) with the image's `python3`.
 * The secret variables (`JUPYTERHUB_API_TOKEN`, `JUPYTER_TOKEN` if still there) leave `env`, which the
 * engine records and shows to anyone with its socket: they go to `server-env.json` in the directory,
 * owned by the container's user and readable by it alone, and the forwarder sets them just before it
 * execs the command. The directory becomes Sifu's with the container's group, 0750: only Sifu and the
 * container's user reach the socket, and nothing in the container can change what is in it.
 */
export async function withHubChannel(
  request: Pick<StartRequest, 'hubSocketDir'>,
  server: { env: Record<string, string>; argv: string[] },
): Promise<{ env: Record<string, string>; argv: string[]; mounts: ReadOnlyMount[] }> {
  const dir = request.hubSocketDir;
  if (!dir) return { ...server, mounts: [] };
  const env = { ...server.env };
  const secrets: Record<string, string> = {};
  for (const name of SECRET_VARIABLES) {
    if (env[name] === undefined) continue;
    secrets[name] = env[name];
    delete env[name];
  }
  const file = join(dir, HUB_ENV_FILE);
  await writeFile(file, JSON.stringify(secrets), { mode: 0o400 });
  await chown(file, CONTAINER_USER.uid, CONTAINER_USER.gid);
  await chown(dir, process.getuid?.() ?? 0, CONTAINER_USER.gid);
  await chmod(dir, 0o750);
  return {
    env,
    argv: behindForwarder('python3', server.argv, `${HUB_DIR_INSIDE}/${HUB_ENV_FILE}`),
    mounts: [
      { source: dir, target: HUB_DIR_INSIDE },
      { source: hubForwarderPath(), target: HUB_FORWARDER_INSIDE },
    ],
  };
}
