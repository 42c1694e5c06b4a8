import { constants, existsSync } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { isSifuError, SifuError } from '../../errors.js';
import { cancelledError, sleep } from '../cancelled.js';
import { parseCommand } from '../command.js';
import { hubForwarderPath, hubUrls } from '../hub-channel.js';
import {
  makeServerSocketDir,
  removeServerSocketDir,
  SERVER_SOCKET_NAME,
  type ServerSocket,
} from '../server-socket.js';
import type { PollResult, Spawner, StartContext, Started, StartRequest } from '../spawner.js';
import {
  type CgroupLimits,
  type CgroupSupport,
  createServerCgroup,
  detectCgroups,
  killCgroup,
  missingFromSupport,
  removeServerCgroup,
  type ServerCgroup,
} from './cgroup.js';
import { pickFreePort } from './free-port.js';
import { BLOCK_FD, type ExitInfo, INFO_FD, type Launched, launchSandbox, spawnFailed } from './launch.js';
import { type LocalState, toLocalState } from './local-state.js';
import { readLogTail } from './log-tail.js';
import { readProcStat } from './proc.js';
import {
  BWRAP,
  SANDBOX_HOME_ROOT,
  SANDBOX_RUNTIME_DIR,
  SANDBOX_SOCKET_DIR,
  SETPRIV,
  sandboxArgv,
} from './sandbox.js';
import { buildServerEnv, SECRET_VARIABLES } from './server-env.js';
import { stopProcessGroup } from './stop-group.js';
import { pidNamespaceOf, sandboxAlive, stopSandbox } from './stop-sandbox.js';

