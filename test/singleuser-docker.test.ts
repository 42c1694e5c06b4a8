/**
 * JupyterHub's own single-user server (Debian's jupyterhub 3.0 in Sifu's notebook image) on the `docker`
 * and `swarm` backends, started by the built Sifu, unchanged: a container of uid 1000, no capabilities
 * and no network (docker: NetworkMode none; swarm: its lone internal network) reaches its own hub
 * endpoint through the forwarder on its loopback (docs/singleuser.md). Attacked from inside the learner's kernel: the token is not in what the engine
 * records (`docker inspect`), it reaches only its own server's hub calls, the hub's port is unreachable,
 * and another learner's container cannot use this endpoint.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { type Browser, chromium } from 'playwright-core';
import { CONTAINER_USER } from '../src/spawner/container-security.js';
import { api } from './support/api.js';
import { BUILT_ADMIN_TOKEN, type BuiltSifu, startBuiltSifu } from './support/built-sifu.js';
import { CHROMIUM_ARGS } from './support/chromium.js';
import { dockerForTests, removeLabelled } from './support/docker.js';
import { runInKernel } from './support/kernel.js';
import { Client } from './support/sifu.js';
import {
  assertServerUser,
  HUB_CALL_PY,
  LESSON_NOTEBOOK,
  runCellThenLeaveComputing,
  SINGLEUSER_COMMAND,
  startSingleUser,
} from './support/singleuser.js';

const run = promisify(execFile);
const docker = new Docker();
const instance = `test-dsu-${randomBytes(4).toString('hex')}`;

let sifu: BuiltSifu;
let browser: Browser;
const admin = BUILT_ADMIN_TOKEN;

const startServer = (user: string) => startSingleUser(sifu, user, 120_000);

/**
 * What the engine records of a user's server, which anyone with the engine's socket reads: its
 * container, and on swarm its service's spec too.
 */
async function recordedOf(user: string): Promise<{ info: Docker.ContainerInspectInfo; service?: unknown }> {
  await startServer(user);
  const state = (await api(sifu, `/users/${user}`, { token: admin })).body.servers[''].state;
  if (state.containerId) return { info: await docker.getContainer(state.containerId as string).inspect() };
  const [task] = await docker.listContainers({
    filters: JSON.stringify({ label: [`com.docker.swarm.service.id=${state.serviceId}`] }),
  });
  assert.ok(task, `${user}'s service has a running task`);
  return {
    info: await docker.getContainer(task.Id).inspect(),
    service: await docker.getService(state.serviceId as string).inspect(),
  };
}

const inspectOf = async (user: string) => (await recordedOf(user)).info;

/** The host directory of a user's hub endpoint, from the container's mounts. */
async function hubDirOf(user: string): Promise<string> {
  const mount = (await inspectOf(user)).Mounts.find((m) => m.Destination === '/run/sifu-hub');
  assert.ok(mount, `${user}'s container has its hub directory`);
  return mount.Source;
}

/** Runs python `code` in a new kernel of `user`'s server; its last expression is a JSON string. */
async function inKernel(user: string, code: string): Promise<Record<string, unknown>> {
  await startServer(user);
  const client = new Client();
  await (await client.signIn(sifu, user)).res.arrayBuffer();
  const text = await runInKernel(
    sifu,
    client,
    user,
    `${code}\ntype('J', (), {'__repr__': lambda s: json.dumps(out)})()`,
  );
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`the kernel answered ${text}`);
  }
}

/** Python calling the hub endpoint at JUPYTERHUB_API_URL with a token: [status, body or error code]. */
const HUB_CALL = `${HUB_CALL_PY}
def tcp(port):
    s = socket.socket(); s.settimeout(2)
    try:
        s.connect(('127.0.0.1', port)); return 'connected'
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()
def unix(path):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path); return 'connected'
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()
`;

