import assert from 'node:assert/strict';
import { afterEach, beforeEach, test } from 'node:test';
import { readDeployFile } from './deploy-file.js';
import { type Harness, harness } from './doubles/harness.js';
import { INSTANCE_ROLE } from './roles.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.close());

test('destroy removes what the deployment made and keeps the repositories, the database and EFS', async () => {
  await h.deploy({ database: true, efs: true });
  h.lines.length = 0;
  await h.destroy();
  const { state } = h.fake;
  assert.equal(h.fake.environment('sifu-env')?.status, 'Terminated');
  assert.deepEqual(state.versions, {});
  assert.deepEqual(state.objects, {});
  assert.deepEqual(state.applications, []);
  assert.equal(state.parameters['/sifu/deployment-token'], undefined);
  assert.deepEqual(
    Object.keys(state.repositories).sort(),
    ['sifu', 'sifu-notebook'],
    'kept without --images',
  );
  assert.equal(state.databases['sifu-sifu-env']?.status, 'available', 'kept without --database');
  assert.equal(Object.keys(state.fileSystems).length, 1, 'kept without --efs --yes-delete-efs-data');
  assert.equal(Object.keys(state.securityGroups).length, 3, 'the data group is still used, so all are kept');
  assert.ok(state.roles[INSTANCE_ROLE], "EB's roles stay");
  assert.ok(h.lines.some((line) => line.includes('add --efs --yes-delete-efs-data')));
  assert.ok(h.lines.some((line) => line.includes('add --images')));
  const file = readDeployFile(h.directory);
  assert.equal(file?.created.environment, undefined);
  assert.deepEqual(file?.created.versions, []);
});

test('EFS is deleted only when asked twice; --database and --images remove the rest', async () => {
  await h.deploy({ database: true, efs: true });
  await h.destroy({ efs: true });
  assert.equal(Object.keys(h.fake.state.fileSystems).length, 1, '--efs alone keeps the learners\u2019 homes');

  h.fake.calls = [];
  await h.destroy({ efs: true, yesDeleteEfsData: true, database: true, images: true });
  const { state } = h.fake;
  assert.deepEqual(state.fileSystems, {});
  assert.deepEqual(state.mountTargets, {});
  assert.deepEqual(state.databases, {});
  assert.deepEqual(state.repositories, {});
  assert.deepEqual(state.securityGroups, {});
  assert.equal(state.parameters['/sifu/sifu-env/database-password'], undefined);
  const snapshot = h.fake.callsOf('DeleteDBInstance')[0]?.input;
  assert.equal(snapshot?.SkipFinalSnapshot, false, 'a final snapshot is kept');
  assert.ok(h.fake.callsOf('DeleteMountTarget').length === 2);
  const file = readDeployFile(h.directory);
  assert.deepEqual(file?.created, {
    versions: [],
    objects: [],
    repositories: [],
    securityGroups: [],
    parameters: [],
  });
});

test('destroy leaves alone what the deployment reused rather than made', async () => {
  await h.deploy();
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const elsewhere = mkdtempSync(join(tmpdir(), 'sifu-destroy-other-'));
  try {
    await h.deploy({ directory: elsewhere });
    h.fake.calls = [];
    await h.destroy({ directory: elsewhere, images: true });
    assert.deepEqual(h.fake.mutations(), []);
    assert.equal(h.fake.environment('sifu-env')?.status, 'Ready');
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('destroy --dry-run prints the deletions and changes nothing', async () => {
  await h.deploy({ efs: true });
  const before = h.fake.snapshot();
  h.fake.calls = [];
  h.lines.length = 0;
  await h.destroy({ dryRun: true, images: true, efs: true, yesDeleteEfsData: true });
  assert.deepEqual(h.fake.mutations(), []);
  // DescribeEnvironments advances nothing on a Ready environment: the state is as it was.
  assert.equal(h.fake.snapshot(), before);
  const printed = h.lines.filter((line) => line.startsWith('[dry run]')).join('\n');
  for (const action of [
    'TerminateEnvironment',
    'DeleteApplicationVersion',
    'DeleteObject',
    'DeleteRepository',
    'DeleteFileSystem',
  ]) {
    assert.match(printed, new RegExp(action));
  }
});

test('the application stays while another environment runs in it', async () => {
  await h.deploy();
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const elsewhere = mkdtempSync(join(tmpdir(), 'sifu-destroy-staging-'));
  try {
    await h.deploy({ directory: elsewhere, env: 'sifu-staging' });
    await h.destroy();
    assert.equal(h.fake.environment('sifu-env')?.status, 'Terminated');
    assert.equal(h.fake.environment('sifu-staging')?.status, 'Ready');
    assert.deepEqual(h.fake.state.applications, ['sifu']);
    assert.ok(h.lines.some((line) => line.includes('sifu-staging still run in it')));
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('destroy without a deployment file says there is nothing known to remove', async () => {
  await assert.rejects(h.destroy(), /no deployment file/);
});
