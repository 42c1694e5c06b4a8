import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { SifuError } from '../errors.js';
import { isDnsHost } from '../routes.js';
import { configSchema, envName, MAX_WORKERS, type SifuConfig, walkLeaves } from './schema.js';

export interface LoadOptions {
  /** Path of a JSON config file; keys as in docs/configuration.md. */
  file?: string;
  /** Environment to read `SIFU_*` variables from (default: none). */
  env?: NodeJS.ProcessEnv;
  /** Values that win over file and environment (tests, CLI flags). */
  overrides?: Record<string, unknown>;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const prev = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && prev && typeof prev === 'object'
        ? deepMerge(prev as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

export function formatIssues(issues: readonly z.core.$ZodIssue[], source: (path: string) => string): string {
  return issues
    .map((issue) => {
      const path = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `\`${path ? `${path}.` : ''}${k}\` is not a known option`).join('; ');
      }
      return `\`${path}\`${source(path)} ${issue.message}`;
    })
    .join('; ');
}

/** Reads file, then `SIFU_*` environment, then overrides; validates; fails naming the option's full path. */
export function loadConfig(options: LoadOptions = {}): SifuConfig {
  let raw: Record<string, unknown> = {};
  const origin = new Map<string, string>();
  if (options.file) {
    try {
      raw = JSON.parse(readFileSync(options.file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new SifuError(
        'SIFU_ERR_CONFIG',
        `cannot read config file ${options.file}: ${(err as Error).message}`,
      );
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new SifuError('SIFU_ERR_CONFIG', `config file ${options.file} must hold a JSON object`);
    }
  }
  const fromEnv: Record<string, unknown> = {};
  const env = options.env ?? {};
  for (const { path } of walkLeaves()) {
    const name = envName(path);
    const value = env[name];
    if (value !== undefined && value !== '') {
      setPath(fromEnv, path, value);
      origin.set(path.join('.'), name);
    }
  }
  raw = deepMerge(deepMerge(raw, fromEnv), options.overrides ?? {});
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const message = formatIssues(parsed.error.issues, (path) => {
      const from = origin.get(path);
      return from ? ` (from ${from})` : '';
    });
    throw new SifuError('SIFU_ERR_CONFIG', `invalid configuration: ${message}`);
  }
  const config = parsed.data;
  if (!isAbsolute(config.dataDir)) config.dataDir = resolve(config.dataDir);
  checkHubEndpoint(config);
  return config;
}

/** Programs of JupyterHub single-user servers: what images built for JupyterHub start. */
const SINGLEUSER_PROGRAMS = new Set(['jupyterhub-singleuser', 'start-singleuser.sh']);

/**
 * `spawner.hubEndpoint` resolved for `backend`. `auto`: when the command runs one of those programs (a
 * word of it, by its base name: `tini -- /opt/conda/bin/jupyterhub-singleuser` too). A plain Jupyter
 * server needs none, and with none it runs no forwarder and holds no hub token.
 */
function hubEndpointWanted(config: SifuConfig, backend: string): boolean {
  if (backend !== 'local' && backend !== 'docker' && backend !== 'swarm') return false;
  const mode = config.spawner.hubEndpoint;
  if (mode !== 'auto') return mode === 'on';
  return config.spawner.command
    .split(/\s+/)
    .some((word) => SINGLEUSER_PROGRAMS.has(word.slice(word.lastIndexOf('/') + 1)));
}

/**
 * The warm pool's servers run Jupyter's NotebookApp (its launcher), set up before their learner is
 * known, never `spawner.command`, so they cannot have a hub endpoint (docs/singleuser.md): the pool and
 * the endpoint together are refused rather than handing learners servers of another kind.
 */
function checkHubEndpoint(config: SifuConfig): void {
  const { backend, pool } = config.spawner;
  if (backend === 'docker' && pool.size > 0 && hubEndpointWanted(config, backend))
    throw new SifuError(
      'SIFU_ERR_CONFIG',
      "`spawner.pool.size` must be 0 when servers get a hub endpoint (`spawner.hubEndpoint`, on for a JupyterHub single-user `spawner.command`): the warm pool's servers are plain Jupyter servers started before their learner is known",
    );
}

/**
 * Whether each server gets a hub endpoint of its own (`src/api/server-hub.ts`): `spawner.hubEndpoint`
 * for the spawner's `backend` (a test double gets none), with any number of workers (one listens on
 * each endpoint, another takes over if it dies).
 */
export function serverHubEnabled(config: SifuConfig, backend: string): boolean {
  return hubEndpointWanted(config, backend);
}

export function hubOrigin(config: SifuConfig): string {
  return config.hub.publicUrl ?? `http://${config.hub.host}:${config.hub.port}`;
}

const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Loopback defaults to `localhost`, a DNS name, so that the default set-up has per-user origins. */
export function notebookOrigin(config: SifuConfig): string {
  if (config.notebook.publicUrl) return config.notebook.publicUrl;
  const host = LOOPBACK_HOST.test(config.notebook.host) ? 'localhost' : config.notebook.host;
  return `http://${host}:${config.notebook.port}`;
}

/** Whether each learner gets an origin of their own (`notebook.userOrigins`, `auto` resolved). */
export function userOrigins(config: SifuConfig): boolean {
  const mode = config.notebook.userOrigins;
  return mode === 'on' || (mode === 'auto' && isDnsHost(notebookOrigin(config)));
}

/**
 * How many Sifu processes `sifu serve` runs: `workers`, `auto` resolved to one per core, but to one with
 * a warm pool, which only the first worker holds and claims from (starts another worker answered would
 * all be cold).
 */
export function workerCount(config: SifuConfig, cores = availableParallelism()): number {
  if (config.workers !== 'auto') return config.workers;
  const warmPool = config.spawner.backend === 'docker' && config.spawner.pool.size > 0;
  return warmPool ? 1 : Math.min(MAX_WORKERS, Math.max(1, cores));
}

export function storeUrl(config: SifuConfig): string {
  return config.store.url ?? `sqlite:${resolve(config.dataDir, 'sifu.sqlite')}`;
}
