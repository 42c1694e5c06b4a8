import { assetPath } from './assets.js';
import { HUB_SOCKET_NAME } from './server-socket.js';
import type { StartRequest } from './spawner.js';

/**
 * How a server reaches its own hub endpoint (`StartRequest.hubSocketDir`), on every backend that gives
 * it one: the endpoint's directory appears read-only at `HUB_DIR_INSIDE`, and the server command runs
 * behind `assets/hub-channel/hub-forward.py`, which makes the socket reachable on the server's own
 * loopback at `HUB_FORWARD_PORT` (JupyterHub's clients speak TCP only), then execs the command.
 */

/** Where a server's hub endpoint (a unix socket) and its loopback forwarder appear inside. */
export const HUB_DIR_INSIDE = '/run/sifu-hub';
export const HUB_FORWARDER_INSIDE = '/run/sifu-hub-forward.py';
/** JupyterHub's own default hub port: inside the server's network namespace, nothing else has it. */
export const HUB_FORWARD_PORT = 8081;

/** The forwarder on the host, bound in at `HUB_FORWARDER_INSIDE`. */
export const hubForwarderPath = (): string => assetPath('hub-channel/hub-forward.py');

/** Where a server reaches its hub endpoint: the forwarder on its own loopback. */
export function hubUrls(request: Pick<StartRequest, 'userName' | 'hubSocketDir'>): Record<string, string> {
  if (!request.hubSocketDir) return {};
  const api = `http://127.0.0.1:${HUB_FORWARD_PORT}/hub/api`;
  return {
    JUPYTERHUB_API_URL: api,
    JUPYTERHUB_ACTIVITY_URL: `${api}/users/${encodeURIComponent(request.userName)}/activity`,
  };
}

/**
 * `argv` run behind the forwarder by `python`. `envFile` (a path inside): a JSON object of variables the
 * forwarder sets before it execs the command, for values the engine must not record (containers).
 */
export function behindForwarder(python: string, argv: readonly string[], envFile?: string): string[] {
  return [
    python,
    HUB_FORWARDER_INSIDE,
    String(HUB_FORWARD_PORT),
    `${HUB_DIR_INSIDE}/${HUB_SOCKET_NAME}`,
    ...(envFile ? ['--env-file', envFile] : []),
    '--',
    ...argv,
  ];
}
