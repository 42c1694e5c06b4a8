import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSifuError, type SifuError } from '../errors.js';
import { hostHeaderOf, httpAddressOf } from '../routes.js';
import { sleep } from './cancelled.js';
import { waitUntilReady } from './ready.js';
import type { PollResult, ProgressEvent, Spawner, Started, StartRequest } from './spawner.js';

/**
 * How a backend runs each server the suite needs. The doubles are `src/spawner/doubles/fake-server.py`
 * in its modes (see there); each backend says how it runs that script (a local process, or inside its
 * notebook image), as they are just other server commands to it.
 */
export interface ContractCommands {
  /** A real Jupyter server, normally `DEFAULT_SPAWNER_COMMAND`. */
  jupyter: string;
  /** `fake-server.py fast`: answers at once; for the cases where real Jupyter is not the point. */
  fast: string;
  /** `fake-server.py slow`: starts answering after about a second. */
  slow: string;
  /** `fake-server.py never-ready`: runs, never answers. */
  neverReady: string;
  /** `fake-server.py crash-at-start`: prints a line and exits with code 3. */
  crashAtStart: string;
  /** `fake-server.py crash-while-running`: answers, exits with code 7 when asked by `GET <base>crash`. */
  crashWhileRunning: string;
  /** `fake-server.py ignores-sigterm`: answers, only a forced stop ends it. */
  ignoresSigterm: string;
}

export interface SpawnerContractOptions {
  commands: ContractCommands;
  /** The server process's arguments as any user of its host can see them (e.g. `/proc/<pid>/cmdline`). */
  readArgv(started: Started): Promise<string[]>;
  /** Bound on a real Jupyter start (default 60 s: generous, as test machines may be busy). */
  jupyterTimeoutMs?: number;
  /** Who must own the homes the suite makes, when servers run as a user of their own (containers). */
  homeOwner?: { uid: number; gid: number };
}

/** Makes a backend running `command` for every server; may be called several times, like Sifu restarting. */
export type MakeSpawner = (options: { command: string }) => Spawner | Promise<Spawner>;

const FAKE_TIMEOUT_MS = 20_000;
const NEVER_READY_TIMEOUT_MS = 1_000;
/** Bound on waiting for a crash to show in `poll`; a backend normally sees it within a poll or two. */
const CRASH_VISIBLE_WITHIN_MS = 10_000;

/**
 * The one suite every spawner backend runs (`local`, later `docker` and `swarm`), so that they all keep
 * the contract documented on `Spawner`. Each case cleans up what it started, even when it fails.
 */
