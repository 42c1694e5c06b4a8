// biome-ignore-all lint/suspicious/noTemplateCurlyInString: commands are written with ${VAR} on purpose.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SPAWNER_COMMAND } from '../../config/schema.js';
import { isSifuError, SifuError } from '../../errors.js';
import { hostHeaderOf, httpAddressOf } from '../../routes.js';
import { spawnerContract } from '../contract.case.js';
import { waitUntilReady } from '../ready.js';
import type { Spawner, Started, StartRequest } from '../spawner.js';
import { createLocalSpawner, type LocalSpawnerOptions } from './local-spawner.js';
import { readCmdline, readEnviron } from './proc.js';
import { processesInNamespace } from './stop-sandbox.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const fakeServer = join(here, '..', 'doubles', 'fake-server.py');
// Debian's python3, the one Jupyter runs on: a pyenv shim would look for its root under HOME, which
// is the learner's home in a server's environment.
const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const fake = (mode: string): string => `${quote(python)} ${quote(fakeServer)} ${mode}`;
const jupyter = DEFAULT_SPAWNER_COMMAND;

let logDir = '';
let runDir = '';
before(async () => {
  logDir = await mkdtemp(join(tmpdir(), 'sifu-local-logs-'));
  runDir = await mkdtemp(join(tmpdir(), 'sifu-local-run-'));
});
after(async () => {
  await rm(logDir, { recursive: true, force: true });
  await rm(runDir, { recursive: true, force: true });
});

/** The sandbox reads the doubles where they are; Jupyter's own files are under /usr. */
const doublesDir = dirname(fakeServer);
const UID_RANGE = { base: 310_000, count: 1_000 };
const options = (more: Partial<LocalSpawnerOptions> & { command: string }): LocalSpawnerOptions => ({
  logDir,
  runDir,
  uidRange: UID_RANGE,
  readOnlyPaths: [doublesDir],
  limits: { memoryBytes: 1024 * 2 ** 20, pids: 256, cpus: 1 },
  ...more,
});
const make = (more: Partial<LocalSpawnerOptions> & { command: string }): Spawner =>
  asTheCoreWould(createLocalSpawner(options(more)));

spawnerContract('local', ({ command }) => make({ command }), {
  commands: {
    jupyter,
    fast: fake('fast'),
    slow: fake('slow'),
    neverReady: fake('never-ready'),
    crashAtStart: fake('crash-at-start'),
    crashWhileRunning: fake('crash-while-running'),
    ignoresSigterm: fake('ignores-sigterm'),
  },
  readArgv: async (started) => (await readCmdline(pidOf(started.state))) ?? [],
});

