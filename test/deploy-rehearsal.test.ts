import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import pg from 'pg';
import { TOKEN_IN_CONTAINER, writeBundle } from '../src/deploy/aws-eb/bundle.js';
import { DEFAULT_SETTINGS, type DeploySettings } from '../src/deploy/aws-eb/settings.js';
import { buildSifuImage } from '../src/image/sifu-image.js';
import { ensureBuilt, PACKAGE_ROOT } from './support/dist.js';
import { dockerForTests, removeLabelled } from './support/docker.js';
import { deployWithEbAgentStandIn, type EbAgentStandIn } from './support/eb-agent-standin.js';
import { runInKernel } from './support/kernel.js';
import { type RunningPostgres, startPostgres } from './support/postgres.js';
import { Client, waitFor } from './support/sifu.js';

/**
 * The bundle rehearsed for real on this machine, as Elastic Beanstalk would run it on an instance: the
 * zip unzipped and its hooks run in EB's order by a stand-in for the platform agent, Sifu's image
 * (built offline, cached by content hash) started by docker-compose on the real engine with the docker
 * backend, the bundle's nginx configuration in Debian's nginx, PostgreSQL standing in for RDS, a local
 * directory for EFS, fake SSM and IMDSv2. Then a learner signs in and runs a cell through nginx.
 */
const docker = new Docker();
const project = `sifu-rehearsal-${randomBytes(3).toString('hex')}`;
const TOKEN = `deploy-token-${randomBytes(12).toString('hex')}`;
const DB_PASSWORD = `db-password-${randomBytes(12).toString('hex')}`;
const DB_PASSWORD_PARAMETER = '/sifu/rehearsal/db-password';

/** A free port whose +10000 (where Sifu listens behind nginx) is free too. */
async function freePortPair(): Promise<number> {
  const listenable = (port: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
    });
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if ((await listenable(port)) && (await listenable(port + 10_000))) return port;
  }
}

