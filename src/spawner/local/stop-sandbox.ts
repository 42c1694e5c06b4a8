import { readdir, readlink } from 'node:fs/promises';
import { sleep } from '../cancelled.js';
import { readProcStat } from './proc.js';

/** After SIGKILL of the sandbox's pid 1 the kernel ends the namespace; past this, stop gives up. */
const KILL_WAIT_MS = 5_000;

export interface SandboxProcess {
  /** The sandbox's pid 1, as the host sees it. */
  pid: number;
  /** Its start time (`/proc/<pid>/stat` field 22): a recycled pid is never signalled. */
  startTime: number;
  /** Its pid namespace, `pid:[<inode>]`: the processes of the sandbox are those in it. */
  pidNs: string;
}

/** The pid namespace of `pid` (`pid:[4026532...]`), undefined when it is gone. */
export async function pidNamespaceOf(pid: number): Promise<string | undefined> {
  return readlink(`/proc/${pid}/ns/pid`).catch(() => undefined);
}

/** Host pids of every process in pid namespace `pidNs`. */
export async function processesInNamespace(pidNs: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    if ((await pidNamespaceOf(Number(name))) === pidNs) pids.push(Number(name));
  }
  return pids;
}

/** Whether the sandbox's pid 1 is the one recorded and still alive. */
export async function sandboxAlive(sandbox: SandboxProcess): Promise<boolean> {
  const stat = await readProcStat(sandbox.pid);
  return stat !== undefined && stat.startTime === sandbox.startTime && stat.state !== 'Z';
}

/**
 * Ends the sandbox: SIGTERM to every process in it but its pid 1 (Jupyter shuts its kernels down), then
 * after `graceMs` SIGKILL to pid 1, which makes the kernel kill every process left in the namespace —
 * `setsid`, double-forked or not, none leaves a pid namespace. Resolves once pid 1 is gone.
 */
export async function stopSandbox(sandbox: SandboxProcess, graceMs: number): Promise<void> {
  if (!(await sandboxAlive(sandbox))) return;
  if ((await pidNamespaceOf(sandbox.pid)) !== sandbox.pidNs) return;
  for (const pid of await processesInNamespace(sandbox.pidNs)) {
    if (pid !== sandbox.pid) signal(pid, 'SIGTERM');
  }
  if (await waitGone(sandbox, graceMs)) return;
  signal(sandbox.pid, 'SIGKILL');
  if (await waitGone(sandbox, KILL_WAIT_MS)) return;
  throw new Error(`sandbox pid ${sandbox.pid} is still alive ${KILL_WAIT_MS} ms after SIGKILL`);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Exited meanwhile.
  }
}

async function waitGone(sandbox: SandboxProcess, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let delay = 10;
  for (;;) {
    if (!(await sandboxAlive(sandbox))) return true;
    const remaining = deadline - performance.now();
    if (remaining <= 0) return false;
    await sleep(Math.min(delay, remaining));
    delay = Math.min(delay * 2, 100);
  }
}
