import { SifuError } from '../../errors.js';

/**
 * What the core stores for a local server (opaque to it). Enough to find the process again after a
 * Sifu restart, and to be sure it is the same process: a pid alone may have been recycled.
 * Holds no secret: stored state is readable by whoever reads the database.
 */
export interface LocalState {
  pid: number;
  /** The server's process group (its own, as it is started detached): `stop` signals the whole group. */
  pgid: number;
  /** Field 22 of `/proc/<pid>/stat` at launch. */
  startTime: number;
  port: number;
  /** The server's stdout and stderr. */
  logPath: string;
  /** The server's socket directory, removed at stop (absent in states from before unix sockets). */
  socketDir?: string;
}

/** Checks stored state: a malformed one means `poll` cannot tell, which it reports by throwing. */
export function toLocalState(raw: Record<string, unknown>): LocalState {
  const { pid, pgid, startTime, port, logPath, socketDir } = raw;
  const positive = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
  if (
    !positive(pid) ||
    !positive(pgid) ||
    !positive(startTime) ||
    !positive(port) ||
    typeof logPath !== 'string' ||
    (socketDir !== undefined && (typeof socketDir !== 'string' || !socketDir.startsWith('/')))
  ) {
    throw new SifuError('SIFU_ERR_INTERNAL', 'Invalid server state.', {
      logDetail: `local spawner state is malformed: ${JSON.stringify(raw)}`,
    });
  }
  return { pid, pgid, startTime, port, logPath, ...(socketDir === undefined ? {} : { socketDir }) };
}
