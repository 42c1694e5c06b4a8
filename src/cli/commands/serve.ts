import cluster from 'node:cluster';
import type { Command } from 'commander';
import { startSifu, VERSION } from '../../app/start.js';
import { userOrigins, workerCount } from '../../config/load.js';
import type { SifuConfig } from '../../config/schema.js';
import { prepareWorkerMetrics, superviseWorkerMetrics } from '../../metrics/cluster.js';
import type { CliContext } from '../context.js';

const WORKER_INDEX = 'SIFU_WORKER_INDEX';

export function registerServeCommand(program: Command, { config }: CliContext): void {
  program
    .command('serve')
    .description('Start the hub and the notebook proxy; re-adopt servers that are still running.')
    .action(async () => {
      await serve(config());
    });
}

/**
 * `sifu serve`: a supervisor that forks `workers` Sifu processes (by default one per core), sharing the
 * hub and notebook ports (node:cluster) so the proxy uses every core; or, with one worker, that one process.
 * Workers share sessions, tickets and routes through the store; only the first does the once-per-host work
 * (pool, culler, purges). A worker that dies is started again. Learners' servers outlive every one of them.
 */
export async function serve(config: SifuConfig): Promise<void> {
  const count = workerCount(config);
  if (count > 1 && cluster.isPrimary) {
    superviseWorkers(count);
    return;
  }
  // Before anything slow: the supervisor may gather this worker's metrics as soon as it runs.
  prepareWorkerMetrics();
  const index = Number(process.env[WORKER_INDEX] ?? '0');
  const sifu = await startSifu(config, { singletons: index === 0, workers: count });
  if (index === 0) {
    const workers = count > 1 ? ` (${count} workers)` : '';
    // With per-user origins, ada's notebooks are at <scheme>://ada.<notebook host>/user/ada/.
    const notebooks = userOrigins(config) ? sifu.notebookUrl.replace('://', '://<name>.') : sifu.notebookUrl;
    console.log(
      `Sifu ${VERSION}${workers}: sign in at ${sifu.hubUrl}/hub/login · notebooks at ${notebooks}/user/<name>/`,
    );
  }
  const shutdown = (signal: string) => {
    if (index === 0) console.log(`${signal}: stopping Sifu (learners' servers keep running)`);
    void sifu.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

function superviseWorkers(count: number): void {
  let stopping = false;
  // A worker asked for /hub/metrics asks here; the answer is every worker's metrics together.
  superviseWorkerMetrics();
  const fork = (index: number) => {
    const worker = cluster.fork({ [WORKER_INDEX]: String(index) });
    worker.on('exit', (code, signal) => {
      if (stopping) return;
      console.error(`sifu: worker ${index} exited (${signal ?? `code ${code}`}); starting it again`);
      setTimeout(() => fork(index), 1000).unref();
    });
  };
  for (let index = 0; index < count; index++) fork(index);
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {});
    let left = workers.length;
    if (left === 0) process.exit(0);
    for (const worker of workers) {
      worker?.once('exit', () => {
        left -= 1;
        if (left === 0) process.exit(0);
      });
      worker?.process.kill(signal);
    }
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
