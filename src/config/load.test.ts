import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig, notebookOrigin, serverHubEnabled, userOrigins, workerCount } from './load.js';
import { configReference } from './reference.js';
import { envName, walkLeaves } from './schema.js';

test('defaults match the documented ports and data dir', () => {
  const config = loadConfig();
  assert.equal(config.hub.port, 3334);
  assert.equal(config.notebook.port, 3335);
  assert.equal(config.dataDir, join(process.cwd(), 'data'));
  assert.equal(config.authenticator, 'dev');
  assert.equal(config.adminToken, undefined);
  assert.match(config.spawner.command, /^jupyter notebook /);
});

test('by default each learner has an origin of their own, under http://localhost:3335', () => {
  const config = loadConfig();
  assert.equal(notebookOrigin(config), 'http://localhost:3335');
  assert.equal(userOrigins(config), true);
  assert.equal(config.proxy.adminAccess, false);
  const table: [Record<string, unknown>, string, boolean][] = [
    [{ publicUrl: 'https://notebooks.example.org' }, 'https://notebooks.example.org', true],
    [{ publicUrl: 'http://127.0.0.1:3335' }, 'http://127.0.0.1:3335', false],
    [{ publicUrl: 'http://127.0.0.1:3335', userOrigins: 'on' }, 'http://127.0.0.1:3335', true],
    [
      { publicUrl: 'https://notebooks.example.org', userOrigins: 'off' },
      'https://notebooks.example.org',
      false,
    ],
    [{ host: '10.1.2.3' }, 'http://10.1.2.3:3335', false],
  ];
  for (const [notebook, origin, perUser] of table) {
    const c = loadConfig({ overrides: { notebook } });
    assert.equal(notebookOrigin(c), origin);
    assert.equal(userOrigins(c), perUser, JSON.stringify(notebook));
  }
});

test('the required SIFU_* variables map onto their options', () => {
  const config = loadConfig({
    env: {
      SIFU_HUB_PORT: '4000',
      SIFU_NOTEBOOK_PORT: '4001',
      SIFU_DATA_DIR: '/tmp/sifu-data',
      SIFU_ADMIN_TOKEN: 'a-very-long-admin-token',
      SIFU_SPAWNER_COMMAND: 'jupyter lab --port=${SIFU_SERVER_PORT}',
      SIFU_AUTHENTICATOR: 'dev',
      SIFU_PROXY_FRAME_ANCESTORS: "'self', https://lms.example.org",
      SIFU_CULLER_ENABLED: 'false',
    },
  });
  assert.equal(config.hub.port, 4000);
  assert.equal(config.notebook.port, 4001);
  assert.equal(config.dataDir, '/tmp/sifu-data');
  assert.equal(config.adminToken, 'a-very-long-admin-token');
  assert.equal(config.spawner.command, 'jupyter lab --port=${SIFU_SERVER_PORT}');
  assert.deepEqual(config.proxy.frameAncestors, ["'self'", 'https://lms.example.org']);
  assert.equal(config.culler.enabled, false);
});

test('`workers` is one per core by default (`auto`), or the number given', () => {
  assert.equal(loadConfig().workers, 'auto');
  const table: [Record<string, string>, number, number][] = [
    [{}, 2, 2],
    [{}, 1, 1],
    [{}, 96, 64],
    [{ SIFU_WORKERS: 'auto' }, 8, 8],
    [{ SIFU_WORKERS: '1' }, 8, 1],
    [{ SIFU_WORKERS: '3' }, 2, 3],
    // The warm pool lives in the first worker: others' starts would never be warm.
    [{ SIFU_SPAWNER_BACKEND: 'docker', SIFU_SPAWNER_POOL_SIZE: '2' }, 8, 1],
    [{ SIFU_SPAWNER_BACKEND: 'docker', SIFU_SPAWNER_POOL_SIZE: '0' }, 8, 8],
    [{ SIFU_SPAWNER_BACKEND: 'docker', SIFU_SPAWNER_POOL_SIZE: '2', SIFU_WORKERS: '2' }, 8, 2],
  ];
  for (const [env, cores, count] of table) {
    assert.equal(workerCount(loadConfig({ env }), cores), count, `${JSON.stringify(env)} on ${cores} cores`);
  }
});

