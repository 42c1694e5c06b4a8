/**
 * One replica of the several-hosts benchmark as a process of its own (so that its memory is its own):
 * a real Sifu (`startSifu`) with the stand-in backend, driven by bench/hosts.ts over IPC. Run as
 * `node --expose-gc --import tsx bench/hosts-replica.ts` with a fork's IPC channel; the first message is
 * `boot` with its `ReplicaSettings`.
 */

import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import pino, { type Logger } from 'pino';
import { type Sifu, startSifu } from '../src/app/start.js';
import { loadConfig } from '../src/config/load.js';
import type { SifuConfig } from '../src/config/schema.js';
import { freePort } from '../test/support/free-port.js';
import { StandinControl, StandinSpawner } from './support/standin-spawner.js';

export interface ReplicaSettings {
  hostId: string;
  storeUrl: string;
  dataDir: string;
  /** The storage root every replica shares. */
  storageRoot: string;
  relayPort: number;
  /** The stand-in process's control socket. */
  control: string;
  /** `spawner.routeSyncInterval` (s): 600 leaves routes to pushed changes alone. */
  routeSyncInterval: number;
  maxConcurrentStarts: number;
}

/** The fields of Sifu's `re-adopted running servers` log line. */
export interface AdoptLog {
  adopted: number;
  forgotten: number;
  orphans: number;
  remote: number;
}

/** A replica's configuration: loopback ports, its relay, the shared store and storage, no culler. */
export async function replicaConfig(settings: ReplicaSettings): Promise<SifuConfig> {
  const notebookPort = await freePort();
  return loadConfig({
    overrides: {
      dataDir: settings.dataDir,
      hub: { host: '127.0.0.1', port: await freePort() },
      notebook: { host: '127.0.0.1', port: notebookPort, publicUrl: `http://localhost:${notebookPort}` },
      store: { url: settings.storeUrl },
      storage: { root: settings.storageRoot },
      cluster: {
        hostId: settings.hostId,
        relayUrl: `http://127.0.0.1:${settings.relayPort}`,
        relayHost: '127.0.0.1',
        relayPort: settings.relayPort,
      },
      spawner: {
        routeSyncInterval: settings.routeSyncInterval,
        maxConcurrentStarts: settings.maxConcurrentStarts,
        startTimeout: 60,
      },
      culler: { enabled: false },
      log: { level: 'info' },
    },
  });
}

/**
 * A logger that keeps only what the bench reads (the adoption line) and warnings and errors, which go to
 * stderr: a thousand `server ready` lines are not written anywhere.
 */
export function benchLogger(onAdopt: (adopt: AdoptLog) => void, label: string): Logger {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = chunk.toString('utf8');
      if (line.includes('"re-adopted running servers"')) onAdopt(JSON.parse(line) as AdoptLog);
      else if (/"level":(4|5|6)\d/.test(line)) process.stderr.write(`[${label}] ${line}`);
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}

type Command =
  | { op: 'boot'; settings: ReplicaSettings }
  | { op: 'create'; users: string[]; concurrency: number }
  | { op: 'routes' }
  | { op: 'memory' }
  | { op: 'restart'; expectRoutes: number }
  | { op: 'routed'; count: number }
  | { op: 'stop' };

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (checking every ms) until the replica routes `count` servers. */
async function untilRoutes(sifu: Sifu, count: number, boundMs: number): Promise<void> {
  const deadline = performance.now() + boundMs;
  while (sifu.manager.runningRoutes().length < count) {
    if (performance.now() > deadline) {
      throw new Error(`${sifu.manager.runningRoutes().length} routes, not ${count}, after ${boundMs} ms`);
    }
    await sleep(1);
  }
}

function memory(): MemorySample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external };
}

function runReplica(): void {
  let settings: ReplicaSettings | undefined;
  let config: SifuConfig | undefined;
  let sifu: Sifu | undefined;
  let control: StandinControl | undefined;
  let lastAdopt: AdoptLog | undefined;
  let bootStartedAt = 0;
  const current = (): Sifu => {
    if (!sifu) throw new Error('not booted');
    return sifu;
  };

  /** Starts Sifu (as a restart does: a new store, a new backend connection); ms until it serves. */
  const boot = async (): Promise<{ servingMs: number }> => {
    const s = settings as ReplicaSettings;
    const t0 = performance.now();
    bootStartedAt = t0;
    control = await StandinControl.connect(s.control);
    sifu = await startSifu(config as SifuConfig, {
      spawner: new StandinSpawner(control, s.hostId),
      log: benchLogger((adopt) => {
        lastAdopt = adopt;
      }, s.hostId),
    });
    return { servingMs: performance.now() - t0 };
  };

  const create = async (users: string[], concurrency: number) => {
    const running = current();
    const t0 = performance.now();
    const failed: string[] = [];
    let next = 0;
    const lane = async () => {
      while (next < users.length) {
        const user = users[next++] as string;
        await running.store.ensureUser(user);
        const progress = await running.manager.start(user, '', { here: true });
        await progress.done;
        if (progress.outcome !== 'ready')
          failed.push(`${user}: ${progress.error?.logDetail ?? progress.error?.message}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    return { ms: performance.now() - t0, failed };
  };

  const handle = async (command: Command): Promise<unknown> => {
    switch (command.op) {
      case 'boot':
        settings = command.settings;
        config = await replicaConfig(settings);
        return boot();
      case 'create':
        return create(command.users, command.concurrency);
      case 'routes':
        return {
          total: sifu?.manager.runningRoutes().length ?? 0,
          local: sifu?.manager.localRoutes().length ?? 0,
        };
      case 'memory':
        return memory();
      case 'restart': {
        await sifu?.stop();
        control?.close();
        sifu = undefined;
        lastAdopt = undefined;
        // The old instance's garbage is not the new one's start-up cost.
        memory();
        const t0 = performance.now();
        const { servingMs } = await boot();
        await untilRoutes(current(), command.expectRoutes, 30_000);
        const routedMs = performance.now() - t0;
        return { servingMs, routedMs, adopt: lastAdopt, routes: current().manager.runningRoutes().length };
      }
      case 'routed':
        // A fresh process's boot: from its call to startSifu until it routes `count` servers.
        await untilRoutes(current(), command.count, 30_000);
        return { routedMs: performance.now() - bootStartedAt, adopt: lastAdopt };
      case 'stop':
        await sifu?.stop();
        control?.close();
        sifu = undefined;
        return {};
    }
  };

  process.on('message', (message: { seq: number; command: Command }) => {
    handle(message.command).then(
      (result) => process.send?.({ seq: message.seq, result }),
      (err: unknown) =>
        process.send?.({
          seq: message.seq,
          error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        }),
    );
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) runReplica();