export function spawnerContract(
  name: string,
  makeSpawner: MakeSpawner,
  options: SpawnerContractOptions,
): void {
  const { commands } = options;
  const jupyterTimeoutMs = options.jupyterTimeoutMs ?? 60_000;

  describe(`spawner contract: ${name}`, () => {
    describe('a real Jupyter server', () => {
      const cleanup = new Cleanup(options.homeOwner);
      let spawner: Spawner;
      let req: StartRequest;
      let started: Started;
      let events: ProgressEvent[];
      after(() => cleanup.run());

      before(async () => {
        spawner = await makeSpawner({ command: commands.jupyter });
        req = await cleanup.request('ada');
        await writeFile(join(req.home, 'hello-from-sifu.txt'), 'hi\n');
        ({ started, events } = await launch(spawner, req, cleanup, jupyterTimeoutMs));
      });

      it('reports progress while starting, between 0 and 100 and never decreasing', () => {
        const values = events.map((e) => e.progress);
        assert.ok(values.length > 0, 'start reports progress');
        assert.ok(values.every((v) => v >= 0 && v <= 100) && events.every((e) => e.message), `${values}`);
        assert.deepEqual(
          values,
          [...values].sort((a, b) => a - b),
        );
      });

      it('polls as running once ready', async () => {
        assert.deepEqual(await spawner.poll(started.state), { status: 'running' });
      });

      it('answers a request that carries the secret, and refuses one without it or with another', async () => {
        const path = `${req.baseUrl}api/status`;
        assert.equal((await get(started.url, path, req.secret)).status, 200);
        assert.ok([401, 403].includes((await get(started.url, path)).status), 'no secret');
        assert.ok(
          [401, 403].includes((await get(started.url, path, `${req.secret}x`)).status),
          'wrong secret',
        );
      });

      it("serves the user's home as its root directory", async () => {
        const listing = await get(started.url, `${req.baseUrl}api/contents/`, req.secret);
        assert.equal(listing.status, 200);
        const names = (JSON.parse(listing.body) as { content: Array<{ name: string }> }).content.map(
          (e) => e.name,
        );
        assert.ok(names.includes('hello-from-sifu.txt'), `listing: ${names}`);
      });

      it('never has the secret in its process arguments', async () => {
        const argv = await options.readArgv(started);
        assert.ok(argv.length > 0, 'the arguments could be read');
        assert.ok(!argv.some((arg) => arg.includes(req.secret)), 'the secret is in argv');
      });

      it('stops, then polls as stopped and no longer answers; a second stop resolves', async () => {
        await spawner.stop(started.state, { graceMs: 10_000 });
        assert.equal((await spawner.poll(started.state)).status, 'stopped');
        await assert.rejects(get(started.url, `${req.baseUrl}api`, req.secret));
        await spawner.stop(started.state);
        assert.equal((await spawner.poll(started.state)).status, 'stopped');
      });
    });

    it('lets a new spawner instance poll and stop a server from its stored state alone', async (t) => {
      const cleanup = new Cleanup(options.homeOwner);
      t.after(() => cleanup.run());
      const first = await makeSpawner({ command: commands.fast });
      const req = await cleanup.request('grace');
      const { started } = await launch(first, req, cleanup, FAKE_TIMEOUT_MS);

      const stored = JSON.parse(JSON.stringify(started.state)) as Record<string, unknown>;
      assert.doesNotMatch(JSON.stringify(stored), new RegExp(req.secret), 'the state holds no secret');
      const second = await makeSpawner({ command: commands.fast });
      assert.deepEqual(await second.poll(stored), { status: 'running' });
      await second.stop(stored);
      assert.equal((await second.poll(stored)).status, 'stopped');
      assert.equal((await first.poll(started.state)).status, 'stopped');
      await assert.rejects(get(started.url, `${req.baseUrl}api`, req.secret));
    });

    it("gives two users' servers different urls, each answering only its own secret", async (t) => {
      const cleanup = new Cleanup(options.homeOwner);
      t.after(() => cleanup.run());
      const spawner = await makeSpawner({ command: commands.fast });
      const [reqA, reqB] = await Promise.all([cleanup.request('alan'), cleanup.request('barbara')]);
      const [a, b] = await Promise.all([
        launch(spawner, reqA, cleanup, FAKE_TIMEOUT_MS),
        launch(spawner, reqB, cleanup, FAKE_TIMEOUT_MS),
      ]);
      assert.notEqual(a.started.url, b.started.url);
      assert.equal((await get(a.started.url, `${reqA.baseUrl}api`, reqA.secret)).status, 200);
      assert.equal((await get(b.started.url, `${reqB.baseUrl}api`, reqB.secret)).status, 200);
      assert.equal((await get(a.started.url, `${reqA.baseUrl}api`, reqB.secret)).status, 403);
      assert.equal((await get(b.started.url, `${reqB.baseUrl}api`, reqA.secret)).status, 403);
      await spawner.stop(a.started.state);
      assert.equal((await spawner.poll(a.started.state)).status, 'stopped');
      assert.deepEqual(
        await spawner.poll(b.started.state),
        { status: 'running' },
        'stopping one spares the other',
      );
    });

    it('forces a server that ignores the graceful stop after graceMs', async (t) => {
      const cleanup = new Cleanup(options.homeOwner);
      t.after(() => cleanup.run());
      const spawner = await makeSpawner({ command: commands.ignoresSigterm });
      const req = await cleanup.request('hedy');
      const { started } = await launch(spawner, req, cleanup, FAKE_TIMEOUT_MS);
      await spawner.stop(started.state, { graceMs: 200 });
      assert.equal((await spawner.poll(started.state)).status, 'stopped');
    });

    describe('failure doubles', () => {
      it('slow: becomes ready after a delay, within the timeout', async (t) => {
        const cleanup = new Cleanup(options.homeOwner);
        t.after(() => cleanup.run());
        const spawner = await makeSpawner({ command: commands.slow });
        const req = await cleanup.request('sloane');
        const { started, ready } = await launch(spawner, req, cleanup, FAKE_TIMEOUT_MS);
        assert.ok(ready.attempts > 1, 'the server was not ready at once');
        assert.deepEqual(await spawner.poll(started.state), { status: 'running' });
      });

      it('never ready: fails with SIFU_ERR_SPAWN_TIMEOUT, and stop then leaves nothing running', async (t) => {
        const cleanup = new Cleanup(options.homeOwner);
        t.after(() => cleanup.run());
        const spawner = await makeSpawner({ command: commands.neverReady });
        const req = await cleanup.request('nevin');
        const started = await spawner.start(req, quietContext());
        cleanup.stopLater(spawner, started.state);
        await assert.rejects(
          waitUntilReady({ ...readyOptions(spawner, started, req), timeoutMs: NEVER_READY_TIMEOUT_MS }),
          hasCode('SIFU_ERR_SPAWN_TIMEOUT'),
        );
        // What the core does next. The double was alive until then, so this proves stop's work.
        assert.deepEqual(await spawner.poll(started.state), { status: 'running' });
        await spawner.stop(started.state);
        assert.equal((await spawner.poll(started.state)).status, 'stopped');
      });

      it('crash at start: fails with SIFU_ERR_SPAWN_CRASHED, the reason in logDetail only', async (t) => {
        const cleanup = new Cleanup(options.homeOwner);
        t.after(() => cleanup.run());
        const spawner = await makeSpawner({ command: commands.crashAtStart });
        const req = await cleanup.request('crash');
        // Either `start` sees the crash or `waitUntilReady` does, depending on the backend and timing.
        const failure = await launch(spawner, req, cleanup, FAKE_TIMEOUT_MS).then(
          () => assert.fail('the start succeeded'),
          (err: unknown) => err,
        );
        assert.ok(isSifuError(failure), `not a SifuError: ${String(failure)}`);
        assert.equal(failure.code, 'SIFU_ERR_SPAWN_CRASHED');
        assert.match(failure.logDetail ?? '', /crashing at start/, 'logDetail has the server output');
        assert.doesNotMatch(failure.message, /crashing at start/, 'the learner does not see it');
        for (const state of cleanup.states()) assert.equal((await spawner.poll(state)).status, 'stopped');
      });

      it('crash while running: poll turns to stopped with the exit code', async (t) => {
        const cleanup = new Cleanup(options.homeOwner);
        t.after(() => cleanup.run());
        const spawner = await makeSpawner({ command: commands.crashWhileRunning });
        const req = await cleanup.request('crasher');
        const { started } = await launch(spawner, req, cleanup, FAKE_TIMEOUT_MS);
        assert.deepEqual(await spawner.poll(started.state), { status: 'running' });

        await get(started.url, `${req.baseUrl}crash`, req.secret).catch(() => undefined);
        const result = await pollUntilStopped(spawner, started.state);
        assert.equal(result.status, 'stopped');
        assert.equal(result.status === 'stopped' ? result.exitCode : undefined, 7);
      });
    });
  });
}

