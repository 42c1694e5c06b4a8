import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from './dist.js';
import { freePort } from './free-port.js';
import { collectOutput, waitUntilServing } from './process.js';

export const BUILT_ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface BuiltSifu {
  hubUrl: string;
  notebookUrl: string;
  dataDir: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, wait for the exit, remove the data dir. */
  stop(): Promise<void>;
}

/**
 * Sifu as `make run` starts it: `node dist/cli/main.js serve` (built first if out of date), the default
 * configuration but for ports from the OS, a fresh data dir, one worker and what `env` sets. `openFiles`
 * starts it under that `ulimit -n`, for tests about descriptors. `defaultWorkers` leaves `workers` at its
 * default (one per core), for the tests about workers; the others run one process, which is what they
 * test, at a fraction of the memory and start-up time.
 */
export async function startBuiltSifu(
  env: Record<string, string> = {},
  options: { openFiles?: number; defaultWorkers?: boolean } = {},
): Promise<BuiltSifu> {
  const cli = ensureBuilt();
  const dataDir = await mkdtemp(join(tmpdir(), 'sifu-built-'));
  const hubPort = await freePort();
  const notebookPort = await freePort();
  const command = options.openFiles
    ? ['/bin/sh', ['-c', `ulimit -n ${options.openFiles} && exec "$0" "$@"`, process.execPath, cli, 'serve']]
    : [process.execPath, [cli, 'serve']];
  const child = spawn(command[0] as string, command[1] as string[], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      SIFU_DATA_DIR: dataDir,
      SIFU_ADMIN_TOKEN: BUILT_ADMIN_TOKEN,
      SIFU_HUB_PORT: String(hubPort),
      SIFU_NOTEBOOK_PORT: String(notebookPort),
      // One shared origin on 127.0.0.1: Node's clients do not resolve the per-user *.localhost names.
      SIFU_NOTEBOOK_PUBLIC_URL: `http://127.0.0.1:${notebookPort}`,
      SIFU_LOG_LEVEL: 'warn',
      ...(options.defaultWorkers ? {} : { SIFU_WORKERS: '1' }),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitUntilServing(child, hubUrl, output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { hubUrl, notebookUrl: `http://127.0.0.1:${notebookPort}`, dataDir, child, output, stop };
}
