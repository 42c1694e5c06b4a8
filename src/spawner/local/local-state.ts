import { SifuError } from '../../errors.js';
import { type ServerCgroup, toServerCgroup } from './cgroup.js';
import type { SandboxProcess } from './stop-sandbox.js';

/**
 * What the core stores for a local server (opaque to it). Enough to find the process, its sandbox and
 * its cgroup again after a Sifu restart, and to be sure they are the same: a pid alone may have been
 * recycled. Holds no secret: stored state is readable by whoever reads the database.
 */
export interface LocalState {
  /** bwrap, on the host: it exits with the server's status. */
  pid: number;
  /** bwrap's process group (its own, as it is started detached). */
  pgid: number;
  /** Field 22 of `/proc/<pid>/stat` at launch. */
  startTime: number;
  port: number;
  /** The server's stdout and stderr. */
  logPath: string;
  /** The server's socket directory, removed at stop (absent in states from before unix sockets). */
  socketDir?: string;
  /** The sandbox's pid 1 and pid namespace (absent in states from before the sandbox). */
  sandbox?: SandboxProcess;
  /** The server's cgroup, when the host has one to give. */
  cgroup?: ServerCgroup;
}

/** Checks stored state: a malformed one means `poll` cannot tell, which it reports by throwing. */
export function toLocalState(raw: Record<string, unknown>): LocalState {
  const { pid, pgid, startTime, port, logPath, socketDir, sandbox } = raw;
  const malformed = (why = ''): SifuError =>
    new SifuError('SIFU_ERR_INTERNAL', 'Invalid server state.', {
      logDetail: `local spawner state is malformed${why}: ${JSON.stringify(raw)}`,
    });
  const positive = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
  if (
    !positive(pid) ||
    !positive(pgid) ||
    !positive(startTime) ||
    !positive(port) ||
    typeof logPath !== 'string' ||
    (socketDir !== undefined && (typeof socketDir !== 'string' || !socketDir.startsWith('/')))
  ) {
    throw malformed();
  }
  const state: LocalState = { pid, pgid, startTime, port, logPath };
  if (socketDir !== undefined) state.socketDir = socketDir;
  if (sandbox !== undefined) {
    const s = sandbox as Partial<SandboxProcess>;
    if (!positive(s.pid) || !positive(s.startTime) || typeof s.pidNs !== 'string')
      throw malformed(' (sandbox)');
    state.sandbox = { pid: s.pid, startTime: s.startTime, pidNs: s.pidNs };
  }
  try {
    const cgroup = toServerCgroup(raw.cgroup);
    if (cgroup) state.cgroup = cgroup;
  } catch (err) {
    throw malformed(` (${String(err)})`);
  }
  return state;
}
