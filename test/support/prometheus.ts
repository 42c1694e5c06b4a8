/**
 * A real Prometheus (Debian's `prometheus`, 2.42) scraping one target every second, with its own config,
 * data dir and port on 127.0.0.1, for tests that check what Sifu exports the way an operator's
 * Prometheus sees it. `scripts/install-deps.sh test` installs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { collectOutput, waitFor } from './process.js';

const PROMETHEUS = '/usr/bin/prometheus';

export interface Prometheus {
  url: string;
  /** An instant query over the HTTP API: the result vector, or throws with Prometheus' error. */
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  output(): string;
  stop(): Promise<void>;
}

export async function startPrometheus(options: {
  /** `host:port` of the target. */
  target: string;
  metricsPath: string;
  /** Sent as `Authorization: Bearer <token>` with every scrape. */
  bearerToken?: string;
}): Promise<Prometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'sifu-prometheus-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: sifu',
    `    metrics_path: ${options.metricsPath}`,
    ...(options.bearerToken ? ['    authorization:', `      credentials: ${options.bearerToken}`] : []),
    '    static_configs:',
    `      - targets: ['${options.target}']`,
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), `${config}\n`);
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = collectOutput(child);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const query: Prometheus['query'] = async (expr) => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== 'success') throw new Error(`query ${expr}: ${body.error}`);
    return body.data?.result ?? [];
  };
  try {
    await waitFor(
      'prometheus to be ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited:\n${output()}`);
        return fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, query, output, stop };
}
