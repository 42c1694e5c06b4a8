import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HIDDEN, hideSecrets } from './hide-secrets.js';
import { loadConfig } from './load.js';
import { walkLeaves } from './schema.js';

const valueAt = (tree: unknown, path: readonly string[]): unknown =>
  path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], tree);

const SECRET_VALUES: Record<string, string> = {
  adminToken: 'admin-token-0123456789abcdef',
  'auth.edx.clientSecret': 'edx-client-secret-value',
  'auth.oidc.clientSecret': 'oidc-client-secret-value',
  'courses.deploymentToken': 'deployment-token-value',
  'store.url': 'postgres://sifu:db-password@db.example.org/sifu',
};

test('the schema marks every secret-bearing option secret (and this table names them all)', () => {
  const secret = walkLeaves()
    .filter(({ leaf }) => leaf.secret)
    .map(({ path }) => path.join('.'));
  assert.deepEqual(secret.sort(), Object.keys(SECRET_VALUES).sort());
});

test('hideSecrets shows every set secret as <hidden> and leaves the rest as it is', () => {
  const overrides: Record<string, unknown> = {};
  for (const [dotted, value] of Object.entries(SECRET_VALUES)) {
    const path = dotted.split('.');
    let node = overrides;
    for (const key of path.slice(0, -1)) {
      node[key] ??= {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1] as string] = value;
  }
  const config = loadConfig({ overrides: { ...overrides, hub: { port: 4000 }, authenticator: 'oidc' } });
  const before = JSON.stringify(config);
  const shown = hideSecrets(config);
  for (const dotted of Object.keys(SECRET_VALUES)) {
    assert.equal(valueAt(shown, dotted.split('.')), HIDDEN, dotted);
  }
  for (const value of Object.values(SECRET_VALUES)) assert.ok(!JSON.stringify(shown).includes(value));
  assert.equal(valueAt(shown, ['hub', 'port']), 4000);
  assert.equal(valueAt(shown, ['authenticator']), 'oidc');
  assert.equal(valueAt(shown, ['auth', 'oidc', 'scope']), 'openid profile email');
  assert.equal(JSON.stringify(config), before, 'the config itself is not changed');
});

test('hideSecrets leaves unset secrets out, as JSON leaves out any unset option', () => {
  const shown = hideSecrets(loadConfig());
  assert.equal(valueAt(shown, ['adminToken']), undefined);
  assert.equal(valueAt(shown, ['auth', 'oidc', 'clientSecret']), undefined);
  assert.deepEqual(shown, JSON.parse(JSON.stringify(loadConfig())));
});
