import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { before, test } from 'node:test';
import { HIDDEN } from '../src/config/hide-secrets.js';
import { envName, type LeafInfo, walkLeaves } from '../src/config/schema.js';
import { ensureBuilt } from './support/dist.js';

let cli = '';
before(() => {
  cli = ensureBuilt();
});

/**
 * A distinctive value the option accepts: a bare token first, then the token as the password of a URL
 * (for options that must be URLs). `marker` is the part that must never be printed.
 */
function secretValue({ path, leaf }: LeafInfo): { value: string; marker: string } {
  const marker = `leaked-${path.join('-')}-7f3a9c2e5b1d`;
  const candidates = [
    marker,
    `postgres://sifu:${marker}@db.example.org/sifu`,
    `https://sifu:${marker}@example.org`,
  ];
  const value = candidates.find((candidate) => leaf.type.safeParse(candidate).success);
  assert.ok(value, `no test value fits the secret option ${path.join('.')}: add a candidate here`);
  return { value, marker };
}

const valueAt = (tree: unknown, path: readonly string[]): unknown =>
  path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], tree);

test('sifu config check lists every secret option as <hidden> and prints none of their values', () => {
  const secrets = walkLeaves().filter(({ leaf }) => leaf.secret);
  assert.ok(secrets.length >= 5, 'the schema marks its secret options');
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SIFU_')),
  );
  const planted = secrets.map((info) => ({ info, ...secretValue(info) }));
  for (const { info, value } of planted) env[envName(info.path)] = value;

  const run = spawnSync(process.execPath, [cli, 'config', 'check'], { env, encoding: 'utf8' });
  assert.equal(run.status, 0, `sifu config check failed:\n${run.stderr}`);
  const shown = JSON.parse(run.stdout) as unknown;
  for (const { info, value, marker } of planted) {
    const option = info.path.join('.');
    assert.equal(valueAt(shown, info.path), HIDDEN, `${option} is listed, hidden`);
    for (const output of [run.stdout, run.stderr]) {
      assert.ok(!output.includes(marker) && !output.includes(value), `${option}'s value was printed`);
    }
  }
});
