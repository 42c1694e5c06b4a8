import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Command } from 'commander';
import { registerBundleCommand } from '../src/cli/commands/deploy-bundle.js';
import {
  bundleFiles,
  composeFile,
  ebextensionsConfig,
  nginxConf,
  writeBundle,
} from '../src/deploy/aws-eb/bundle.js';
import { DEFAULT_SETTINGS, type DeploySettings } from '../src/deploy/aws-eb/settings.js';

/** The bundle's files as data (what the rehearsal runs for real, checked here without docker). */
const settings: DeploySettings = {
  ...DEFAULT_SETTINGS,
  application: 'sifu',
  environment: 'sifu-env',
  efs: true,
};
const images = { sifu: 'registry.example/sifu:abc', notebook: 'registry.example/sifu-notebook:def' };

describe('the EB bundle', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test('the same settings and images give the same zip hash; another image another', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sifu-bundle-test-'));
    dirs.push(dir);
    const a = await writeBundle(settings, images, join(dir, 'a'));
    const b = await writeBundle(settings, images, join(dir, 'b'));
    const c = await writeBundle(settings, { ...images, sifu: 'registry.example/sifu:other' }, join(dir, 'c'));
    assert.equal(a.hash, b.hash);
    assert.notEqual(a.hash, c.hash);
    assert.deepEqual(await readFile(a.zip), await readFile(b.zip));
  });

  test('the zip unzips with every hook executable and nothing else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sifu-bundle-test-'));
    dirs.push(dir);
    const { zip } = await writeBundle(settings, images, join(dir, 'bundle'));
    const listing = execFileSync('/usr/bin/unzip', ['-Z', zip], { encoding: 'utf8' });
    const hooks = bundleFiles(settings, images).filter((f) => f.executable);
    assert.equal(hooks.length, 6, 'three phases, for deployments and config updates');
    for (const line of listing.split('\n').filter((l) => /^[-d]r/.test(l))) {
      const name = line.split(/\s+/).at(-1) as string;
      const executable = hooks.some((h) => h.path === name);
      assert.equal(line.startsWith('-rwxr-xr-x'), executable, line);
    }
    execFileSync('/usr/bin/unzip', ['-tq', zip]);
  });

  test("Sifu listens behind nginx; the public ports are nginx's; the ALB health check is on both", () => {
    const conf = nginxConf(settings);
    assert.match(conf, /listen 3334;[\s\S]*listen 3335;/);
    assert.match(conf, /server 127\.0\.0\.1:13334;\s+keepalive/);
    assert.match(conf, /location = \/hub\/health \{\s+proxy_pass http:\/\/sifu_hub;/);
    assert.match(conf, /proxy_set_header Upgrade \$http_upgrade;/);
    const compose = composeFile(settings, images);
    assert.match(compose, /SIFU_HUB_PORT: "13334"/);
    assert.match(compose, /SIFU_SPAWNER_DOCKER_IMAGE: "registry\.example\/sifu-notebook:def"/);
    assert.match(compose, /network_mode: host/);
    const config = JSON.parse(ebextensionsConfig(settings)) as {
      option_settings: Array<{ namespace: string; option_name: string; value: string }>;
      Resources: Record<string, { Properties: { FromPort: number } }>;
    };
    const option = (namespace: string, name: string) =>
      config.option_settings.find((o) => o.namespace === namespace && o.option_name === name)?.value;
    assert.equal(option('aws:elbv2:listener:3335', 'DefaultProcess'), 'notebook');
    assert.equal(
      option('aws:elasticbeanstalk:environment:process:notebook', 'HealthCheckPath'),
      '/hub/health',
    );
    assert.equal(config.Resources.SifuRelayBetweenInstances?.Properties.FromPort, 3336);
  });

  test('no file holds a secret: the token and the database password are fetched on the instance', () => {
    const text = bundleFiles(settings, images)
      .map((f) => f.text)
      .join('\n');
    assert.ok(!/RDS_PASSWORD=|SIFU_STORE_URL=|deploymentToken"/.test(text));
    assert.match(text, /ssm get-parameter/);
  });

  test("the metadata rule, with this machine's iptables in a network namespace of its own: once, however often", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sifu-bundle-test-'));
    dirs.push(dir);
    const { dir: bundle } = await writeBundle(settings, images, join(dir, 'bundle'));
    const rules = execFileSync(
      'unshare',
      [
        '--net',
        'bash',
        '-c',
        '. .platform/sifu-eb-lib.sh && block_metadata_for_containers && block_metadata_for_containers && iptables -S FORWARD',
      ],
      { cwd: bundle, encoding: 'utf8', env: { ...process.env, SIFU_EB_GET_CONFIG: 'true' } },
    );
    const lines = rules.split('\n').filter((l) => l.includes('169.254.169.254'));
    assert.deepEqual(lines, [
      '-A FORWARD -d 169.254.169.254/32 -j REJECT --reject-with icmp-net-unreachable',
    ]);
  });

  test('`sifu deploy aws-eb bundle --out` writes the folder and the zip', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sifu-bundle-test-'));
    dirs.push(dir);
    const program = new Command('sifu').exitOverride();
    registerBundleCommand(program.command('deploy').command('aws-eb'));
    const out = join(dir, 'eb-bundle');
    const log = console.log;
    const printed: string[] = [];
    console.log = (line: string) => printed.push(line);
    try {
      await program.parseAsync(
        ['deploy', 'aws-eb', 'bundle', '--out', out, '--sifu-image', 'r/s:1', '--notebook-image', 'r/n:2'],
        { from: 'user' },
      );
    } finally {
      console.log = log;
    }
    assert.ok(existsSync(join(out, 'docker-compose.yml')));
    assert.ok(existsSync(`${out}.zip`));
    assert.match(printed.join('\n'), /^bundle [0-9a-f]{16}: /);
    assert.match(await readFile(join(out, 'docker-compose.yml'), 'utf8'), /image: "r\/s:1"/);
  });
});
