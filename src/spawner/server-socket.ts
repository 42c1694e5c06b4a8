import { createHash, randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SifuError } from '../errors.js';

/** The socket's name inside its directory, the same on the host and wherever the server sees it. */
export const SERVER_SOCKET_NAME = 'jupyter.sock';

/**
 * The socket of a server's own hub endpoint, in a directory of its own that the backend binds in
 * read-only (`StartRequest.hubSocketDir`): Sifu listens there, the server connects.
 */
export const HUB_SOCKET_NAME = 'hub.sock';

/** `sun_path` holds 108 bytes with its terminating NUL: a longer path cannot be listened on or reached. */
const MAX_SOCKET_PATH_BYTES = 107;

export interface ServerSocket {
  /** The server's own directory, `<runDir>/<key>`: mode 0700, owned by the server's identity. */
  dir: string;
  /** The socket's path on the host (Sifu connects here). */
  path: string;
  /** The route target: `unix:<path>`. */
  url: string;
}

/**
 * A directory name for one start of one server, safe in a path and never shared: a readable prefix, a
 * hash of both names (a separator alone would be ambiguous: names may hold '-') and a random part, so
 * that a late stop of an old start never removes a newer start's directory.
 */
export function serverSocketKey(userName: string, serverName: string): string {
  const readable = (serverName ? `${userName}.${serverName}` : userName)
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 24);
  const hash = createHash('sha256').update(`${userName}\0${serverName}`).digest('hex').slice(0, 10);
  return `${readable}-${hash}-${randomBytes(4).toString('hex')}`;
}

/**
 * Makes a server's socket directory for one start: the parent
 * `runDir` root-owned 0711 (traversable, not listable), the directory 0700 owned by `owner` (the server's
 * uid and gid; Sifu's own when omitted), so that nothing but the server and Sifu can reach its socket.
 */
export async function makeServerSocketDir(
  runDir: string,
  server: { userName: string; serverName: string },
  owner?: { uid: number; gid: number },
): Promise<ServerSocket> {
  const dir = join(runDir, serverSocketKey(server.userName, server.serverName));
  const path = join(dir, SERVER_SOCKET_NAME);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new SifuError('SIFU_ERR_CONFIG', `The server socket path ${path} is too long for a unix socket.`, {
      logDetail: `unix socket paths hold at most ${MAX_SOCKET_PATH_BYTES} bytes: choose a shorter \`dataDir\``,
    });
  }
  await mkdir(runDir, { recursive: true, mode: 0o711 });
  // mkdir's mode is masked by the umask and ignored for an existing directory: set both for sure.
  await chmod(runDir, 0o711);
  await mkdir(dir, { mode: 0o700 });
  if (owner) await chown(dir, owner.uid, owner.gid);
  return { dir, path, url: `unix:${path}` };
}

/** Removes a server's socket directory (at stop); a missing one is fine. */
export async function removeServerSocketDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