describe('the EB bundle, rehearsed with a stand-in EB agent', { timeout: 600_000 }, () => {
  let postgres: RunningPostgres;
  let agent: EbAgentStandIn | undefined;
  let efs: string;
  let settings: DeploySettings;
  let bundleDir: string;

  before(async () => {
    ensureBuilt();
    const notebook = await dockerForTests({ quiet: true });
    const sifu = await buildSifuImage({
      packageRoot: PACKAGE_ROOT,
      removeOlder: true,
      onProgress: (line) => console.error(`# sifu image: ${line}`),
    });
    postgres = await startPostgres();
    efs = await mkdtemp(join(tmpdir(), 'sifu-efs-standin-'));
    settings = {
      ...DEFAULT_SETTINGS,
      application: 'sifu-rehearsal',
      environment: project,
      efs: true,
      efsMountPath: efs,
      ports: { hub: await freePortPair(), notebook: await freePortPair(), relay: await freePortPair() },
    };
    bundleDir = await mkdtemp(join(tmpdir(), 'sifu-eb-bundle-'));
    const { zip } = await writeBundle(settings, { sifu: sifu.tag, notebook }, join(bundleDir, 'bundle'));
    const db = new URL(postgres.url);
    agent = await deployWithEbAgentStandIn({
      zip,
      project,
      parameters: { [settings.tokenParameter]: TOKEN, [DB_PASSWORD_PARAMETER]: DB_PASSWORD },
      properties: {
        RDS_HOSTNAME: db.hostname,
        RDS_PORT: db.port,
        RDS_DB_NAME: db.pathname.slice(1),
        RDS_USERNAME: db.username,
        // As the AWS steps set it for a database they made: the password's SSM name, never the password.
        RDS_PASSWORD_PARAMETER: DB_PASSWORD_PARAMETER,
        SIFU_EFS_FILE_SYSTEM_ID: 'fs-0rehearsal',
        SIFU_HUB_PUBLIC_URL: `http://127.0.0.1:${settings.ports.hub}`,
        SIFU_NOTEBOOK_PUBLIC_URL: `http://127.0.0.1:${settings.ports.notebook}`,
        SIFU_AUTHENTICATOR: 'dev',
        // The rehearsal only: the relay listens beyond loopback, and dev sign-in is a stand-in.
        SIFU_AUTH_DEV_ALLOW_NON_LOOPBACK: 'true',
        SIFU_SPAWNER_DOCKER_INSTANCE: project,
        SIFU_SPAWNER_START_TIMEOUT: '90',
      },
    });
  });

  after(async () => {
    await agent?.stop();
    await removeLabelled(docker, `sifu.instance=${project}`).catch(() => {});
    await postgres?.stop();
    if (efs) await rm(efs, { recursive: true, force: true });
    if (bundleDir) await rm(bundleDir, { recursive: true, force: true });
  });

  test('the hooks prepared the instance: EFS over TLS, the token from SSM, the relay address, the metadata rule', async () => {
    const a = agent as EbAgentStandIn;
    const calls = await a.calls();
    const logs = await a.logs();
    assert.ok(
      calls.some((c) => /^mount -t efs -o tls,.*noresvport.* fs-0rehearsal:\/ /.test(c)),
      `mount: ${calls.join('\n')}`,
    );
    assert.ok(
      calls.some((c) =>
        c.startsWith(
          `aws ssm get-parameter --region ${settings.region} --name ${settings.tokenParameter} --with-decryption`,
        ),
      ),
    );
    assert.ok(!calls.join('\n').includes(TOKEN), 'the token is in no argument');
    assert.ok(calls.some((c) => c.includes(`--name ${DB_PASSWORD_PARAMETER} --with-decryption`)));
    const dbPassword = join(a.stateDir, 'secrets/rds-password');
    assert.equal((await readFile(dbPassword, 'utf8')).trim(), DB_PASSWORD);
    assert.equal((await stat(dbPassword)).mode & 0o777, 0o400);
    assert.ok(
      calls.includes(
        'iptables -I FORWARD 1 -d 169.254.169.254/32 -j REJECT --reject-with icmp-net-unreachable',
      ),
    );
    const token = join(a.stateDir, 'secrets/deployment-token');
    assert.equal((await readFile(token, 'utf8')).trim(), TOKEN);
    assert.equal((await stat(token)).mode & 0o777, 0o400);
    assert.equal((await stat(join(a.stateDir, 'secrets'))).mode & 0o777, 0o700);
    const instance = await readFile(join(a.stateDir, 'instance.env'), 'utf8');
    assert.match(instance, new RegExp(`SIFU_CLUSTER_RELAY_URL=http://127.0.0.1:${settings.ports.relay}`));
    assert.match(instance, /SIFU_CLUSTER_HOST_ID=i-0rehearsal/);
    assert.ok((await stat(join(efs, 'homes'))).uid === 1000, logs);
  });

  test("Sifu's container: the token file only, never in its environment or argv; the store from RDS_*", async () => {
    const info = await docker.getContainer(`${project}_sifu_1`).inspect();
    const env = info.Config.Env.join('\n');
    assert.ok(!env.includes(TOKEN), 'no token in the environment');
    assert.ok(!env.includes(DB_PASSWORD), 'no database password in the environment');
    assert.ok(!env.includes('SIFU_STORE_URL'), 'the store URL is made inside the entrypoint');
    assert.ok(!JSON.stringify(info.Config.Cmd).includes('postgres'), 'nor on the command line');
    assert.ok(env.includes(`SIFU_COURSES_DEPLOYMENT_TOKEN_FILE=${TOKEN_IN_CONTAINER}`));
    assert.ok(env.includes('SIFU_SPAWNER_BACKEND=docker'));
    assert.equal(info.HostConfig.NetworkMode, 'host');
    const relay = await fetch(`http://127.0.0.1:${settings.ports.relay}/`).then(
      (r) => r.status,
      () => 0,
    );
    assert.ok(relay >= 400, `the relay listens and refuses a request without its key (${relay})`);
    // The image carries the native WebSocket relay `npm ci` built: Sifu would warn at start without it.
    const logs = (
      await docker.getContainer(`${project}_sifu_1`).logs({ stdout: true, stderr: true })
    ).toString();
    assert.match(logs, /Sifu is serving/);
    assert.doesNotMatch(logs, /native addon is not built/);
  });

  test('a learner signs in and runs a cell, through nginx on both listener ports', async () => {
    const sifu = {
      hubUrl: `http://127.0.0.1:${settings.ports.hub}`,
      notebookUrl: `http://127.0.0.1:${settings.ports.notebook}`,
    };
    const health = await fetch(`${sifu.notebookUrl}/hub/health`);
    assert.equal(health.status, 200, 'the notebook listener answers the ALB health check');
    const ada = new Client();
    const signedIn = await ada.signIn(sifu, 'ada');
    await signedIn.res.arrayBuffer();
    await waitFor(
      "ada's server through nginx",
      async () => {
        const landed = await ada.follow(`${sifu.hubUrl}/hub/spawn/ada`);
        await landed.res.arrayBuffer();
        return landed.res.status === 200 && landed.hops.at(-1)?.startsWith(`${sifu.notebookUrl}/user/ada/`);
      },
      120_000,
    ).catch(async (err) => {
      throw new Error(`${err.message}\n${await (agent as EbAgentStandIn).logs()}`);
    });
    assert.equal(await runInKernel(sifu, ada, 'ada', '1+1'), '2');
    // The store is the "RDS" (the entrypoint made SIFU_STORE_URL from RDS_*), not a SQLite fallback.
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    try {
      const users = await db.query('SELECT name FROM users');
      assert.ok(
        users.rows.some((row) => row.name === 'ada'),
        JSON.stringify(users.rows),
      );
    } finally {
      await db.end();
    }
  });
});
