import { sleep } from '../cancelled.js';
import { processGroupAlive } from './proc.js';

/** After SIGKILL only an uninterruptible process (stuck on I/O) lingers; past this, stop gives up. */
const KILL_WAIT_MS = 5_000;

/**
 * Stops every process of group `pgid`: SIGTERM (Jupyter then shuts its kernels down cleanly), SIGKILL
 * after `graceMs`. Resolves once no live process is left in the group; a group already gone resolves.
 * The group, not only the leader, because a server may run behind a wrapper (a shell script, `sudo`)
 * that would leave the real server running if it alone died.
 */
export async function stopProcessGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  if (await waitForGroupExit(pgid, graceMs)) return;
  if (!signalGroup(pgid, 'SIGKILL')) return;
  if (await waitForGroupExit(pgid, KILL_WAIT_MS)) return;
  throw new Error(`process group ${pgid} is still alive ${KILL_WAIT_MS} ms after SIGKILL`);
}

/** False when the group does not exist. */
function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

async function waitForGroupExit(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    if (!(await processGroupAlive(pgid))) return true;
    const remaining = deadline - performance.now();
    if (remaining <= 0) return false;
    await sleep(Math.min(delay, remaining));
    delay = Math.min(delay * 2, 100);
  }
}
