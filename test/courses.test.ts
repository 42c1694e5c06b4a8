/**
 * Course notebooks through Sifu's API, on a real directory tree: staff attach a base notebook, a learner
 * gets their copy, and their work survives server stop, Sifu restart, reset (backup kept) and delete
 * (in the trash). Hostile names are refused with nothing outside the home touched. The quota is enforced
 * at launch, purge is admin-only and audited, and the 2016 `v1/api/notebooks` routes still work.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { courseDirName } from '../src/courses/ids.js';
import { ADMIN_TOKEN, api, startTestSifu, type TestSifu } from './support/sifu.js';

const COURSE = 'course-v1:Org+CS101+2025';
const UNIT = 'block-v1:Org+CS101+2025+type@notebook+block@intro';
const NB = 'intro.ipynb';
const base = (course = COURSE, name = NB) =>
  `/courses/${encodeURIComponent(course)}/notebooks/${encodeURIComponent(name)}`;

function notebook(text: string) {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{ cell_type: 'markdown', source: [text], metadata: {} }],
  };
}

async function tokenFor(sifu: TestSifu, user: string, scopes: string[]): Promise<string> {
  await api(sifu, `/users/${user}`, { method: 'POST', token: ADMIN_TOKEN });
  const res = await api(sifu, `/users/${user}/tokens`, {
    method: 'POST',
    token: ADMIN_TOKEN,
    body: { scopes },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.token as string;
}

describe('course notebooks through the API', () => {
  let sifu: TestSifu;
  let dataDir: string;
  let outside: string;
  let ada: string;
  let staff: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sifu-courses-'));
    outside = join(dataDir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'keep');
    sifu = await startTestSifu({ dataDir });
    ada = await tokenFor(sifu, 'ada', ['servers']);
    staff = await tokenFor(sifu, 'teacher', ['courses']);
  });

  after(async () => {
    await sifu.cleanup();
    await rm(dataDir, { recursive: true, force: true });
  });

  const homes = () => join(dataDir, 'homes');
  const copyFile = () => join(homes(), 'ada', courseDirName(COURSE), NB);

  test('staff attach a base notebook; learners may not; invalid notebooks are refused', async () => {
    const denied = await api(sifu, base(), { method: 'PUT', token: ada, body: { notebook: notebook('x') } });
    assert.equal(denied.status, 403);
    assert.equal(denied.body.code, 'SIFU_ERR_MISSING_SCOPE');

    for (const bad of [
      { nbformat: 3, cells: [] },
      { nbformat: 4, nbformat_minor: 0, metadata: {}, cells: [{}] },
      'text',
    ]) {
      const res = await api(sifu, base(), { method: 'PUT', token: staff, body: { notebook: bad } });
      assert.equal(res.status, 400);
      assert.equal(res.body.code, 'SIFU_ERR_INVALID_NOTEBOOK');
    }

    const put = await api(sifu, base(), {
      method: 'PUT',
      token: staff,
      body: { unit: UNIT, notebook: notebook('v1') },
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    assert.equal(put.body.directory, courseDirName(COURSE));
    assert.equal(put.body.unit, UNIT);
    const other = await api(sifu, base(), {
      method: 'PUT',
      token: staff,
      body: { unit: 'block-v1:other', notebook: notebook('v1') },
    });
    assert.equal(other.status, 409);
    const list = await api(sifu, `/courses/${encodeURIComponent(COURSE)}/notebooks`, { token: ada });
    assert.deepEqual(
      list.body.notebooks.map((n: { name: string }) => n.name),
      [NB],
    );
    const events = await sifu.store.listEvents({ type: 'course.notebook.put' });
    assert.equal(events[0]?.data.by, 'teacher');
  });

  test('hostile course ids and notebook names are refused; nothing outside the homes is touched', async () => {
    const hostile = [
      base(COURSE, '../../outside/x.ipynb'),
      base(COURSE, '/etc/passwd.ipynb'),
      base(COURSE, 'a\0b.ipynb'),
      base(COURSE, `${'n'.repeat(1000)}.ipynb`),
      base('../outside', NB),
      base(`course\0x`, NB),
      base('c'.repeat(1000), NB),
    ];
    for (const path of hostile) {
      for (const [method, suffix, token] of [
        ['PUT', '', staff],
        ['POST', '/copies/ada', ada],
        ['DELETE', '/copies/ada', ada],
        ['POST', '/copies/ada/reset', ada],
      ] as const) {
        const res = await api(sifu, `${path}${suffix}`, {
          method,
          token,
          body: method === 'PUT' ? { notebook: notebook('x') } : undefined,
        });
        // 414: a parameter too long for the router, refused before any handler runs.
        assert.ok(
          [400, 404, 414].includes(res.status),
          `${method} ${path.slice(0, 80)}${suffix}: ${res.status}`,
        );
      }
    }
    assert.deepEqual(await readdir(outside), ['secret.txt']);
    assert.equal(await readFile(join(outside, 'secret.txt'), 'utf8'), 'keep');
  });

  test("another learner cannot make, read or delete ada's copy", async () => {
    const bob = await tokenFor(sifu, 'bob', ['servers']);
    for (const method of ['GET', 'POST', 'DELETE']) {
      const res = await api(sifu, `${base()}/copies/ada`, { method, token: bob });
      assert.equal(res.status, 403, method);
    }
  });

  test("a learner's work survives server stop, Sifu restart, reset (backup) and delete (trash)", async () => {
    const made = await api(sifu, `${base()}/copies/ada`, {
      method: 'POST',
      token: ada,
      body: { unit: UNIT },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.path, `${courseDirName(COURSE)}/${NB}`);
    assert.equal(made.body.url, `${sifu.notebookUrl}/user/ada/notebooks/${courseDirName(COURSE)}/${NB}`);
    assert.match(await readFile(copyFile(), 'utf8'), /v1/);

    // The learner works on it; staff publish a new version; the learner's copy is never overwritten.
    await writeFile(copyFile(), JSON.stringify(notebook('my answer')));
    await api(sifu, base(), { method: 'PUT', token: staff, body: { unit: UNIT, notebook: notebook('v2') } });
    const again = await api(sifu, `${base()}/copies/ada`, { method: 'POST', token: ada });
    assert.equal(again.status, 200);
    assert.equal(again.body.created, false);
    assert.match(await readFile(copyFile(), 'utf8'), /my answer/);

    // Server start and stop: files untouched.
    assert.equal((await api(sifu, '/users/ada/server', { method: 'POST', token: ada })).status, 201);
    assert.equal((await sifu.store.getLease('ada'))?.holder.startsWith('server::'), true);
    assert.equal((await api(sifu, '/users/ada/server', { method: 'DELETE', token: ada })).status, 204);
    assert.equal(await sifu.store.getLease('ada'), null);
    assert.match(await readFile(copyFile(), 'utf8'), /my answer/);

    // Sifu restart on the same data: still there, and still not overwritten.
    await sifu.stop();
    sifu = await startTestSifu({ dataDir });
    const status = await api(sifu, `${base()}/copies/ada`, { token: ada });
    assert.equal(status.body.exists, true);
    assert.equal(
      (await api(sifu, `${base()}/copies/ada`, { method: 'POST', token: ada })).body.created,
      false,
    );
    assert.match(await readFile(copyFile(), 'utf8'), /my answer/);

    // Reset: the current base notebook, and the learner's version kept as a backup beside it.
    const reset = await api(sifu, `${base()}/copies/ada/reset`, { method: 'POST', token: ada });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.match(await readFile(copyFile(), 'utf8'), /v2/);
    assert.match(reset.body.backup, /^[^/]+\/intro\.backup-\d{8}T\d{9}Z\.ipynb$/);
    assert.match(await readFile(join(homes(), 'ada', reset.body.backup), 'utf8'), /my answer/);

    // Delete: into the trash (outside the home), restorable.
    const deleted = await api(sifu, `${base()}/copies/ada`, { method: 'DELETE', token: ada });
    assert.equal(deleted.status, 200);
    assert.equal((await api(sifu, `${base()}/copies/ada`, { token: ada })).body.exists, false);
    const trash = await api(sifu, '/users/ada/trash', { token: ada });
    assert.deepEqual(
      trash.body.trash.map((e: { id: string; path: string }) => e.path),
      [made.body.path],
    );
    const restored = await api(sifu, `/users/ada/trash/${deleted.body.trash.id}/restore`, {
      method: 'POST',
      token: ada,
    });
    assert.equal(restored.status, 200);
    assert.match(await readFile(copyFile(), 'utf8'), /v2/);
    // The backup was never touched.
    assert.match(await readFile(join(homes(), 'ada', reset.body.backup), 'utf8'), /my answer/);
  });

  test('a symlink planted at the course directory is refused, not followed', async () => {
    await api(sifu, base(COURSE, 'other.ipynb'), {
      method: 'PUT',
      token: staff,
      body: { notebook: notebook('o') },
    });
    const eve = await tokenFor(sifu, 'eve', ['servers']);
    await mkdir(join(homes(), 'eve'), { recursive: true });
    await symlink(outside, join(homes(), 'eve', courseDirName(COURSE)));
    const res = await api(sifu, `${base(COURSE, 'other.ipynb')}/copies/eve`, { method: 'POST', token: eve });
    assert.equal(res.status, 403);
    assert.equal(res.body.code, 'SIFU_ERR_UNSAFE_PATH');
    assert.deepEqual(await readdir(outside), ['secret.txt']);
  });

  test('usage is shown; purge is admin only, stops nothing it should not, and is audited', async () => {
    const usage = await api(sifu, '/users/ada/storage', { token: ada });
    assert.equal(usage.status, 200);
    assert.ok(usage.body.usage_bytes > 0);
    assert.equal(usage.body.quota_bytes, null);
    assert.equal((await api(sifu, '/users/ada/storage', { method: 'DELETE', token: ada })).status, 403);
    const purged = await api(sifu, '/users/ada/storage', { method: 'DELETE', token: ADMIN_TOKEN });
    assert.equal(purged.status, 204);
    const left = await readdir(homes());
    assert.ok(!left.includes('ada') && left.includes('eve'), left.join(','));
    assert.ok(!(await readdir(join(homes(), '.trash'))).includes('ada'));
    const [event] = await sifu.store.listEvents({ type: 'storage.purge' });
    assert.equal(event?.userName, 'ada');
    assert.equal(event?.data.by, 'sifu-admin');
    assert.deepEqual(await readdir(outside), ['secret.txt']);
  });

  test('v1 compatibility: base exists/write, learner copy exists/create, serve redirects', async () => {
    const v1 = (path: string, init: { method?: string; token?: string; body?: unknown } = {}) =>
      fetch(`${sifu.hubUrl}/v1/api/notebooks/${path}`, {
        method: init.method ?? 'GET',
        redirect: 'manual',
        headers: {
          ...(init.token ? { authorization: `token ${init.token}` } : {}),
          ...(init.body ? { 'content-type': 'application/json' } : {}),
        },
        body: init.body ? JSON.stringify(init.body) : undefined,
      });
    const course = encodeURIComponent('course-v1:Org+Legacy+2016');
    assert.equal((await v1(`${course}/lesson`, { token: ada })).status, 404);
    assert.equal(
      (await v1(`${course}/lesson`, { method: 'POST', token: ada, body: notebook('l') })).status,
      403,
    );
    assert.equal(
      (await v1(`${course}/lesson`, { method: 'POST', token: staff, body: notebook('l') })).status,
      201,
    );
    assert.equal((await v1(`${course}/lesson.ipynb`, { token: ada })).status, 200);
    assert.equal(
      (await v1(`${course}/..%2F..%2Fx`, { method: 'POST', token: staff, body: notebook('l') })).status,
      400,
    );

    assert.equal((await v1(`${course}/lesson/users/ada`, { token: ada })).status, 404);
    assert.equal((await v1(`${course}/lesson/users/bob`, { method: 'POST', token: ada })).status, 403);
    assert.equal((await v1(`${course}/lesson/users/ada`, { method: 'POST', token: ada })).status, 201);
    assert.equal((await v1(`${course}/lesson/users/ada`, { token: ada })).status, 200);
    const served = await v1(`${course}/lesson/users/ada/serve`, { token: ada });
    assert.equal(served.status, 302);
    assert.equal(
      served.headers.get('location'),
      `${sifu.notebookUrl}/user/ada/notebooks/${courseDirName('course-v1:Org+Legacy+2016')}/lesson.ipynb`,
    );
  });
});

test('the quota is enforced at launch, with a clear message for the learner', async (t) => {
  const sifu = await startTestSifu({ overrides: { storage: { quota: 1000 } } });
  t.after(() => sifu.cleanup());
  const ada = await tokenFor(sifu, 'ada', ['servers']);
  assert.equal((await api(sifu, '/users/ada/server', { method: 'POST', token: ada })).status, 201);
  assert.equal((await api(sifu, '/users/ada/server', { method: 'DELETE', token: ada })).status, 204);
  await writeFile(join(sifu.dataDir, 'homes', 'ada', 'big.bin'), Buffer.alloc(5000));
  const refused = await api(sifu, '/users/ada/server', { method: 'POST', token: ada });
  assert.equal(refused.status, 507);
  assert.equal(refused.body.code, 'SIFU_ERR_QUOTA_EXCEEDED');
  assert.match(refused.body.message, /4\.9 KiB, more than your 1000 bytes quota/);
  const usage = await api(sifu, '/users/ada/storage', { token: ada });
  assert.deepEqual(
    [usage.body.usage_bytes, usage.body.quota_bytes, usage.body.over_quota],
    [5000, 1000, true],
  );
  assert.equal(await sifu.store.getLease('ada'), null);
});