const bad: Array<[string, Parameters<typeof loadConfig>[0], RegExp]> = [
  ['non-numeric port from env', { env: { SIFU_HUB_PORT: 'abc' } }, /`hub\.port` \(from SIFU_HUB_PORT\)/],
  ['port out of range', { env: { SIFU_NOTEBOOK_PORT: '70000' } }, /`notebook\.port`/],
  [
    'unknown nested key',
    { overrides: { proxy: { frameAncestor: [] } } },
    /`proxy\.frameAncestor` is not a known option/,
  ],
  ['unknown top-level key', { overrides: { hubb: {} } }, /`hubb` is not a known option/],
  [
    'unknown authenticator',
    { env: { SIFU_AUTHENTICATOR: 'ldap' } },
    /`authenticator` \(from SIFU_AUTHENTICATOR\)/,
  ],
  ['short admin token', { env: { SIFU_ADMIN_TOKEN: 'short' } }, /`adminToken`.*at least 16/],
  ['negative timeout', { overrides: { culler: { idleTimeout: -1 } } }, /`culler\.idleTimeout`/],
  ['bad boolean', { env: { SIFU_CULLER_ENABLED: 'maybe' } }, /`culler\.enabled`/],
  [
    'workers neither auto nor a number',
    { env: { SIFU_WORKERS: 'many' } },
    /`workers` \(from SIFU_WORKERS\) must be auto or a whole number from 1 to 64, got 'many'/,
  ],
  [
    'no workers',
    { env: { SIFU_WORKERS: '0' } },
    /`workers` \(from SIFU_WORKERS\) must be auto or a whole number/,
  ],
];
for (const [name, options, message] of bad) {
  test(`a wrong value fails with the option's path: ${name}`, () => {
    assert.throws(
      () => loadConfig(options),
      (err: Error & { code?: string }) => err.code === 'SIFU_ERR_CONFIG' && message.test(err.message),
    );
  });
}

test('a file is read, and the environment wins over it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sifu-config-'));
  const file = join(dir, 'sifu.json');
  writeFileSync(file, JSON.stringify({ hub: { port: 5000 }, notebook: { port: 5001 } }));
  const config = loadConfig({ file, env: { SIFU_NOTEBOOK_PORT: '6001' } });
  assert.equal(config.hub.port, 5000);
  assert.equal(config.notebook.port, 6001);
  writeFileSync(file, '{ not json');
  assert.throws(() => loadConfig({ file }), { code: 'SIFU_ERR_CONFIG' });
  rmSync(dir, { recursive: true, force: true });
});

test('every option has help, an env name, and a row in the reference', () => {
  const reference = configReference();
  for (const { path, leaf } of walkLeaves()) {
    assert.ok(leaf.help.length > 10, `${path.join('.')} needs help text`);
    assert.ok(reference.includes(`\`${envName(path)}\``), `${envName(path)} missing from the reference`);
  }
  assert.equal(envName(['auth', 'dev', 'allowNonLoopback']), 'SIFU_AUTH_DEV_ALLOW_NON_LOOPBACK');
});

test('docs/configuration.md is the generated reference (regenerate: sifu config reference)', () => {
  const docs = readFileSync(join(import.meta.dirname, '../../docs/configuration.md'), 'utf8');
  assert.equal(docs, configReference());
});

const SINGLEUSER_COMMAND = 'jupyterhub-singleuser --NotebookApp.sock=${SIFU_SERVER_SOCKET}';

