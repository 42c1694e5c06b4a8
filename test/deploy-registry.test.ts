import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { RegistryLoginExpiredError } from '../src/deploy/aws-eb/images.js';
import { createImagePublisher } from '../src/deploy/aws-eb/publish-images.js';
import { rootfsRecipe, rootfsTag } from '../src/image/recipe.js';
import { dockerForTests } from './support/docker.js';
import { freePort } from './support/free-port.js';
import { collectOutput, waitFor } from './support/process.js';

/**
 * The real `ImagePublisher` against a stand-in for ECR: Debian's `docker-registry` (the CNCF
 * distribution registry, as ECR speaks its API) on 127.0.0.1 with htpasswd (bcrypt) logins. The engine
 * treats a 127.0.0.0/8 registry as insecure-allowed, so no TLS is needed. The images pushed are the
 * offline rootfs (small, and already built for the other container tests) under both repositories.
 */
const docker = new Docker();
const USER = 'AWS';
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

/** A bcrypt htpasswd line (the registry accepts only bcrypt), from Debian's Python's crypt module. */
function htpasswdLine(user: string, password: string): string {
  const hash = execFileSync(
    '/usr/bin/python3',
    [
      '-W',
      'ignore',
      '-c',
      'import crypt, sys; print(crypt.crypt(sys.stdin.read(), crypt.mksalt(crypt.METHOD_BLOWFISH)))',
    ],
    { input: password, encoding: 'utf8' },
  ).trim();
  assert.match(hash, /^\$2[aby]\$/, 'python3 crypt must make bcrypt hashes');
  return `${user}:${hash}\n`;
}

interface EcrStandIn {
  endpoint: string;
  host: string;
  htpasswd: string;
  output: () => string;
  stop(): Promise<void>;
}

async function startEcrStandIn(dir: string): Promise<EcrStandIn> {
  const port = await freePort();
  const htpasswd = join(dir, 'htpasswd');
  await writeFile(htpasswd, htpasswdLine(USER, PASSWORD));
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: { level: warn }',
      `storage: { filesystem: { rootdirectory: ${join(dir, 'data')} }, delete: { enabled: true } }`,
      `http: { addr: "127.0.0.1:${port}" }`,
      `auth: { htpasswd: { realm: ecr-stand-in, path: ${htpasswd} } }`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const host = `127.0.0.1:${port}`;
  await waitFor(
    'the ECR stand-in to answer',
    () =>
      fetch(`http://${host}/v2/`).then(
        (r) => r.status === 401,
        () => false,
      ),
    15_000,
  );
  return {
    endpoint: `https://${host}`,
    host,
    htpasswd,
    output,
    async stop() {
      child.kill('SIGTERM');
    },
  };
}

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('image publisher against an ECR stand-in (docker-registry with htpasswd)', () => {
  let dir: string;
  let registry: EcrStandIn;
  let local: string;
  const pushed: string[] = [];

  before(async () => {
    await dockerForTests({ quiet: true });
    local = rootfsTag(rootfsRecipe());
    dir = await mkdtemp(join(tmpdir(), 'sifu-ecr-standin-'));
    registry = await startEcrStandIn(dir);
  });

  after(async () => {
    for (const reference of pushed)
      await docker
        .getImage(reference)
        .remove()
        .catch(() => {});
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const publisher = () =>
    createImagePublisher({ docker, localImages: async () => ({ sifu: local, notebook: local }) });
  const repositories = () => ({ sifu: `${registry.host}/sifu`, notebook: `${registry.host}/sifu-notebook` });

  test('a wrong password is refused at login, before anything is tagged or pushed', async () => {
    await assert.rejects(
      publisher().publish({ endpoint: registry.endpoint, username: USER, password: 'wrong' }, repositories()),
      (err: Error) => {
        assert.ok(err instanceof RegistryLoginExpiredError, String(err));
        assert.match(err.message, /login to 127\.0\.0\.1:\d+ as AWS refused/);
        assert.ok(!err.message.includes('wrong'), 'the password is not in the message');
        return true;
      },
    );
  });

  test('both images are pushed with the login, shown by the catalog, and pulled back', async () => {
    const images = await publisher().publish(
      { endpoint: registry.endpoint, username: USER, password: PASSWORD },
      repositories(),
    );
    pushed.push(images.sifu, images.notebook);
    assert.match(images.sifu, new RegExp(`^${registry.host}/sifu:[0-9a-f]{16}$`));
    assert.match(images.notebook, new RegExp(`^${registry.host}/sifu-notebook:[0-9a-f]{16}$`));

    const catalog = await fetch(`http://${registry.host}/v2/_catalog`, {
      headers: { authorization: basic(USER, PASSWORD) },
    }).then((r) => r.json() as Promise<{ repositories: string[] }>);
    assert.deepEqual(catalog.repositories.sort(), ['sifu', 'sifu-notebook']);
    const unauthenticated = await fetch(`http://${registry.host}/v2/_catalog`);
    assert.equal(unauthenticated.status, 401);

    // Pulled back: the local copy removed first, so the engine must fetch it from the registry.
    await docker.getImage(images.notebook).remove();
    const stream = (await docker.pull(images.notebook, {
      authconfig: { username: USER, password: PASSWORD, serveraddress: registry.host },
    })) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
    );
    const pulled = await docker.getImage(images.notebook).inspect();
    const original = await docker.getImage(local).inspect();
    assert.equal(pulled.Id, original.Id, 'the pulled image is the one pushed');
  });

  test('a revoked login is refused as expired (the AWS steps then fetch a fresh one)', async () => {
    // ECR's passwords expire after 12 hours; here the account is removed from the registry's htpasswd,
    // which it re-reads when the file changes.
    await writeFile(registry.htpasswd, htpasswdLine('someone-else', 'x'));
    await new Promise((r) => setTimeout(r, 1_100));
    await assert.rejects(
      publisher().publish(
        { endpoint: registry.endpoint, username: USER, password: PASSWORD },
        repositories(),
      ),
      (err: Error) => {
        assert.ok(err instanceof RegistryLoginExpiredError, `${err}\n${registry.output()}`);
        assert.ok(!err.message.includes(PASSWORD));
        return true;
      },
    );
  });
});
