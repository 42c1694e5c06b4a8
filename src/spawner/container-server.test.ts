import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONTAINER_USER } from './container-security.js';
import { containerServer, HUB_ENV_FILE, withHubChannel } from './container-server.js';
import { hubForwarderPath } from './hub-channel.js';

const request = {
  userName: 'ada',
  serverName: '',
  baseUrl: '/user/ada/',
  secret: 'server-secret-0123456789abcdef',
  home: '/srv/homes/ada',
  env: { JUPYTERHUB_API_TOKEN: 'server-secret-0123456789abcdef', JUPYTERHUB_USER: 'ada' },
};

describe('withHubChannel', () => {
  let dir: string;
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sifu-hub-channel-'));
    dir = join(root, 'hub-0123');
    await mkdir(dir, { mode: 0o711 });
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('moves every secret variable out of the environment the engine records, into a file only the container user reads', async () => {
    const server = containerServer(
      { ...request, hubSocketDir: dir },
      { command: 'jupyterhub-singleuser', homePath: '/home/learner', port: 1 },
    );
    assert.equal(server.env.JUPYTER_TOKEN, request.secret);
    assert.equal(server.env.JUPYTERHUB_API_URL, 'http://127.0.0.1:8081/hub/api');
    const channel = await withHubChannel({ hubSocketDir: dir }, server);
    assert.ok(!JSON.stringify(channel.env).includes(request.secret), JSON.stringify(channel.env));
    assert.equal(channel.env.JUPYTERHUB_USER, 'ada');
    assert.equal(channel.env.JUPYTERHUB_ACTIVITY_URL, 'http://127.0.0.1:8081/hub/api/users/ada/activity');
    assert.ok(!channel.argv.join(' ').includes(request.secret));
    const file = join(dir, HUB_ENV_FILE);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), {
      JUPYTER_TOKEN: request.secret,
      JUPYTERHUB_API_TOKEN: request.secret,
    });
    const fileStat = await stat(file);
    assert.equal(fileStat.mode & 0o777, 0o400);
    assert.deepEqual([fileStat.uid, fileStat.gid], [CONTAINER_USER.uid, CONTAINER_USER.gid]);
    const dirStat = await stat(dir);
    assert.equal(dirStat.mode & 0o777, 0o750);
    assert.equal(dirStat.gid, CONTAINER_USER.gid);
  });

  it('runs the command behind the forwarder with the image python and binds only the endpoint and the forwarder, read-only', async () => {
    const channel = await withHubChannel(
      { hubSocketDir: dir },
      { env: {}, argv: ['jupyterhub-singleuser', '--x'] },
    );
    assert.deepEqual(channel.argv, [
      'python3',
      '/run/sifu-hub-forward.py',
      '8081',
      '/run/sifu-hub/hub.sock',
      '--env-file',
      '/run/sifu-hub/server-env.json',
      '--',
      'jupyterhub-singleuser',
      '--x',
    ]);
    assert.deepEqual(channel.mounts, [
      { source: dir, target: '/run/sifu-hub' },
      { source: hubForwarderPath(), target: '/run/sifu-hub-forward.py' },
    ]);
  });

  it('leaves a server without an endpoint as it is', async () => {
    const server = { env: { JUPYTER_TOKEN: 'x' }, argv: ['jupyter', 'notebook'] };
    assert.deepEqual(await withHubChannel({}, server), { ...server, mounts: [] });
    assert.equal(
      containerServer(request, { command: 'jupyter', homePath: '/h', port: 1 }).env.JUPYTERHUB_API_URL,
      undefined,
    );
  });
});

describe('hub-forward.py --env-file', () => {
  const forward = (args: string[]) =>
    spawnSync('/usr/bin/python3', [hubForwarderPath(), '0', '/nonexistent.sock', ...args], {
      encoding: 'utf8',
      timeout: 10_000,
    });
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sifu-hub-forward-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('sets the variables of the file for the command it execs, and only there', async () => {
    const file = join(root, 'env.json');
    await writeFile(file, JSON.stringify({ A_SECRET: 's3cret' }));
    const ran = forward(['--env-file', file, '--', '/bin/sh', '-c', 'echo "$A_SECRET"']);
    assert.equal(ran.status, 0, ran.stderr);
    assert.equal(ran.stdout.trim(), 's3cret');
  });

  it('refuses a file that is not an object of strings, and a missing one, before running anything', async () => {
    const file = join(root, 'bad.json');
    await writeFile(file, JSON.stringify({ A: 1 }));
    for (const path of [file, join(root, 'missing.json')]) {
      const ran = forward(['--env-file', path, '--', '/bin/sh', '-c', 'echo ran']);
      assert.notEqual(ran.status, 0);
      assert.doesNotMatch(ran.stdout, /ran/);
    }
    assert.equal(forward(['--env-file', '--', 'true']).status, 2);
  });
});