test('servers get a hub endpoint when their command runs a JupyterHub single-user server, on any backend and any workers', () => {
  const cases: Array<[Record<string, string>, string, boolean]> = [
    [{}, 'local', false],
    [{ SIFU_SPAWNER_COMMAND: SINGLEUSER_COMMAND }, 'local', true],
    [{ SIFU_SPAWNER_COMMAND: SINGLEUSER_COMMAND, SIFU_WORKERS: '2' }, 'local', true],
    [{ SIFU_SPAWNER_BACKEND: 'docker' }, 'docker', false],
    [{ SIFU_SPAWNER_BACKEND: 'docker', SIFU_SPAWNER_COMMAND: SINGLEUSER_COMMAND }, 'docker', true],
    [
      { SIFU_SPAWNER_BACKEND: 'docker', SIFU_SPAWNER_COMMAND: '/opt/conda/bin/jupyterhub-singleuser' },
      'docker',
      true,
    ],
    [
      { SIFU_SPAWNER_BACKEND: 'docker', SIFU_SPAWNER_COMMAND: 'tini -- jupyterhub-singleuser' },
      'docker',
      true,
    ],
    [{ SIFU_SPAWNER_BACKEND: 'docker', SIFU_SPAWNER_COMMAND: 'start-singleuser.sh --x' }, 'docker', true],
    [{ SIFU_SPAWNER_BACKEND: 'swarm', SIFU_SPAWNER_COMMAND: SINGLEUSER_COMMAND }, 'swarm', true],
    [{ SIFU_SPAWNER_BACKEND: 'swarm' }, 'swarm', false],
    [{ SIFU_SPAWNER_BACKEND: 'docker', SIFU_SPAWNER_HUB_ENDPOINT: 'on' }, 'docker', true],
    [{ SIFU_SPAWNER_HUB_ENDPOINT: 'on' }, 'local', true],
    [{ SIFU_SPAWNER_COMMAND: SINGLEUSER_COMMAND, SIFU_SPAWNER_HUB_ENDPOINT: 'off' }, 'local', false],
    [{ SIFU_SPAWNER_BACKEND: 'docker', SIFU_SPAWNER_COMMAND: 'my-jupyterhub-singleuser-x' }, 'docker', false],
    [
      { SIFU_SPAWNER_COMMAND: 'jupyter lab --notebook-dir=/home/jupyterhub-singleuser-notes' },
      'local',
      false,
    ],
    // A test double (the in-process tests' spawners) gets none whatever the configured backend.
    [{ SIFU_SPAWNER_HUB_ENDPOINT: 'on' }, 'doubles', false],
  ];
  for (const [env, backend, expected] of cases) {
    assert.equal(
      serverHubEnabled(loadConfig({ env }), backend),
      expected,
      `${JSON.stringify(env)} on ${backend}`,
    );
  }
  assert.throws(() => loadConfig({ env: { SIFU_SPAWNER_HUB_ENDPOINT: 'sometimes' } }), /hubEndpoint/);
});

test('the warm pool and a hub endpoint are refused together: the pool cannot start single-user servers', () => {
  const pool = { SIFU_SPAWNER_BACKEND: 'docker', SIFU_SPAWNER_POOL_SIZE: '2' };
  assert.throws(() => loadConfig({ env: { ...pool, SIFU_SPAWNER_COMMAND: SINGLEUSER_COMMAND } }), {
    code: 'SIFU_ERR_CONFIG',
    message: /spawner\.pool\.size/,
  });
  assert.throws(() => loadConfig({ env: { ...pool, SIFU_SPAWNER_HUB_ENDPOINT: 'on' } }), {
    code: 'SIFU_ERR_CONFIG',
  });
  // Plain Jupyter with the pool, and the pool with the endpoint off, stay as they were.
  assert.equal(loadConfig({ env: pool }).spawner.pool.size, 2);
  const off = { ...pool, SIFU_SPAWNER_COMMAND: SINGLEUSER_COMMAND, SIFU_SPAWNER_HUB_ENDPOINT: 'off' };
  assert.equal(serverHubEnabled(loadConfig({ env: off }), 'docker'), false);
});