export interface LocalSpawnerOptions {
  /** `spawner.command`: expanded with the server's environment, run without a shell, in the sandbox. */
  command: string;
  /** Directory for each server's log, one subdirectory per start. */
  logDir: string;
  /** Directory of the servers' socket directories (`<dataDir>/run`, see `server-socket.ts`). */
  runDir: string;
  /** `spawner.local.uidBase` / `uidCount`: the core gives each user a uid of it (`StartRequest.identity`). */
  uidRange: { base: number; count: number };
  /** Host paths every server may read besides the system (`spawner.local.readOnlyPaths`). */
  readOnlyPaths?: readonly string[];
  /** Memory, pids and CPU limits of each server's cgroup. */
  limits?: CgroupLimits;
  /** Where cgroups are looked for (default `/sys/fs/cgroup`); detected at the first start. */
  cgroupRoot?: string;
  /** Told once, at the first start, what the host's cgroups do not allow (never silently). */
  log?: Pick<Logger, 'warn' | 'info'>;
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

interface Prepared {
  /** This start's own directory under `logDir`: the log. */
  serverDir: string;
  logPath: string;
  port: number;
  socket: ServerSocket;
  cgroup: ServerCgroup | undefined;
  env: Record<string, string>;
  /** The sandbox's argv, the server command at its end. */
  argv: string[];
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
 * The `local` backend: each server is a process on this host, in a sandbox of its own (`sandbox.ts`:
 * bubblewrap namespaces, the learner's uid, only the home writable, no network), in a cgroup of its own
 * (`cgroup.ts`: limits, and the kill that ends every process it made), listening on a unix socket in a
 * directory only it and Sifu can open (`server-socket.ts`).
 *
 * Servers outlive Sifu on purpose (a restart or crash of Sifu must not stop learners' work): each runs
 * detached in its own session and process group, writes to a log file rather than pipes to Sifu, and is
 * found again from its stored state (pid + start time). Run Sifu under an init that reaps orphans
 * (systemd, `docker --init`): servers it outlived are then reaped by that init once they exit.
 */
export function createLocalSpawner(options: LocalSpawnerOptions): Spawner {
  const { command } = options;
  const logDir = resolve(options.logDir);
  const runDir = resolve(options.runDir);
  const launchWindowMs = options.launchWindowMs ?? 100;
  const defaultGraceMs = options.stopGraceMs ?? 5_000;
  // Syntax and forbidden variables are checked now, so a bad config fails at boot, not at a learner's start.
  parseCommand(command, new Proxy({}, { get: () => '' }), { forbidden: SECRET_VARIABLES });
  if (!existsSync('/proc/self/stat')) {
    throw new SifuError('SIFU_ERR_CONFIG', 'The `local` spawner needs Linux /proc to recognise its servers.');
  }
  for (const tool of [BWRAP, SETPRIV]) {
    if (!existsSync(tool)) {
      throw new SifuError(
        'SIFU_ERR_CONFIG',
        `The \`local\` spawner runs each server in a sandbox and needs ${tool}.`,
        {
          logDetail: `${tool} is missing: install the Debian packages bubblewrap and util-linux (scripts/install-deps.sh)`,
        },
      );
    }
  }
  if (process.getuid?.() !== 0) {
    throw new SifuError(
      'SIFU_ERR_CONFIG',
      'The `local` spawner runs each server as a uid of its own and needs root.',
      {
        logDetail: 'run Sifu as root, or use the docker backend',
      },
    );
  }

  let cgroups: Promise<CgroupSupport> | undefined;
  const cgroupSupport = (): Promise<CgroupSupport> => {
    cgroups ??= detectCgroups(options.cgroupRoot).then((support) => {
      const missing = missingFromSupport(support);
      const detail = support.version === 0 ? support.reason : `cgroup v${support.version}`;
      if (missing.length > 0) {
        options.log?.warn(
          { cgroups: detail, missing },
          `local servers run without ${missing.join(', ')}: the host's cgroups do not allow it`,
        );
      } else {
        options.log?.info({ cgroups: detail }, 'local servers get a cgroup each');
      }
      return support;
    });
    return cgroups as Promise<CgroupSupport>;
  };
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
      launched = await launchSandbox(prepared.argv, prepared.env, prepared.logPath, prepared.cgroup);
    } catch (err) {
      await release(prepared).catch(() => {});
      await rm(prepared.serverDir, { recursive: true, force: true });
      throw err;
    }
    const { child, exited, sandboxPid } = launched;
    const pid = child.pid as number;
    child.unref();

    try {
      const state = await watchLaunch(pid, sandboxPid, exited, prepared, request, signal);
      // Remembered on this host too, so that `list` finds it even if the store forgets it (its host was
      // declared gone, a crash lost the row): beside the socket directory, where no sandbox can see.
      await writeFile(
        serverRecordPath(state.socketDir as string),
        JSON.stringify({ userName: request.userName, serverName: request.serverName, state }),
        { mode: 0o600 },
      );
      context.progress({ progress: 30, message: 'Your server process is running' });
      return { url: prepared.socket.url, state: { ...state } };
    } catch (err) {
      // Whatever went wrong, nothing may be left running: the core forgets a server whose start failed.
      const record = children.get(pid);
      if (record) record.stopping = true;
      await stopProcessGroup(pid, 0).catch(() => {});
      await release(prepared).catch(() => {});
      throw isSifuError(err) ? err : spawnFailed(`watching pid ${pid} at launch: ${String(err)}`, err);
    }
  }

  /** Everything decided before the process exists: its directories, cgroup, environment and argv. */
  async function prepare(request: StartRequest): Promise<Prepared> {
    const { identity } = request;
    if (!identity) {
      throw spawnFailed(
        'the local spawner needs StartRequest.identity (the uid from spawner.local)',
        undefined,
      );
    }
    let serverDir: string | undefined;
    let socket: ServerSocket | undefined;
    let cgroup: ServerCgroup | undefined;
    try {
      await mkdir(logDir, { recursive: true, mode: 0o700 });
      serverDir = await mkdtemp(join(logDir, `${logName(request)}-`));
      const port = await pickFreePort();
      socket = await makeServerSocketDir(runDir, request, identity);
      cgroup = await createServerCgroup(await cgroupSupport(), basename(socket.dir), options.limits ?? {});
      const homeInside = join(SANDBOX_HOME_ROOT, request.userName);
      const env = buildServerEnv({
        parentEnv: process.env,
        home: homeInside,
        port,
        socketPath: join(SANDBOX_SOCKET_DIR, SERVER_SOCKET_NAME),
        baseUrl: request.baseUrl,
        secret: request.secret,
        runtimeDir: SANDBOX_RUNTIME_DIR,
        extraEnv: options.extraEnv,
        requestEnv: { ...request.env, ...hubUrls(request) },
      });
      const argv = sandboxArgv({
        home: request.home,
        homeInside,
        socketDir: socket.dir,
        uid: identity.uid,
        gid: identity.gid,
        readOnlyPaths: options.readOnlyPaths,
        ...(request.hubSocketDir
          ? { hubChannel: { dir: request.hubSocketDir, forwarder: hubForwarderPath() } }
          : {}),
        argv: await checkedCommand(parseCommand(command, env, { forbidden: SECRET_VARIABLES }), env.PATH),
        blockFd: BLOCK_FD,
        infoFd: INFO_FD,
      });
      const logPath = join(serverDir, 'server.log');
      return { serverDir, logPath, port, socket, cgroup, env, argv };
    } catch (err) {
      if (serverDir) await rm(serverDir, { recursive: true, force: true });
      if (socket) await removeServerSocketDir(socket.dir);
      if (cgroup) await removeServerCgroup(cgroup).catch(() => {});
      if (isSifuError(err) && err.code === 'SIFU_ERR_SPAWN_FAILED') throw err;
      throw spawnFailed(isSifuError(err) ? err.message : `preparing the server: ${String(err)}`, err);
    }
  }

  /** What a start made besides the process: every process in its cgroup ended, the cgroup and socket gone. */
  async function release(prepared: {
    cgroup: ServerCgroup | undefined;
    socket: { dir: string };
  }): Promise<void> {
    if (prepared.cgroup) {
      await killCgroup(prepared.cgroup);
      await removeServerCgroup(prepared.cgroup);
    }
    await removeServerSocketDir(prepared.socket.dir);
  }

  /**
   * Identifies the new process for good (its start time) and watches it for `launchWindowMs`: an exit
   * then is a crash the start reports itself, with the log's tail.
   */
  async function watchLaunch(
    pid: number,
    sandboxPid: number,
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
    const sandboxStat = await readProcStat(sandboxPid);
    const pidNs = await pidNamespaceOf(sandboxPid);
    if (!sandboxStat || !pidNs) throw await crashed(await exited);
    return {
      pid,
      pgid: pid,
      startTime: stat.startTime,
      port: prepared.port,
      logPath: prepared.logPath,
      socketDir: prepared.socket.dir,
      sandbox: { pid: sandboxPid, startTime: sandboxStat.startTime, pidNs },
      ...(prepared.cgroup ? { cgroup: prepared.cgroup } : {}),
    };
  }

  async function poll(rawState: Record<string, unknown>): Promise<PollResult> {
    const state = toLocalState(rawState);
    const result = await bwrapStatus(state);
    if (result.status === 'running') return result;
    // bwrap killed on its own leaves its sandbox running (it is no parent the sandbox dies with): the
    // server still answers, and `stop` ends it.
    if (state.sandbox && (await sandboxAlive(state.sandbox))) return { status: 'running' };
    const stat = await readProcStat(state.pid);
    if (!stat || stat.startTime === state.startTime) {
      // Gone for good: nothing is left in its cgroup; the empty cgroup and socket directory go now,
      // since the core forgets a dead server without stopping it.
      await releaseLeftovers(state).catch(() => {});
    }
    return result;
  }

  async function releaseLeftovers(state: LocalState): Promise<void> {
    if (state.cgroup) {
      await killCgroup(state.cgroup);
      await removeServerCgroup(state.cgroup);
    }
    if (state.socketDir) {
      await removeServerSocketDir(state.socketDir);
      await rm(serverRecordPath(state.socketDir), { force: true });
    }
  }

  /** The servers this host's runs directory knows of (started here, not yet stopped). */
  async function list(): Promise<
    Array<{ userName: string; serverName: string; state: Record<string, unknown> }>
  > {
    const names = await readdir(runDir).catch(() => [] as string[]);
    const found: Array<{ userName: string; serverName: string; state: Record<string, unknown> }> = [];
    for (const name of names) {
      if (!name.endsWith(SERVER_RECORD_SUFFIX)) continue;
      try {
        const entry = JSON.parse(await readFile(join(runDir, name), 'utf8')) as {
          userName: string;
          serverName: string;
          state: Record<string, unknown>;
        };
        toLocalState(entry.state);
        found.push(entry);
      } catch {
        // Half-written or foreign: not a server this host can stop.
      }
    }
    return found;
  }

  /** What bwrap's own process says: running, or stopped with its exit status when this process saw it. */
  async function bwrapStatus(state: LocalState): Promise<PollResult> {
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
    const graceMs = stopOptions.graceMs ?? defaultGraceMs;
    if (!stat || stat.startTime === state.startTime) {
      if (state.sandbox) await stopSandbox(state.sandbox, graceMs);
      await stopProcessGroup(state.pgid, state.sandbox ? 0 : graceMs);
      // The belt to the namespace's braces: whatever is left in the cgroup (found again from the state
      // after a restart) ends too, then the cgroup and the socket directory go.
      await releaseLeftovers(state);
    }
    if (record) children.delete(state.pid);
  }

  return { backend: 'local', uidRange: options.uidRange, start, poll, stop, list };
}

const SERVER_RECORD_SUFFIX = '.server.json';

/** Where a running server's record is kept: next to its socket directory, in the runs directory. */
function serverRecordPath(socketDir: string): string {
  return `${socketDir}${SERVER_RECORD_SUFFIX}`;
}

/**
 * The command as parsed, once its program is found on the host's PATH (the sandbox sees the host's /usr
 * and the read-only paths): a missing program fails the start with a message naming it, rather than as
 * a crash of the sandbox.
 */
async function checkedCommand(argv: string[], path: string | undefined): Promise<string[]> {
  const file = argv[0] as string;
  const candidates = file.includes('/')
    ? [file]
    : (path ?? '')
        .split(':')
        .filter(Boolean)
        .map((dir) => join(dir, file));
  for (const candidate of candidates) {
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return argv;
  }
  throw spawnFailed(
    `command not found: '${file}' (check \`spawner.command\` and PATH=${path ?? ''})`,
    undefined,
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
