import { readdir, readFile } from 'node:fs/promises';

/** What `/proc/<pid>/stat` says about a process (see proc(5)). */
export interface ProcStat {
  /** One letter: R running, S sleeping, D disk wait, Z zombie, T stopped, X dead... */
  state: string;
  ppid: number;
  pgrp: number;
  /**
   * Field 22: clock ticks from boot to the process's start. With the pid, it names a process for good:
   * after a Sifu restart, a pid alone may have been recycled by an unrelated process.
   */
  startTime: number;
}

/** Parses the content of `/proc/<pid>/stat`. The command name (field 2) may hold spaces and ')'. */
export function parseProcStat(content: string): ProcStat | undefined {
  const close = content.lastIndexOf(')');
  if (close === -1) return undefined;
  // Fields from 3 on: index 0 is field 3 (state), index 19 is field 22 (starttime).
  const fields = content
    .slice(close + 2)
    .trim()
    .split(' ');
  const state = fields[0];
  const [ppid, pgrp, startTime] = [fields[1], fields[2], fields[19]].map(toInteger);
  if (!state || ppid === undefined || pgrp === undefined || startTime === undefined) return undefined;
  return { state, ppid, pgrp, startTime };
}

function toInteger(field: string | undefined): number | undefined {
  return field !== undefined && /^\d+$/.test(field) ? Number(field) : undefined;
}

/** Undefined when there is no such process (any more). */
export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

/** A process's arguments as the OS shows them to every user (`ps`). Undefined when it is gone. */
export async function readCmdline(pid: number): Promise<string[] | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').slice(0, -1);
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

/** A process's environment. Undefined when it is gone. */
export async function readEnviron(pid: number): Promise<Record<string, string> | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/environ`, 'utf8');
    const env: Record<string, string> = {};
    for (const entry of raw.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
}

/**
 * Whether any process of group `pgid` is still alive. Zombies do not count: they are dead, and one
 * whose parent does not reap (an orphan under an init that does not reap) may stay a zombie for ever.
 */
export async function processGroupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  // The group exists; scan for a member that is not a zombie.
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readProcStat(Number(name)).catch(() => undefined);
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') return true;
  }
  return false;
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  // ESRCH: reading a file of a process that exited between open and read.
  return code === 'ENOENT' || code === 'ESRCH';
}