/** Collects what a case made (servers, homes) and undoes it all, servers first. */
class Cleanup {
  private readonly servers: Array<{ spawner: Spawner; state: Record<string, unknown> }> = [];
  private readonly dirs: string[] = [];

  constructor(private readonly homeOwner?: { uid: number; gid: number }) {}

  async request(userName: string): Promise<StartRequest> {
    const home = await mkdtemp(join(tmpdir(), `sifu-contract-${userName}-`));
    this.dirs.push(home);
    if (this.homeOwner) await chown(home, this.homeOwner.uid, this.homeOwner.gid);
    return {
      userName,
      serverName: '',
      baseUrl: `/user/${userName}/`,
      secret: randomBytes(24).toString('hex'),
      home,
    };
  }

  stopLater(spawner: Spawner, state: Record<string, unknown>): void {
    this.servers.push({ spawner, state });
  }

  states(): Array<Record<string, unknown>> {
    return this.servers.map((s) => s.state);
  }

  async run(): Promise<void> {
    const stops = await Promise.allSettled(
      this.servers.map((s) => s.spawner.stop(s.state, { graceMs: 2_000 })),
    );
    await Promise.all(this.dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    const failed = stops.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** Starts and waits as the core does, registering the server for cleanup as soon as it exists. */
async function launch(
  spawner: Spawner,
  req: StartRequest,
  cleanup: Cleanup,
  timeoutMs: number,
): Promise<{ started: Started; ready: { attempts: number }; events: ProgressEvent[] }> {
  /** What `start` itself reported. */
  const events: ProgressEvent[] = [];
  const context = { progress: (e: ProgressEvent) => events.push(e), signal: new AbortController().signal };
  const started = await spawner.start(req, context);
  cleanup.stopLater(spawner, started.state);
  const ready = await waitUntilReady({ ...readyOptions(spawner, started, req), timeoutMs });
  return { started, ready, events };
}

function readyOptions(spawner: Spawner, started: Started, req: StartRequest) {
  return {
    url: started.url,
    baseUrl: req.baseUrl,
    secret: req.secret,
    poll: () => spawner.poll(started.state),
  };
}

function quietContext() {
  return { progress: () => {}, signal: new AbortController().signal };
}

async function pollUntilStopped(spawner: Spawner, state: Record<string, unknown>): Promise<PollResult> {
  const deadline = performance.now() + CRASH_VISIBLE_WITHIN_MS;
  for (;;) {
    const result = await spawner.poll(state);
    if (result.status === 'stopped' || performance.now() > deadline) return result;
    await sleep(50);
  }
}

function hasCode(code: SifuError['code']): (err: unknown) => boolean {
  return (err) => {
    assert.ok(isSifuError(err), `not a SifuError: ${String(err)}`);
    assert.equal(err.code, code, err.logDetail);
    return true;
  };
}

/** A plain GET of a server's url (an origin or `unix:<path>`) with a fresh connection; rejects when nothing answers. */
function get(target: string, path: string, secret?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const address = httpAddressOf(target);
    assert.ok(address, `not a server url: ${target}`);
    const headers: Record<string, string> = { host: hostHeaderOf(target) };
    if (secret) headers.authorization = `token ${secret}`;
    const options = { ...address, path, agent: false, headers, timeout: 10_000 };
    const req = httpRequest(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer`)));
    req.on('error', reject);
    req.end();
  });
}
