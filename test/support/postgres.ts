/**
 * A real, throw-away PostgreSQL server for tests: Debian's PostgreSQL 15 binaries on a fresh data
 * directory under the OS temp dir, listening on 127.0.0.1 (and the `listen` addresses), on a port the OS
 * picked, with trust authentication for the superuser `postgres`. `stop()` shuts it down and removes the directory;
 * `restart()` shuts it down and starts it again on the same port and data (a failover, as clients see it).
 *
 * Missing binaries are an error, not a reason to skip: `scripts/install-deps.sh test` installs them.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';

export interface RunningPostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`: the maintenance database, as superuser. */
  url: string;
  /** Fast shutdown, then the data directory is removed. Idempotent. */
  stop(): Promise<void>;
  /**
   * Fast shutdown (every client is disconnected), then the server starts again on the same port and data
   * directory; resolves once it accepts connections again. `onDown` runs once the old server has exited.
   */
  restart(options?: { onDown?: () => void | Promise<void> }): Promise<void>;
}

const BIN_DIR = process.env.SIFU_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
/** After a restart the port may still be held for a moment: how long to keep trying to bind it. */
const REBIND_TIMEOUT_MS = 10_000;

/** As root, PostgreSQL refuses to run: run its binaries as the `postgres` OS user instead. */
function asPostgresUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
}

function chownToPostgresUser(paths: string[]): void {
  if (process.getuid?.() !== 0) return;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  for (const path of paths) chownSync(path, uid, gid);
}

async function waitUntilAccepting(url: string, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(
        `postgres exited (${server.exitCode ?? server.signalCode}) before accepting connections:\n${log()}`,
      );
    }
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`postgres did not accept connections within ${READY_TIMEOUT_MS} ms:\n${log()}`, {
          cause: err,
        });
      }
    } finally {
      await client.end().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function urlOf(port: number): string {
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/**
 * `listen`: addresses to listen on besides 127.0.0.1 (e.g. a test bridge's, for clients in network
 * namespaces); clients in each one's /24 are trusted as on loopback. `url` stays on 127.0.0.1.
 */
export async function startPostgres(options: { listen?: string[] } = {}): Promise<RunningPostgres> {
  const initdb = join(BIN_DIR, 'initdb');
  const postgres = join(BIN_DIR, 'postgres');
  for (const binary of [initdb, postgres]) {
    if (!existsSync(binary)) {
      throw new Error(
        `PostgreSQL 15 is needed for this test but ${binary} does not exist: run \`scripts/install-deps.sh test\` (installs Debian's postgresql).`,
      );
    }
  }

  const root = mkdtempSync(join(tmpdir(), 'sifu-pg-'));
  const dataDir = join(root, 'data');
  const socketDir = join(root, 'socket');
  let server: ChildProcess | undefined;
  let stopped: Promise<void> | undefined;

  let port = 0;

  async function shutDown(): Promise<void> {
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = once(server, 'exit');
      signalPostmaster('SIGINT'); // fast shutdown: disconnect clients, checkpoint, exit
      const timer = setTimeout(() => signalPostmaster('SIGQUIT'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
  }

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      process.off('exit', killOnExit);
      await shutDown();
      rmSync(root, { recursive: true, force: true });
    })();
    return stopped;
  };

  /** Starts the postmaster on `port` and waits until it accepts connections; says why if it could not. */
  async function launch(): Promise<{ ok: true } | { ok: false; lostPort: boolean; error: unknown }> {
    const [command, args] = asPostgresUser(postgres, [
      '-D',
      dataDir,
      '-h',
      ['127.0.0.1', ...(options.listen ?? [])].join(','),
      '-p',
      String(port),
      '-k',
      socketDir,
      // A test database need not survive a crash: skip the disk flushes.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ]);
    let log = '';
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    server = child;
    const append = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    try {
      await waitUntilAccepting(urlOf(port), child, () => log);
      return { ok: true };
    } catch (error) {
      const lostPort = child.exitCode !== null && /could not bind|address already in use/i.test(log);
      return { ok: false, lostPort, error };
    }
  }

  const restart = async (options: { onDown?: () => void | Promise<void> } = {}): Promise<void> => {
    if (stopped) throw new Error('postgres was stopped');
    await shutDown();
    await options.onDown?.();
    const deadline = Date.now() + REBIND_TIMEOUT_MS;
    for (;;) {
      const result = await launch();
      if (result.ok) return;
      if (!result.lostPort || Date.now() > deadline) throw result.error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  // The postmaster may be a grandchild (runuser forks), so signal it by the pid it records itself.
  function signalPostmaster(signal: NodeJS.Signals): void {
    try {
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, signal);
    } catch {
      server?.kill(signal);
    }
  }
  // Best effort if the test process ends without calling stop(): do not leave a server running.
  function killOnExit(): void {
    signalPostmaster('SIGQUIT');
  }

  try {
    mkdirSync(dataDir);
    mkdirSync(socketDir);
    chownToPostgresUser([root, dataDir, socketDir]);

    const [initCommand, initArgs] = asPostgresUser(initdb, [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    try {
      execFileSync(initCommand, initArgs, { stdio: 'pipe', encoding: 'utf8' });
    } catch (err) {
      const output = (err as { stderr?: string; stdout?: string }).stderr ?? '';
      throw new Error(`initdb failed: ${output}`, { cause: err });
    }
    for (const address of options.listen ?? []) {
      appendFileSync(join(dataDir, 'pg_hba.conf'), `host all all ${address}/24 trust\n`);
    }

    process.on('exit', killOnExit);
    // The OS picks the port; another process may take it before postgres binds it, so retry then.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const result = await launch();
      if (result.ok) return { url: urlOf(port), stop, restart };
      if (attempt >= 3 || !result.lostPort) throw result.error;
    }
  } catch (err) {
    await stop();
    throw err;
  }
}