for (const backend of ['docker', 'swarm'] as const) {
  describe(`jupyterhub-singleuser in a ${backend} container under the built Sifu`, () => {
    before(async () => {
      const image = await dockerForTests({ swarm: backend === 'swarm' });
      sifu = await startBuiltSifu({
        SIFU_SPAWNER_BACKEND: backend,
        SIFU_SPAWNER_DOCKER_IMAGE: image,
        // Labels this run's containers, so that the cleanup below finds them whatever happens.
        SIFU_SPAWNER_DOCKER_INSTANCE: instance,
        SIFU_SPAWNER_COMMAND: SINGLEUSER_COMMAND,
        SIFU_SPAWNER_ENVIRONMENT: JSON.stringify({ JUPYTERHUB_ACTIVITY_INTERVAL: '2' }),
        SIFU_SPAWNER_START_TIMEOUT: '120',
        SIFU_LOG_LEVEL: 'info',
      });
      const home = join(sifu.dataDir, 'homes/ada');
      await mkdir(home, { recursive: true });
      await writeFile(join(home, 'lesson.ipynb'), LESSON_NOTEBOOK);
      await chown(home, CONTAINER_USER.uid, CONTAINER_USER.gid);
      await chown(join(home, 'lesson.ipynb'), CONTAINER_USER.uid, CONTAINER_USER.gid);
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    });

    after(async () => {
      if (process.env.SINGLEUSER_DEBUG) console.error(sifu?.output().slice(-6000));
      await browser?.close();
      if (sifu) {
        for (const user of ['ada', 'bob']) {
          await api(sifu, `/users/${user}/server`, { method: 'DELETE', token: admin }).catch(() => {});
        }
        await sifu.stop();
      }
      await removeLabelled(docker, `sifu.instance=${instance}`);
    });

    test('a learner runs a cell in Chromium; a computing kernel with no browser moves last_activity', async () => {
      await runCellThenLeaveComputing(sifu, browser, 120_000);
    });

    test("the engine records no secret: not in the container's Env or Cmd; no network, nothing else of the host bound in", async () => {
      const { info, service } = await recordedOf('ada');
      const recorded = JSON.stringify({
        env: info.Config.Env,
        cmd: info.Config.Cmd,
        labels: info.Config.Labels,
        service,
      });
      assert.doesNotMatch(
        recorded,
        /JUPYTERHUB_API_TOKEN|JUPYTER_TOKEN=/,
        'a token variable is in the config',
      );
      // The value itself, read from the running server's own environment inside the container.
      const { token } = (await inKernel(
        'ada',
        "import json, os\nout = {'token': os.environ['JUPYTERHUB_API_TOKEN']}",
      )) as {
        token: string;
      };
      assert.ok(token.length >= 32);
      assert.ok(
        !JSON.stringify({ info, service }).includes(token),
        "the server's token is in `docker inspect`",
      );
      // The non-secret part of JupyterHub's environment is there.
      const env = new Map(
        info.Config.Env.map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
      );
      assert.equal(env.get('JUPYTERHUB_API_URL'), 'http://127.0.0.1:8081/hub/api');
      assert.equal(env.get('JUPYTERHUB_USER'), 'ada');
      assert.equal(env.get('JUPYTERHUB_SERVICE_PREFIX'), '/user/ada/');

      if (backend === 'docker') assert.equal(info.HostConfig.NetworkMode, 'none');
      assert.equal(info.Config.User, '1000:1000');
      assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
      const binds = info.Mounts.filter((m) => m.Type === 'bind').map(
        (m) => `${m.Destination}:${m.RW ? 'rw' : 'ro'}`,
      );
      assert.deepEqual(binds.sort(), [
        '/home/learner:rw',
        '/run/sifu-hub-forward.py:ro',
        '/run/sifu-hub:ro',
        '/run/sifu-socket:rw',
        // docker: the token file's directory; swarm: the token is a Swarm secret, not a mount of the host's.
        ...(backend === 'docker' ? ['/run/sifu-token:ro'] : []),
      ]);
    });

    test('the endpoint is reachable by the container user only: the directory is Sifu’s with group 1000, the secrets file 0400', async () => {
      const dir = await hubDirOf('ada');
      // The data directory traversable, as an operator's may well be: only the hub directory's own mode
      // then keeps another uid on the host (not in group 1000) from connecting or reading.
      await chmod(sifu.dataDir, 0o711);
      const as = (uid: number, code: string) =>
        run('setpriv', [
          `--reuid=${uid}`,
          `--regid=${uid}`,
          '--clear-groups',
          '/usr/bin/python3',
          '-c',
          code,
        ]).then(
          (r) => r.stdout.trim(),
          (err: { stdout?: string }) => `failed ${err.stdout ?? ''}`,
        );
      const probe = `
import socket
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(${JSON.stringify(join(dir, 'hub.sock'))}); print('connected')
except OSError as e:
    print(type(e).__name__)
try:
    open(${JSON.stringify(join(dir, 'server-env.json'))}).read(); print('read')
except OSError as e:
    print(type(e).__name__)`;
      assert.equal(await as(65534, probe), 'PermissionError\nPermissionError');
      assert.equal(await as(CONTAINER_USER.uid, probe), 'connected\nread');
      const dirStat = await stat(dir);
      assert.equal(dirStat.mode & 0o777, 0o750);
      assert.deepEqual([dirStat.uid, dirStat.gid], [process.getuid?.(), CONTAINER_USER.gid]);
      const file = await stat(join(dir, 'server-env.json'));
      assert.equal(file.mode & 0o777, 0o400);
      assert.equal(file.uid, CONTAINER_USER.uid);
    });

    test("code in the kernel gets from the token its own server's calls only; the hub's port is unreachable", async () => {
      await startServer('bob');
      const hubPort = Number(new URL(sifu.hubUrl).port);
      const out = await inKernel(
        'ada',
        `${HUB_CALL}
now = '2030-01-01T00:00:00Z'
out = {
  'me': call('GET', '/user'),
  'bob': call('GET', '/users/bob'),
  'stop_bob': call('DELETE', '/users/bob/server'),
  'users': call('GET', '/users'),
  'activity_bob': call('POST', '/users/bob/activity', {'last_activity': now}),
  'hub_port': tcp(${hubPort}),
  'hub_port_api': call('GET', '/user', base='http://127.0.0.1:${hubPort}/hub/api'),
  'interfaces': sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]),
}`,
      );
      assertServerUser(out.me, 'ada');
      for (const call of ['bob', 'stop_bob', 'users', 'activity_bob'])
        assert.deepEqual(out[call], [403, 'SIFU_ERR_MISSING_SCOPE'], call);
      // No network to the host: the hub's port is not there (docker: nothing but loopback; swarm: the
      // service's lone internal network besides).
      assert.equal(out.hub_port, 'ConnectionRefusedError');
      assert.deepEqual(out.hub_port_api, ['error', 'URLError']);
      const interfaces = out.interfaces as string[];
      if (backend === 'docker') assert.deepEqual(interfaces, ['lo']);
      else assert.ok(interfaces.includes('lo') && interfaces.length <= 2, `${interfaces}`);
      assert.equal((await api(sifu, '/users/bob', { token: admin })).body.servers['']?.ready, true);
    });

    test("another learner's container cannot use this endpoint: not at its path, and its token is no token on theirs", async () => {
      const adaDir = await hubDirOf('ada');
      const { token: adaToken } = (await inKernel(
        'ada',
        "import json, os\nout = {'token': os.environ['JUPYTERHUB_API_TOKEN']}",
      )) as {
        token: string;
      };
      const out = await inKernel(
        'bob',
        `${HUB_CALL}
out = {
  'own': call('GET', '/user'),
  'ada_token_here': call('GET', '/user', auth=${JSON.stringify(adaToken)}),
  'ada_activity_here': call('POST', '/users/ada/activity', {'last_activity': '2030-01-01T00:00:00Z'}, auth=${JSON.stringify(adaToken)}),
  'ada_socket_host_path': unix(${JSON.stringify(join(adaDir, 'hub.sock'))}),
  'ada_dir_visible': os.path.exists(${JSON.stringify(adaDir)}),
  'hub_dirs': sorted(os.listdir('/run/sifu-hub')),
}`,
      );
      assert.equal((out.own as [number, { name: string }])[1].name, 'bob');
      // bob's forwarder leads to bob's endpoint, which knows ada's token as no token of its server.
      assert.deepEqual(out.ada_token_here, [403, 'SIFU_ERR_TOKEN_REFUSED']);
      assert.deepEqual(out.ada_activity_here, [403, 'SIFU_ERR_TOKEN_REFUSED']);
      assert.equal(out.ada_socket_host_path, 'FileNotFoundError');
      assert.equal(out.ada_dir_visible, false);
      assert.deepEqual(out.hub_dirs, ['hub.sock', 'server-env.json']);
    });
  });
}
