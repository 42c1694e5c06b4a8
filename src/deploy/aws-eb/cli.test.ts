import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEPLOY_FILE } from './settings.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The real command and SDK, no network: with no credentials anywhere the provider chain gives up locally. */
test('sifu deploy aws-eb without credentials exits non-zero with a clear error', () => {
  const home = mkdtempSync(join(tmpdir(), 'sifu-deploy-cli-'));
  try {
    const run = spawnSync(
      join(ROOT, 'node_modules/.bin/tsx'),
      [join(ROOT, 'src/cli/main.ts'), 'deploy', 'aws-eb', '--yes', '--dry-run'],
      {
        cwd: home,
        // Nothing from this machine: no keys, no profile, no instance metadata.
        env: { PATH: process.env.PATH ?? '', HOME: home, AWS_EC2_METADATA_DISABLED: 'true' },
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /sifu: credentials: no AWS credentials found: set AWS_PROFILE/);
    assert.ok(!existsSync(join(home, DEPLOY_FILE)));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('sifu deploy aws-eb rejects a port that is not one', () => {
  const run = spawnSync(
    join(ROOT, 'node_modules/.bin/tsx'),
    [join(ROOT, 'src/cli/main.ts'), 'deploy', 'aws-eb', '--hub-port', '70000'],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(run.status, 1);
  assert.match(run.stderr, /--hub-port <port>' argument '70000' is invalid\. must be a port/);
});
