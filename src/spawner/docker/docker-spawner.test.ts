import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import {
  containerArgv,
  containerIdOf,
  contractCommands,
  DOUBLES_DIR,
  DOUBLES_MOUNT,
  dockerForTests,
  removeLabelled,
  TEST_LABEL,
} from '../../../test/support/docker.js';
import { CONTAINER_USER } from '../container-security.js';
import { spawnerContract } from '../contract.case.js';
import type { Started } from '../spawner.js';
import { createDockerSpawner, type DockerSpawnerOptions } from './docker-spawner.js';

const run = randomBytes(4).toString('hex');
const docker = new Docker();
let image = '';
let secretsDir = '';
let runDir = '';

before(async () => {
  image = await dockerForTests();
  secretsDir = await mkdtemp(join(tmpdir(), 'sifu-docker-secrets-'));
  runDir = await mkdtemp(join(tmpdir(), 'sifu-docker-run-'));
});
after(async () => {
  await removeLabelled(docker, `${TEST_LABEL}=${run}`);
  await rm(secretsDir, { recursive: true, force: true });
  await rm(runDir, { recursive: true, force: true });
});

const make = (options: Partial<DockerSpawnerOptions> & { command: string }) =>
  createDockerSpawner({
    image,
    secretsDir,
    runDir,
    instance: `test-${run}`,
    labels: { [TEST_LABEL]: run },
    binds: [`${DOUBLES_DIR}:${DOUBLES_MOUNT}:ro`],
    memoryBytes: 512 * 1024 * 1024,
    cpus: 1,
    ...options,
  });

spawnerContract('docker', ({ command }) => make({ command }), {
  commands: contractCommands(),
  readArgv: (started) => containerArgv(docker, containerIdOf(started)),
  homeOwner: CONTAINER_USER,
});

describe('docker spawner', () => {
  it('labels its containers, confines and limits them, and lists them for re-adoption', async (t) => {
    const spawner = make({ command: contractCommands().fast });
    const home = await mkdtemp(join(tmpdir(), 'sifu-docker-home-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    const started = await spawner.start(
      { userName: 'lina', serverName: 'lab', baseUrl: '/user/lina/lab/', secret: 's'.repeat(32), home },
      { progress: () => {}, signal: new AbortController().signal },
    );
    t.after(() => spawner.stop(started.state, { graceMs: 0 }));
    const info = await docker.getContainer(containerIdOf(started)).inspect();
    assert.equal(info.Config.Labels['sifu.user'], 'lina');
    assert.equal(info.Config.Labels['sifu.server'], 'lab');
    assert.equal(info.HostConfig.Memory, 512 * 1024 * 1024);
    assert.equal(info.HostConfig.NanoCpus, 1e9);
    assert.equal(info.HostConfig.NetworkMode, 'none', 'no network: the server is on a unix socket');
    assert.equal(info.Config.User, '1000:1000', 'never root');
    assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
    assert.deepEqual(info.HostConfig.SecurityOpt, ['no-new-privileges']);
    assert.equal(info.HostConfig.ReadonlyRootfs, true);
    assert.equal(info.HostConfig.PidsLimit, 1024);
    assert.equal(info.HostConfig.Init, true);
    assert.match(started.url, /^unix:\//, 'routed to the socket on the host');
    assert.ok(
      !info.Config.Env.some((e) => e.includes('s'.repeat(32))),
      'the token is in a mounted file, not in the environment docker inspect shows',
    );
    const listed = await spawner.list?.();
    assert.deepEqual(
      listed?.map((s) => [s.userName, s.serverName, s.state.containerId, s.state.port]),
      [['lina', 'lab', containerIdOf(started), started.state.port]],
    );
  });

  it('refuses an egress network that is the host, the default bridge or another container', () => {
    for (const network of ['host', 'bridge', 'default', 'none', 'container:abc'])
      assert.throws(
        () => make({ command: contractCommands().fast, network }),
        (err: { code?: string }) => err.code === 'SIFU_ERR_CONFIG',
        network,
      );
  });

  it("joins the operator's egress network when one is named, and is still routed to its socket", async (t) => {
    // A network this test makes, internal: nothing leaves it.
    const name = `sifu-test-egress-${run}`;
    // A run that died half-way may have left its network, which would hold the pinned subnet.
    for (const stale of await docker.listNetworks({
      filters: JSON.stringify({ name: ['sifu-test-egress-'] }),
    })) {
      await docker
        .getNetwork(stale.Id)
        .remove()
        .catch(() => {});
    }
    const network = await docker.createNetwork({
      Name: name,
      Internal: true,
      Labels: { [TEST_LABEL]: run },
      // Pinned, so that it is never given the default bridge's 172.17/16.
      IPAM: { Config: [{ Subnet: '172.31.254.0/28' }] },
    });
    const spawner = make({ command: contractCommands().fast, network: name });
    const home = await mkdtemp(join(tmpdir(), 'sifu-docker-home-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    let started: Started | undefined;
    try {
      started = await spawner.start(
        { userName: 'eve', serverName: '', baseUrl: '/user/eve/', secret: 'e'.repeat(32), home },
        { progress: () => {}, signal: new AbortController().signal },
      );
      const info = await docker.getContainer(containerIdOf(started)).inspect();
      assert.equal(info.HostConfig.NetworkMode, name);
      assert.match(started.url, /^unix:\//);
    } finally {
      // The container first: a network in use cannot be removed.
      if (started) await spawner.stop(started.state, { graceMs: 0 });
      await network.remove();
    }
  });

  it('fails the start with SIFU_ERR_SPAWN_FAILED and leaves nothing when the image is missing', async (t) => {
    const spawner = make({ command: contractCommands().fast, image: 'sifu/does-not-exist:never' });
    const home = await mkdtemp(join(tmpdir(), 'sifu-docker-home-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    await assert.rejects(
      spawner.start(
        { userName: 'nemo', serverName: '', baseUrl: '/user/nemo/', secret: 'x'.repeat(32), home },
        { progress: () => {}, signal: new AbortController().signal },
      ),
      (err: { code?: string }) => err.code === 'SIFU_ERR_SPAWN_FAILED',
    );
    assert.deepEqual(await spawner.list?.(), []);
  });
});
