import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { SifuError } from '../../errors.js';
import { sleep } from '../cancelled.js';
import { joinCgroup, type ServerCgroup } from './cgroup.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Launched {
  child: ChildProcess;
  exited: Promise<ExitInfo>;
  /** The sandbox's pid 1 as the host sees it (bwrap's `child-pid`). */
  sandboxPid: number;
}

/** The descriptors `sandboxArgv` is told of: bwrap blocks on the first, reports its child on the second. */
export const BLOCK_FD = 3;
export const INFO_FD = 4;
/** bwrap reports its child within milliseconds; a bound keeps a wedged launch from hanging the start. */
const INFO_TIMEOUT_MS = 10_000;

/**
 * Spawns the sandbox `argv` detached (own session and process group, so that signals to Sifu's group do
 * not reach learners' servers), with stdout and stderr appended to the log file (a pipe would break when
 * Sifu exits, and the server with it). bwrap waits on `BLOCK_FD` before running the command: meanwhile
 * it and the sandbox's pid 1 are moved into `cgroup`, so that every process the server ever makes is
 * born inside it.
 */
export async function launchSandbox(
  argv: string[],
  env: Record<string, string>,
  logPath: string,
  cgroup: ServerCgroup | undefined,
): Promise<Launched> {
  const [file, ...args] = argv as [string, ...string[]];
  const logFd = openSync(logPath, 'a', 0o600);
  let child: ChildProcess;
  try {
    writeSync(logFd, `--- sifu: ${new Date().toISOString()} starting: ${JSON.stringify(argv)}\n`);
    child = spawn(file, args, {
      cwd: '/',
      env,
      detached: true,
      stdio: ['ignore', logFd, logFd, 'pipe', 'pipe'],
    });
  } catch (err) {
    throw spawnFailed(`cannot run ${JSON.stringify(argv)}: ${String(err)}`, err);
  } finally {
    closeSync(logFd);
  }
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // 'error' may also be emitted later (e.g. a failed kill): a listener keeps it from crashing Sifu.
  const launchError = new Promise<NodeJS.ErrnoException>((resolve) => child.on('error', resolve));
  const outcome = await Promise.race([
    new Promise<'spawned'>((resolve) => child.once('spawn', () => resolve('spawned'))),
    launchError,
  ]);
  const block = child.stdio[BLOCK_FD] as Writable;
  const info = child.stdio[INFO_FD] as Readable;
  // Socket pairs, so also readable: bwrap exiting resets them, which must never be an uncaught error.
  block.on('error', () => {});
  info.on('error', () => {});
  if (outcome !== 'spawned') {
    const why =
      outcome.code === 'ENOENT'
        ? `'${file}' not found (install Debian's bubblewrap)`
        : `cannot run '${file}': ${outcome.message}`;
    throw spawnFailed(why, outcome);
  }
  try {
    const sandboxPid = await readChildPid(info, exited);
    if (cgroup) await joinTree(cgroup, [child.pid as number, sandboxPid]);
    // The command may run now: anything it starts is in the cgroup.
    block.end('x', () => block.destroy());
    // bwrap may write more after the child's pid (namespace ids) and dies of SIGPIPE if its reader is
    // gone: the rest is read and dropped until bwrap closes its end.
    info.resume();
    info.once('end', () => info.destroy());
    info.once('close', () => info.removeAllListeners('data'));
    return { child, exited, sandboxPid };
  } catch (err) {
    info.destroy();
    child.kill('SIGKILL');
    throw err instanceof SifuError ? err : spawnFailed(`setting up the sandbox: ${String(err)}`, err);
  }
}

/** Reads bwrap's `{"child-pid": N}`; rejects if bwrap exits or stays silent first. */
async function readChildPid(info: Readable, exited: Promise<ExitInfo>): Promise<number> {
  let text = '';
  const read = new Promise<number>((resolve, reject) => {
    info.setEncoding('utf8');
    info.on('data', (chunk: string) => {
      text += chunk;
      const match = /"child-pid"\s*:\s*(\d+)/.exec(text);
      if (match) resolve(Number(match[1]));
    });
    info.on('error', reject);
  });
  const outcome = await Promise.race([read, exited, sleep(INFO_TIMEOUT_MS).then(() => 'timeout' as const)]);
  if (typeof outcome === 'number') return outcome;
  if (outcome === 'timeout')
    throw spawnFailed(`bwrap reported no child within ${INFO_TIMEOUT_MS} ms`, undefined);
  throw new SifuError(
    'SIFU_ERR_SPAWN_CRASHED',
    'Your server stopped as soon as it started. Please try again.',
    {
      logDetail: `bwrap exited before its sandbox ran (${JSON.stringify(outcome)}); see the server log`,
    },
  );
}

/**
 * Moves `roots` and all their descendants into the cgroup, each parent before its children are listed:
 * a child forked after its parent moved is born inside, one forked before is listed.
 */
async function joinTree(cgroup: ServerCgroup, roots: number[]): Promise<void> {
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    await joinCgroup(cgroup, pid).catch((err: NodeJS.ErrnoException) => {
      // A process that exited meanwhile cannot be moved, and needs not be.
      if (err.code !== 'ESRCH') throw err;
    });
    queue.push(...(await childrenOf(pid)));
  }
}

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

export function spawnFailed(logDetail: string, cause: unknown): SifuError {
  return new SifuError(
    'SIFU_ERR_SPAWN_FAILED',
    'Your server could not be started. Please contact course staff.',
    { logDetail, cause },
  );
}
