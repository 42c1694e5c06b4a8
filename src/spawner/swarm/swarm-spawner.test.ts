import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Docker from 'dockerode';
import {
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
import { createSwarmSpawner, type SwarmSpawnerOptions } from './swarm-spawner.js';

const run = randomBytes(4).toString('hex');
const docker = new Docker();
let image = '';
let runDir = '';

before(async () => {
  image = await dockerForTests({ swarm: true });
  runDir = await mkdtemp(join(tmpdir(), 'sifu-swarm-run-'));
});
after(async () => {
  await removeLabelled(docker, `${TEST_LABEL}=${run}`);
  await rm(runDir, { recursive: true, force: true });
});

const make = (options: Partial<SwarmSpawnerOptions> & { command: string }) =>
  createSwarmSpawner({
    image,
    runDir,
    instance: `test-${run}`,
    labels: { [TEST_LABEL]: run },
    mounts: [{ source: DOUBLES_DIR, target: DOUBLES_MOUNT, readOnly: true }],
    memoryBytes: 512 * 1024 * 1024,
    cpus: 1,
    ...options,
  });

/** The service's task container runs on this (single) node: its processes are in our /proc. */
async function serviceArgv(started: Started): Promise<string[]> {
  const tasks = await docker.listTasks({
    filters: JSON.stringify({ service: [started.state.serviceId as string], 'desired-state': ['running'] }),
  });
  const id = (tasks[0] as { Status?: { ContainerStatus?: { ContainerID?: string } } })?.Status
    ?.ContainerStatus?.ContainerID;
  if (!id) return [];
  const top = (await docker.getContainer(id).top()) as { Titles: string[]; Processes: string[][] };
  const pidColumn = top.Titles.indexOf('PID');
  const { readFile } = await import('node:fs/promises');
  const argv: string[] = [];
  for (const row of top.Processes) {
    const raw = await readFile(`/proc/${row[pidColumn]}/cmdline`, 'utf8').catch(() => '');
    argv.push(...raw.split('\0').filter(Boolean));
  }
  return argv;
}

spawnerContract('swarm', ({ command }) => make({ command }), {
  commands: contractCommands(),
  readArgv: serviceArgv,
  homeOwner: CONTAINER_USER,
});

describe('swarm spawner', () => {
  it("joins the operator's egress network when one is named, makes none of its own, routed to its socket", async (t) => {
    // An internal overlay this test makes: nothing leaves it.
    const name = `sifu-test-egress-${run}`;
    const network = await docker.createNetwork({
      Name: name,
      Driver: 'overlay',
      Internal: true,
      Labels: { [TEST_LABEL]: run },
    });
    const spawner = make({ command: contractCommands().fast, network: name });
    const home = await mkdtemp(join(tmpdir(), 'sifu-swarm-home-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    let started: Started | undefined;
    try {
      started = await spawner.start(
        { userName: 'eve', serverName: '', baseUrl: '/user/eve/', secret: 'e'.repeat(32), home },
        { progress: () => {}, signal: new AbortController().signal },
      );
      const info = (await docker.getService(started.state.serviceId as string).inspect()) as any;
      const networkId = ((await network.inspect()) as { Id: string }).Id;
      assert.deepEqual(
        info.Spec.TaskTemplate.Networks.map((n: { Target: string }) => n.Target),
        [networkId],
      );
      assert.equal(started.state.networkId, null, 'no network of its own');
      assert.match(started.url, /^unix:\//);
    } finally {
      // The service first (stop waits for its task to end); the network is left to the operator by Sifu.
      if (started) await spawner.stop(started.state, { graceMs: 0 });
      for (let attempt = 0; ; attempt += 1) {
        const removed = await network.remove().then(
          () => true,
          (err) => (attempt >= 50 ? Promise.reject(err) : false),
        );
        if (removed) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  });

  it('refuses an egress network that is the host or the default bridge', () => {
    for (const network of ['host', 'bridge'])
      assert.throws(
        () => make({ command: contractCommands().fast, network }),
        (err: { code?: string }) => err.code === 'SIFU_ERR_CONFIG',
      );
  });

  it('creates a labelled, confined service with limits and placement, alone on its own internal network, the token as a Swarm secret', async (t) => {
    const spawner = make({ command: contractCommands().fast, constraints: ['node.role==manager'] });
    const home = await mkdtemp(join(tmpdir(), 'sifu-swarm-home-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    const secret = randomBytes(16).toString('hex');
    const started = await spawner.start(
      { userName: 'tove', serverName: '', baseUrl: '/user/tove/', secret, home },
      { progress: () => {}, signal: new AbortController().signal },
    );
    t.after(() => spawner.stop(started.state, { graceMs: 0 }));
    const info = (await docker.getService(started.state.serviceId as string).inspect()) as any;
    const spec = info.Spec.TaskTemplate;
    assert.equal(info.Spec.Labels['sifu.user'], 'tove');
    // The configured constraints, and the node of the Sifu that made it: its socket directory is there.
    const ownNode = ((await docker.info()) as { Swarm: { NodeID: string } }).Swarm.NodeID;
    assert.deepEqual(spec.Placement.Constraints, ['node.role==manager', `node.id==${ownNode}`]);
    assert.equal(spec.Resources.Limits.MemoryBytes, 512 * 1024 * 1024);
    assert.equal(spec.Resources.Limits.Pids, 1024);
    assert.equal(spec.ContainerSpec.User, '1000:1000', 'never root');
    assert.equal(spec.ContainerSpec.ReadOnly, true);
    assert.deepEqual(spec.ContainerSpec.CapabilityDrop, ['ALL']);
    assert.match(started.url, /^unix:\//, 'routed to the socket on the host');
    const networkId = started.state.networkId as string;
    const network = await docker.getNetwork(networkId).inspect();
    assert.equal(network.Internal, true, 'an internal network: no gateway, no route out');
    assert.deepEqual(
      spec.Networks.map((n: { Target: string }) => n.Target),
      [networkId],
      'on that network only',
    );
    assert.ok(!JSON.stringify(info).includes(secret), 'the token is not in the service spec');
    const listed = await spawner.list?.();
    assert.deepEqual(
      listed?.map((s) => [s.userName, s.state.serviceId]),
      [['tove', started.state.serviceId]],
    );
    await spawner.stop(started.state, { graceMs: 0 });
    assert.deepEqual(await spawner.list?.(), []);
    const secrets = await docker.listSecrets({
      filters: JSON.stringify({ label: [`${TEST_LABEL}=${run}`] }),
    });
    assert.equal(secrets.length, 0, 'the secret went with the service');
    await assert.rejects(docker.getNetwork(networkId).inspect(), 'the network went with the service');
  });
});
