import { behindForwarder, HUB_DIR_INSIDE, HUB_FORWARDER_INSIDE } from '../hub-channel.js';

/**
 * The sandbox a local server runs in (Debian's `bubblewrap`), as an argv: no shell, every value one
 * argument. Built here and nowhere else, so what a learner's code can see is readable in one place.
 *
 * - new pid, ipc, uts, net and mount namespaces: no host process is visible (Sifu's environment, other
 *   learners' tokens), no network but the sandbox's own loopback (no hub, store, other servers or
 *   metadata address; the server is reached through its unix socket only);
 * - a read-only system (`/usr`, `/etc`, the `/bin`-style symlinks), a fresh `/proc`, `/dev` and `/tmp`;
 * - the learner's home read-write at `/home/<user>` and the socket directory at `/run/sifu`: nothing
 *   of Sifu's data directory, other homes or the host's `/run`;
 * - the command itself runs as the learner's uid and gid, no supplementary groups, no capabilities
 *   (inherited, ambient or bounding) and `no_new_privs`, through `setpriv`: bwrap's own `--uid` needs a
 *   user namespace, which this does not use;
 * - `--new-session` (no TIOCSTI into a terminal of Sifu's); not `--die-with-parent`: servers outlive
 *   Sifu on purpose and are adopted again after a restart.
 */
export interface SandboxSpec {
  /** The learner's home on the host. */
  home: string;
  /** Where the home appears inside: `SANDBOX_HOME_ROOT/<user>`. */
  homeInside: string;
  /** The server's socket directory on the host (`server-socket.ts`). */
  socketDir: string;
  uid: number;
  gid: number;
  /** More host paths the server may read, at the same path (`spawner.local.readOnlyPaths`). */
  readOnlyPaths?: readonly string[];
  /** The server command, already expanded (`parseCommand`). */
  argv: readonly string[];
  /** A descriptor the sandbox reads one byte from before running the command (see `local-spawner.ts`). */
  blockFd: number;
  /** A descriptor bwrap writes `{"child-pid": N}` to: N is the sandbox's pid 1, as the host sees it. */
  infoFd: number;
  /**
   * The server's own hub endpoint (`StartRequest.hubSocketDir`): its directory bound read-only at
   * `SANDBOX_HUB_DIR`, and the command run behind `hub-forward.py`, which makes the socket reachable on
   * the sandbox's loopback at `HUB_FORWARD_PORT` (JupyterHub's clients speak TCP only).
   */
  hubChannel?: { dir: string; forwarder: string };
}

export const BWRAP = '/usr/bin/bwrap';
export const SETPRIV = '/usr/bin/setpriv';
export const SANDBOX_HOME_ROOT = '/home';
export const SANDBOX_SOCKET_DIR = '/run/sifu';
/** Jupyter's runtime files (connection files with kernel keys) stay on the sandbox's private /tmp. */
export const SANDBOX_RUNTIME_DIR = '/tmp/jupyter-runtime';

/** `--ro-bind path path`, after its parents made traversable (bwrap makes missing ones 0700). */
function readOnlyBind(path: string): string[] {
  const parents: string[] = [];
  for (let at = path.indexOf('/', 1); at !== -1; at = path.indexOf('/', at + 1)) {
    parents.push('--perms', '0755', '--dir', path.slice(0, at));
  }
  return [...parents, '--ro-bind', path, path];
}

export function sandboxArgv(spec: SandboxSpec): string[] {
  return [
    BWRAP,
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-net',
    '--new-session',
    '--ro-bind',
    '/usr',
    '/usr',
    '--ro-bind',
    '/etc',
    '/etc',
    '--symlink',
    'usr/bin',
    '/bin',
    '--symlink',
    'usr/lib',
    '/lib',
    '--symlink',
    'usr/lib64',
    '/lib64',
    '--symlink',
    'usr/sbin',
    '/sbin',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--perms',
    '1777',
    '--tmpfs',
    '/tmp',
    // Directories bwrap makes are 0700 root unless told: the learner's uid must traverse them.
    '--perms',
    '0755',
    '--dir',
    SANDBOX_HOME_ROOT,
    '--bind',
    spec.home,
    spec.homeInside,
    '--perms',
    '0755',
    '--dir',
    '/run',
    '--bind',
    spec.socketDir,
    SANDBOX_SOCKET_DIR,
    ...(spec.hubChannel
      ? [
          '--ro-bind',
          spec.hubChannel.dir,
          HUB_DIR_INSIDE,
          '--ro-bind',
          spec.hubChannel.forwarder,
          HUB_FORWARDER_INSIDE,
        ]
      : []),
    // Last, so that none is hidden by the tmpfs or directories above (a path under /tmp stays visible).
    ...(spec.readOnlyPaths ?? []).flatMap(readOnlyBind),
    '--chdir',
    spec.homeInside,
    '--block-fd',
    String(spec.blockFd),
    '--info-fd',
    String(spec.infoFd),
    '--',
    SETPRIV,
    `--reuid=${spec.uid}`,
    `--regid=${spec.gid}`,
    '--clear-groups',
    '--inh-caps=-all',
    '--ambient-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--',
    ...(spec.hubChannel ? behindForwarder('/usr/bin/python3', spec.argv) : spec.argv),
  ];
}
