import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSifuError, SifuError } from '../../errors.js';
import { cancelledError, sleep } from '../cancelled.js';
import { parseCommand } from '../command.js';
import { makeServerSocketDir, removeServerSocketDir, type ServerSocket } from '../server-socket.js';
import type { PollResult, Spawner, StartContext, Started, StartRequest } from '../spawner.js';
import { pickFreePort } from './free-port.js';
import { type LocalState, toLocalState } from './local-state.js';
import { readLogTail } from './log-tail.js';
import { readProcStat } from './proc.js';
import { buildServerEnv, SECRET_VARIABLES } from './server-env.js';
import { stopProcessGroup } from './stop-group.js';

export interface LocalSpawnerOptions {
  /** `spawner.command`: expanded with the server's environment, run without a shell. */
  command: string;
  /** Directory for each server's log and Jupyter runtime files, one subdirectory per start. */
  logDir: string;
  /** Directory of the servers' socket directories (`<dataDir>/run`, see `server-socket.ts`). */
  runDir: string;
  /** Variables added to every server's environment (under the request's own and Sifu's). */
  extraEnv?: Record<string, string>;
  /**
   * How long a new process is watched for an immediate exit before `start` resolves (default 100 ms),
   * so that a broken command fails the start itself. Jupyter needs longer than this to answer anyway,
   * so it costs the learner nothing.
   */
  launchWindowMs?: number;
  /** Default for `stop`'s `graceMs` (5 s). */
  stopGraceMs?: number;
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Prepared {
  /** This start's own directory under `logDir`: the log and Jupyter's runtime files. */
  serverDir: string;
  logPath: string;
  port: number;
  socket: ServerSocket;
  env: Record<string, string>;
  argv: string[];
}

interface Launched {
  child: ChildProcess;
  exited: Promise<ExitInfo>;
}

/** A server this process launched: its exit status is known only to us, from the 'exit' event. */
interface ChildRecord {
  startTime: number;
  exited: Promise<ExitInfo>;
  exit?: ExitInfo;
  /** Set by `stop`, so that the exit it caused is not reported with a log tail like a crash. */
  stopping: boolean;
}

/** Bounds the records of exited children nobody asked about (the core normally calls `stop`). */
const MAX_CHILD_RECORDS = 1_000;
/** A child seen dead in /proc but whose 'exit' event is not in yet: how long to wait for its status. */
const EXIT_EVENT_WAIT_MS = 1_000;

/**
 * The `local` backend: each server is a process on this host, listening on a unix socket in a directory
 * of its own (`server-socket.ts`).
 *
 * Servers outlive Sifu on purpose (a restart or crash of Sifu must not stop learners' work): each runs
 * detached in its own session and process group, writes to a log file rather than pipes to Sifu, and is
 * found again from its stored state (pid + start time). Run Sifu under an init that reaps orphans
 * (systemd, `docker --init`): servers it outlived are then reaped by that init once they exit.
 */
export function createLocalSpawner(options: LocalSpawnerOptions): Spawner {
  const { command, logDir } = options;
  const launchWindowMs = options.launchWindowMs ?? 100;
  const defaultGraceMs = options.stopGraceMs ?? 5_000;
  // Syntax and forbidden variables are checked now, so a bad config fails at boot, not at a learner's start.
  parseCommand(command, new Proxy({}, { get: () => '' }), { forbidden: SECRET_VARIABLES });
  if (!existsSync('/proc/self/stat')) {
    throw new SifuError('SIFU_ERR_CONFIG', 'The `local` spawner needs Linux /proc to recognise its servers.');
  }

  const children = new Map<number, ChildRecord>();

  const remember = (pid: number, record: ChildRecord): void => {
    children.set(pid, record);
    for (const [oldPid, old] of children) {
      if (children.size <= MAX_CHILD_RECORDS) break;
      if (old.exit) children.delete(oldPid);
    }
  };

  const ourChild = (state: LocalState): ChildRecord | undefined => {
    const record = children.get(state.pid);
    return record?.startTime === state.startTime ? record : undefined;
  };

  const stoppedAfterExit = async (
    exit: ExitInfo,
    record: ChildRecord,
    state: LocalState,
  ): Promise<PollResult> => {
    const reason = describeExit(exit);
    const clean = record.stopping || exit.code === 0;
    return {
      status: 'stopped',
      reason: clean ? reason : `${reason}; ${await readLogTail(state.logPath)}`,
      exitCode: exit.code,
    };
  };

  async function start(request: StartRequest, context: StartContext): Promise<Started> {
    const { signal } = context;
    if (signal.aborted) throw cancelledError(signal);
    context.progress({ progress: 10, message: 'Starting your server' });

    const prepared = await prepare(request);
    let launched: Launched;
    try {
      launched = await launch(prepared.argv, prepared.env, request.home, prepared.logPath);
    } catch (err) {
      await rm(prepared.serverDir, { recursive: true, force: true });
      await removeServerSocketDir(prepared.socket.dir);
      throw err;
    }
    const { child, exited } = launched;
    const pid = child.pid as number;
    child.unref();

    try {
      const state = await watchLaunch(pid, exited, prepared, request, signal);
      context.progress({ progress: 30, message: 'Your server process is running' });
      return { url: prepared.socket.url, state: { ...state } };
    } catch (err) {
      // Whatever went wrong, nothing may be left running: the core forgets a server whose start failed.
      const record = children.get(pid);
      if (record) record.stopping = true;
      await stopProcessGroup(pid, 0).catch(() => {});
      await removeServerSocketDir(prepared.socket.dir).catch(() => {});
      throw isSifuError(err) ? err : spawnFailed(`watching pid ${pid} at launch: ${String(err)}`, err);
    }
  }

  /** Everything decided before the process exists: its directory, port, environment and argv. */
  async function prepare(request: StartRequest): Promise<Prepared> {
    let serverDir: string | undefined;
    let socket: ServerSocket | undefined;
    try {
      await mkdir(logDir, { recursive: true, mode: 0o700 });
      serverDir = await mkdtemp(join(logDir, `${logName(request)}-`));
      const runtimeDir = join(serverDir, 'runtime');
      await mkdir(runtimeDir, { mode: 0o700 });
      const port = await pickFreePort();
      socket = await makeServerSocketDir(options.runDir, request);
      const env = buildServerEnv({
        parentEnv: process.env,
        home: request.home,
        port,
        socketPath: socket.path,
        baseUrl: request.baseUrl,
        secret: request.secret,
        runtimeDir,
        extraEnv: options.extraEnv,
        requestEnv: request.env,
      });
      const argv = parseCommand(command, env, { forbidden: SECRET_VARIABLES });
      return { serverDir, logPath: join(serverDir, 'server.log'), port, socket, env, argv };
    } catch (err) {
      if (serverDir) await rm(serverDir, { recursive: true, force: true });
      if (socket) await removeServerSocketDir(socket.dir);
      throw spawnFailed(isSifuError(err) ? err.message : `preparing the server: ${String(err)}`, err);
    }
  }

  /**
   * Identifies the new process for good (its start time) and watches it for `launchWindowMs`: an exit
   * then is a crash the start reports itself, with the log's tail.
   */
  async function watchLaunch(
    pid: number,
    exited: Promise<ExitInfo>,
    prepared: Prepared,
    request: StartRequest,
    signal: AbortSignal,
  ): Promise<LocalState> {
    const crashed = async (exit: ExitInfo): Promise<SifuError> => {
      const tail = await readLogTail(prepared.logPath, undefined, [request.secret]);
      return new SifuError(
        'SIFU_ERR_SPAWN_CRASHED',
        'Your server stopped as soon as it started. Please try again.',
        {
          logDetail: `${prepared.argv[0]} (pid ${pid}) ${describeExit(exit)} at launch; ${tail}`,
        },
      );
    };

    const stat = await readProcStat(pid);
    if (!stat || stat.state === 'Z') {
      // Already dead (and maybe reaped): its exit status is on the way.
      const exit = await Promise.race([exited, sleep(EXIT_EVENT_WAIT_MS).then(() => undefined)]);
      throw exit ? await crashed(exit) : new Error('the process vanished from /proc without an exit status');
    }
    const record: ChildRecord = { startTime: stat.startTime, exited, stopping: false };
    exited.then((exit) => {
      record.exit = exit;
    });
    remember(pid, record);

    const outcome = await Promise.race([
      exited,
      sleep(launchWindowMs, signal).then(
        () => 'launched' as const,
        () => 'aborted' as const,
      ),
    ]);
    if (outcome === 'aborted') throw cancelledError(signal);
    if (outcome !== 'launched') throw await crashed(outcome);
    return {
      pid,
      pgid: pid,
      startTime: stat.startTime,
      port: prepared.port,
      logPath: prepared.logPath,
      socketDir: prepared.socket.dir,
    };
  }

  async function poll(rawState: Record<string, unknown>): Promise<PollResult> {
    const state = toLocalState(rawState);
    const record = ourChild(state);
    if (record?.exit) return stoppedAfterExit(record.exit, record, state);

    const stat = await readProcStat(state.pid);
    const sameProcess = stat?.startTime === state.startTime;
    if (sameProcess && stat.state !== 'Z' && stat.state !== 'X') return { status: 'running' };

    if (record) {
      // Dead in /proc, but libuv has not delivered 'exit' yet: its exit code is worth a short wait.
      const exit = await Promise.race([record.exited, sleep(EXIT_EVENT_WAIT_MS).then(() => undefined)]);
      if (exit) return stoppedAfterExit(exit, record, state);
    }
    if (!stat) return { status: 'stopped', reason: 'process is gone' };
    if (!sameProcess)
      return { status: 'stopped', reason: 'process is gone; its pid now belongs to another process' };
    return { status: 'stopped', reason: 'process has exited (a zombie not yet reaped by its parent)' };
  }

  async function stop(
    rawState: Record<string, unknown>,
    stopOptions: { graceMs?: number } = {},
  ): Promise<void> {
    const state = toLocalState(rawState);
    const record = ourChild(state);
    if (record) record.stopping = true;
    const stat = await readProcStat(state.pid);
    // A live pid with another start time is a recycled pid: our server and its group are long gone
    // (Linux never hands out a pid still in use as a process group id), and the new owner is not ours.
    if (!stat || stat.startTime === state.startTime) {
      await stopProcessGroup(state.pgid, stopOptions.graceMs ?? defaultGraceMs);
      if (state.socketDir) await removeServerSocketDir(state.socketDir);
    }
    if (record) children.delete(state.pid);
  }

  return { backend: 'local', start, poll, stop };
}

/**
 * Spawns `argv` detached (own session and process group, so that signals to Sifu's group, e.g. Ctrl-C
 * or a supervisor stopping it, do not reach learners' servers), with stdout and stderr appended to the
 * log file: a pipe would break when Sifu exits, and the server with it.
 */
async function launch(
  argv: string[],
  env: Record<string, string>,
  home: string,
  logPath: string,
): Promise<Launched> {
  const [file, ...args] = argv as [string, ...string[]];
  const logFd = openSync(logPath, 'a', 0o600);
  let child: ChildProcess;
  try {
    writeSync(logFd, `--- sifu: ${new Date().toISOString()} starting: ${JSON.stringify(argv)}\n`);
    child = spawn(file, args, { cwd: home, env, detached: true, stdio: ['ignore', logFd, logFd] });
  } catch (err) {
    throw spawnFailed(`cannot run ${JSON.stringify(argv)}: ${String(err)}`, err);
  } finally {
    closeSync(logFd);
  }
  // Listening at once: a command that fails immediately may exit right after 'spawn'.
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // 'error' may also be emitted later (e.g. a failed kill): a listener keeps it from crashing Sifu.
  const launchError = new Promise<NodeJS.ErrnoException>((resolve) => child.on('error', resolve));
  const outcome = await Promise.race([
    new Promise<'spawned'>((resolve) => child.once('spawn', () => resolve('spawned'))),
    launchError,
  ]);
  if (outcome === 'spawned') return { child, exited };

  if (outcome.code === 'ENOENT' && !(await stat(home).catch(() => undefined))) {
    throw spawnFailed(`home directory ${home} does not exist`, outcome);
  }
  const why =
    outcome.code === 'ENOENT'
      ? `command not found: '${file}' (check \`spawner.command\` and PATH=${env.PATH ?? ''})`
      : outcome.code === 'EACCES'
        ? `command not executable: '${file}'`
        : `cannot run '${file}': ${outcome.message}`;
  throw spawnFailed(why, outcome);
}

function spawnFailed(logDetail: string, cause: unknown): SifuError {
  return new SifuError(
    'SIFU_ERR_SPAWN_FAILED',
    'Your server could not be started. Please contact course staff.',
    {
      logDetail,
      cause,
    },
  );
}

function describeExit(exit: ExitInfo): string {
  return exit.code !== null ? `exited with code ${exit.code}` : `was killed by ${exit.signal ?? 'a signal'}`;
}

/** A readable, path-safe directory name for a server's log (names are validated upstream; paths trust nothing). */
function logName(request: StartRequest): string {
  const name = request.serverName ? `${request.userName}-${request.serverName}` : request.userName;
  return name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'server';
}