describe('local spawner', () => {
  it('keeps a server running when the Node process (and group) that started it is killed', async (t) => {
    const scope = new Scope(t);
    const req = await scope.request('survivor');
    const starter = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', starterScript(fake('fast'), logDir, runDir, req)],
      // Its own process group, so that killing the group below also hits anything not detached from it.
      { detached: true, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const starterExited = new Promise((resolve) => starter.once('exit', resolve));
    t.after(() => killGroup(starter.pid));
    const started = JSON.parse(await firstLine(starter.stdout)) as Started;
    scope.stopLater(started.state);

    killGroup(starter.pid);
    await starterExited;

    const spawner = make({ command: fake('fast') });
    assert.deepEqual(await spawner.poll(started.state), { status: 'running' });
    await waitUntilReady({
      url: started.url,
      baseUrl: req.baseUrl,
      secret: req.secret,
      timeoutMs: 20_000,
      poll: () => spawner.poll(started.state),
    });
    // The fake server logs each request to stderr: this fails if its stderr were a pipe to the dead starter.
    assert.equal((await get(started.url, `${req.baseUrl}api`, req.secret)).status, 200);
    await spawner.stop(started.state);
    assert.equal((await spawner.poll(started.state)).status, 'stopped');
  });

  it('does not mistake a recycled pid for its server: polls it as stopped and never signals it', async (t) => {
    const scope = new Scope(t);
    const spawner = make({ command: fake('fast') });
    const req = await scope.request('pidreuse');
    const started = await scope.launch(spawner, req);
    const sandbox = started.state.sandbox as { startTime: number };
    // As after a reboot: both recorded processes' pids belong to others now.
    const impostor = {
      ...started.state,
      startTime: (started.state.startTime as number) + 1,
      sandbox: { ...sandbox, startTime: sandbox.startTime + 1 },
    };

    const result = await spawner.poll(impostor);
    assert.equal(result.status, 'stopped');
    await spawner.stop(impostor, { graceMs: 0 });
    assert.deepEqual(
      await spawner.poll(started.state),
      { status: 'running' },
      'the real process was left alone',
    );
    assert.equal((await get(started.url, `${req.baseUrl}api`, req.secret)).status, 200);
  });

  it('polls a sandbox that lost its bwrap as running, and removes what a dead server left', async (t) => {
    const scope = new Scope(t);
    const spawner = make({ command: fake('fast') });
    const req = await scope.request('orphaned');
    const started = await scope.launch(spawner, req);
    const state = started.state as {
      pid: number;
      socketDir: string;
      sandbox: { pid: number };
      cgroup: { dirs: Record<string, string> };
    };
    process.kill(state.pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(await spawner.poll(started.state), { status: 'running' }, 'the sandbox still runs');
    assert.equal((await get(started.url, `${req.baseUrl}api`, req.secret)).status, 200);

    process.kill(state.sandbox.pid, 'SIGKILL');
    for (let i = 0; i < 100 && (await spawner.poll(started.state)).status === 'running'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal((await spawner.poll(started.state)).status, 'stopped');
    assert.equal(existsSync(state.socketDir), false, 'the socket directory is gone');
    for (const dir of Object.values(state.cgroup.dirs)) assert.equal(existsSync(dir), false, dir);
  });

  it('runs servers without a cgroup where none is writable, saying so once in the log', async (t) => {
    const scope = new Scope(t);
    const warnings: unknown[][] = [];
    const log = { warn: (...args: unknown[]) => warnings.push(args), info: () => {} };
    const spawner = asTheCoreWould(
      createLocalSpawner(
        options({ command: fake('fast'), cgroupRoot: '/nonexistent-cgroups', log: log as never }),
      ),
    );
    const first = await scope.launch(spawner, await scope.request('nocg1'));
    const second = await scope.launch(spawner, await scope.request('nocg2'));
    assert.equal(first.state.cgroup, undefined);
    assert.equal(second.state.cgroup, undefined);
    assert.equal(warnings.length, 1, 'one warning, at the first start');
    assert.match(String(warnings[0]?.[1]), /without memory, pids and CPU limits/);
    await spawner.stop(first.state, { graceMs: 1_000 });
    assert.equal((await spawner.poll(first.state)).status, 'stopped');
  });

  it("runs the server in a sandbox as the learner's uid, with a minimal environment and not Sifu's", async (t) => {
    const scope = new Scope(t);
    process.env.SIFU_TEST_PARENT_SECRET = 'parent-secret';
    t.after(() => {
      delete process.env.SIFU_TEST_PARENT_SECRET;
    });
    const spawner = make({ command: fake('fast'), extraEnv: { OPERATOR_VAR: 'op', SIFU_SERVER_PORT: '1' } });
    const req = await scope.request('envy', { COURSE: 'python-101', JUPYTER_TOKEN: 'not-the-secret' });
    const started = await scope.launch(spawner, req);
    const state = started.state as { sandbox: { pid: number; pidNs: string }; socketDir: string };

    const env = await readEnviron(pidOf(started.state));
    assert.ok(env);
    assert.equal(env.SIFU_TEST_PARENT_SECRET, undefined, "Sifu's environment does not leak");
    assert.equal(env.HOME, '/home/envy', 'the home, where the sandbox shows it');
    assert.equal(env.PATH, process.env.PATH);
    assert.equal(env.JUPYTER_TOKEN, req.secret, 'neither request nor operator can replace the secret');
    assert.equal(env.SIFU_SERVER_SOCKET, '/run/sifu/jupyter.sock');
    assert.equal(started.url, `unix:${state.socketDir}/jupyter.sock`, 'routed to that socket on the host');
    assert.match(env.SIFU_SERVER_PORT ?? '', /^[1-9]\d*$/);
    assert.notEqual(env.SIFU_SERVER_PORT, '1', 'nor the operator the port');
    assert.equal(env.SIFU_SERVER_BASE_URL, req.baseUrl);
    assert.equal(env.SIFU_SERVER_ROOT, '/home/envy');
    assert.equal(env.COURSE, 'python-101');
    assert.equal(env.OPERATOR_VAR, 'op');
    assert.equal(
      env.JUPYTER_RUNTIME_DIR,
      '/tmp/jupyter-runtime',
      "on the sandbox's own /tmp, not in the home",
    );
    assert.deepEqual(
      Object.keys(env)
        .filter((k) => !['PATH', 'LANG', 'LC_ALL', 'HOME', 'COURSE', 'OPERATOR_VAR'].includes(k))
        .sort(),
      [
        'JUPYTER_RUNTIME_DIR',
        'JUPYTER_TOKEN',
        'SIFU_SERVER_BASE_URL',
        'SIFU_SERVER_PORT',
        'SIFU_SERVER_ROOT',
        'SIFU_SERVER_SOCKET',
      ],
    );

    // The server itself: in the sandbox's pid namespace, as the learner's uid, with nothing to gain.
    const inside = await processesInNamespace(state.sandbox.pidNs);
    const servers = [];
    for (const pid of inside) {
      const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
      if (/^Name:\s*python3/m.test(status)) servers.push(status);
    }
    assert.equal(servers.length, 1, `one server process among ${inside}`);
    const status = servers[0] as string;
    const uid = req.identity?.uid;
    assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    assert.match(status, new RegExp(`^Gid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    assert.match(status, /^Groups:\s*$/m, 'no supplementary groups');
    assert.match(status, /^CapEff:\s+0+$/m);
    assert.match(status, /^CapBnd:\s+0+$/m);
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    assert.notEqual(await readlink(`/proc/${state.sandbox.pid}/ns/net`), await readlink('/proc/self/ns/net'));

    const socketDir = state.socketDir;
    assert.equal(dirname(socketDir), runDir, 'its socket directory is under runDir');
    assert.equal((await stat(socketDir)).mode & 0o777, 0o700);
    assert.equal((await stat(socketDir)).uid, uid, "owned by the server's uid");
    assert.equal((await stat(runDir)).mode & 0o777, 0o711);
  });

  it('fails at once with SIFU_ERR_SPAWN_CRASHED and the log tail (secret redacted) when the server exits at launch', async (t) => {
    const scope = new Scope(t);
    // A long launch window makes `start` itself see the exit, whatever the machine's load.
    const spawner = make({
      command: `/bin/sh -c "echo sifu-test-boom token=$JUPYTER_TOKEN >&2; exit 3"`,
      launchWindowMs: 10_000,
    });
    const req = await scope.request('boom');
    const err = await spawner.start(req, scope.context()).then(
      () => assert.fail('start succeeded'),
      (e: unknown) => e,
    );
    assert.ok(isSifuError(err));
    assert.equal(err.code, 'SIFU_ERR_SPAWN_CRASHED');
    assert.match(err.logDetail ?? '', /exited with code 3/);
    assert.match(err.logDetail ?? '', /sifu-test-boom token=<secret>/);
    assert.ok(!(err.logDetail ?? '').includes(req.secret), 'the secret is redacted from logDetail');
    assert.doesNotMatch(err.message, /sifu-test-boom|code 3/);
  });

  it('fails with SIFU_ERR_SPAWN_FAILED naming the command when it does not exist', async (t) => {
    const scope = new Scope(t);
    const spawner = make({ command: 'sifu-no-such-command --port=${SIFU_SERVER_PORT}' });
    const req = await scope.request('nocmd');
    await assert.rejects(spawner.start(req, scope.context()), (err: unknown) => {
      assert.ok(isSifuError(err));
      assert.equal(err.code, 'SIFU_ERR_SPAWN_FAILED');
      assert.match(err.logDetail ?? '', /command not found: 'sifu-no-such-command'/);
      assert.doesNotMatch(err.message, /sifu-no-such-command/);
      return true;
    });
  });

  it('fails with SIFU_ERR_SPAWN_FAILED naming an unknown variable of the command', async (t) => {
    const scope = new Scope(t);
    const spawner = make({ command: `${fake('fast')} \${COURSE_IMAGE}` });
    const req = await scope.request('novar');
    await assert.rejects(spawner.start(req, scope.context()), (err: unknown) => {
      assert.ok(isSifuError(err));
      assert.equal(err.code, 'SIFU_ERR_SPAWN_FAILED');
      assert.match(err.logDetail ?? '', /unknown variable \$\{COURSE_IMAGE\}/);
      return true;
    });
  });

  it('refuses, when created, a command that would put the secret in process arguments', () => {
    assert.throws(
      () => make({ command: 'jupyter notebook --NotebookApp.token=${JUPYTER_TOKEN}' }),
      (err: unknown) =>
        isSifuError(err) && err.code === 'SIFU_ERR_CONFIG' && /JUPYTER_TOKEN/.test(err.message),
    );
  });

  it('stops what it launched when the start is aborted, rejecting with the reason', async (t) => {
    const scope = new Scope(t);
    const ownLogDir = await mkdtemp(join(tmpdir(), 'sifu-local-abort-'));
    t.after(() => rm(ownLogDir, { recursive: true, force: true }));
    const spawner = asTheCoreWould(
      createLocalSpawner(options({ command: fake('fast'), logDir: ownLogDir, launchWindowMs: 60_000 })),
    );
    const req = await scope.request('aborted');
    const controller = new AbortController();
    const reason = new SifuError('SIFU_ERR_SPAWN_TIMEOUT', 'too slow');
    const starting = spawner.start(req, { progress: () => {}, signal: controller.signal });
    starting.catch(() => {});
    t.after(() => controller.abort());

    await serverPidFromLog(ownLogDir);
    const uid = req.identity?.uid as number;
    assert.ok((await processesOfUid(uid)).length > 0, 'the server was running before the abort');
    controller.abort(reason);
    await assert.rejects(starting, (err) => err === reason);
    assert.deepEqual(await processesOfUid(uid), [], 'no process of the server is left');
  });

  it('polls and stops a state it did not make as gone, and refuses malformed state', async () => {
    const spawner = make({ command: fake('fast') });
    const gone = { pid: 2 ** 22 + 1, pgid: 2 ** 22 + 1, startTime: 1, port: 1, logPath: '/nonexistent' };
    assert.equal((await spawner.poll(gone)).status, 'stopped');
    await spawner.stop(gone);
    await assert.rejects(spawner.poll({ pid: 'x' }), (err: unknown) => isSifuError(err));
  });
});

/**
 * What the core does before `start` (`Spawner.uidRange`): a uid per user (here by order of first
 * start) given in `identity`, and the home (with what the case put in it) owned by it.
 */
const uids = new Map<string, number>();
function identityOf(userName: string): { uid: number; gid: number } {
  const uid = uids.get(userName) ?? UID_RANGE.base + uids.size;
  uids.set(userName, uid);
  return { uid, gid: uid };
}
function asTheCoreWould(spawner: Spawner): Spawner {
  return {
    ...spawner,
    backend: spawner.backend,
    start: async (request, context) => {
      const identity = request.identity ?? identityOf(request.userName);
      execFileSync('chown', ['-R', `${identity.uid}:${identity.gid}`, request.home]);
      return spawner.start({ ...request, identity }, context);
    },
    poll: (state) => spawner.poll(state),
    stop: (state, stopOptions) => spawner.stop(state, stopOptions),
  };
}

/** Starts `command` for `req` in a fresh Node process, prints the `Started` JSON, and then idles. */
function starterScript(command: string, dir: string, run: string, req: StartRequest): string {
  const module = new URL('./local-spawner.ts', import.meta.url).href;
  const spawnerOptions = { ...options({ command }), logDir: dir, runDir: run };
  return `
    const { createLocalSpawner } = await import(${JSON.stringify(module)});
    const spawner = createLocalSpawner(${JSON.stringify(spawnerOptions)});
    const started = await spawner.start(${JSON.stringify(req)}, { progress() {}, signal: new AbortController().signal });
    process.stdout.write(JSON.stringify(started) + '\\n');
    setInterval(() => {}, 60_000);
  `;
}

/** Everything a local-only case made, undone even when it fails: servers stopped, then homes removed. */
class Scope {
  private readonly states: Array<Record<string, unknown>> = [];
  private readonly dirs: string[] = [];

  constructor(t: TestContext) {
    t.after(async () => {
      const spawner = make({ command: fake('fast') });
      await Promise.all(this.states.map((state) => spawner.stop(state, { graceMs: 1_000 })));
      await Promise.all(this.dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    });
  }

  async request(userName: string, env?: Record<string, string>): Promise<StartRequest> {
    const home = await mkdtemp(join(tmpdir(), `sifu-local-${userName}-`));
    this.dirs.push(home);
    const secret = randomBytes(24).toString('hex');
    const identity = identityOf(userName);
    await chown(home, identity.uid, identity.gid);
    return {
      userName,
      serverName: '',
      baseUrl: `/user/${userName}/`,
      secret,
      home,
      identity,
      ...(env ? { env } : {}),
    };
  }

  stopLater(state: Record<string, unknown>): void {
    this.states.push(state);
  }

  context() {
    return { progress: () => {}, signal: new AbortController().signal };
  }

  async launch(spawner: Spawner, req: StartRequest): Promise<Started> {
    const started = await spawner.start(req, this.context());
    this.stopLater(started.state);
    await waitUntilReady({
      url: started.url,
      baseUrl: req.baseUrl,
      secret: req.secret,
      timeoutMs: 20_000,
      poll: () => spawner.poll(started.state),
    });
    return started;
  }
}

function pidOf(state: Record<string, unknown>): number {
  assert.equal(typeof state.pid, 'number');
  return state.pid as number;
}

function quote(path: string): string {
  assert.ok(!path.includes("'"), `cannot quote ${path}`);
  return `'${path}'`;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function firstLine(stream: NodeJS.ReadableStream | null): Promise<string> {
  assert.ok(stream);
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    const newline = text.indexOf('\n');
    if (newline !== -1) return text.slice(0, newline);
  }
  throw new Error(`the starter exited without printing its server: ${text}`);
}

/** Live processes (zombies aside) whose real uid is `uid`, from the host's /proc. */
export async function processesOfUid(uid: number): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const status = await readFile(`/proc/${name}/status`, 'utf8').catch(() => '');
    if (new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(status) && !/^State:\s+Z/m.test(status)) {
      found.push(Number(name));
    }
  }
  return found;
}

/** The fake server logs its pid (in its sandbox) first thing; wait for it in the only server log under `dir`. */
async function serverPidFromLog(dir: string): Promise<number> {
  for (let i = 0; i < 400; i += 1) {
    const [serverDir] = await readdir(dir);
    if (serverDir) {
      const log = await readFile(join(dir, serverDir, 'server.log'), 'utf8').catch(() => '');
      const match = /fake-server: mode \S+, pid (\d+)/.exec(log);
      if (match) return Number(match[1]);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`no server pid in ${dir}`);
}

function get(target: string, path: string, secret: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const address = httpAddressOf(target);
    assert.ok(address, `not a server url: ${target}`);
    const headers = { host: hostHeaderOf(target), authorization: `token ${secret}` };
    const req = httpRequest({ ...address, path, agent: false, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end();
  });
}
