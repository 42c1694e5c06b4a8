import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isSifuError } from '../errors.js';
import type { Store } from '../store/store.js';
import { relativePathComponents, validateNotebookName } from './paths.js';
import { Storage } from './storage.js';

function code(expected: string) {
  return (err: unknown) => {
    assert.ok(isSifuError(err), `expected a SifuError, got ${String(err)}`);
    assert.equal(err.code, expected);
    return true;
  };
}

const HOSTILE_PATHS = [
  '../escape.txt',
  'a/../../escape.txt',
  '/etc/passwd',
  'a//b',
  './a',
  'a/.',
  'a\\..\\b',
  'nul\0byte.ipynb',
  'line\nbreak',
  'x'.repeat(1000),
  `${'d/'.repeat(600)}f`,
  '',
  'C:/windows',
];

describe('paths: pure validation', () => {
  for (const raw of HOSTILE_PATHS) {
    test(`refuses ${JSON.stringify(raw.slice(0, 40))}${raw.length > 40 ? '...' : ''}`, () => {
      assert.throws(() => relativePathComponents(raw), code('SIFU_ERR_INVALID_PATH'));
    });
  }

  test('accepts ordinary relative paths', () => {
    assert.deepEqual(relativePathComponents('course/week 1/intro.ipynb'), [
      'course',
      'week 1',
      'intro.ipynb',
    ]);
  });

  test('notebook names', () => {
    assert.equal(validateNotebookName('Week 1 (intro).ipynb'), 'Week 1 (intro).ipynb');
    for (const bad of [
      '../x.ipynb',
      'a/b.ipynb',
      '.hidden.ipynb',
      'x.txt',
      'a\0.ipynb',
      `${'n'.repeat(1000)}.ipynb`,
      'a..b.ipynb',
    ]) {
      assert.throws(() => validateNotebookName(bad), code('SIFU_ERR_INVALID_PATH'), bad);
    }
  });
});

describe('storage on a real directory tree', () => {
  let dir: string;
  let root: string;
  let outside: string;
  let storage: Storage;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sifu-storage-'));
    root = join(dir, 'homes');
    outside = join(dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'do not touch');
    storage = new Storage(
      { settingOrInit: async (_key: string, value: string) => value } as unknown as Store,
      {
        root,
        uid: process.getuid?.(),
        gid: process.getgid?.(),
        quota: 1000,
        trashRetentionMs: 60_000,
        leaseTtlMs: 60_000,
        maxNotebookBytes: 1024,
      },
    );
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function outsideUntouched() {
    assert.deepEqual(await readdir(outside), ['secret.txt']);
    assert.equal(await readFile(join(outside, 'secret.txt'), 'utf8'), 'do not touch');
  }

  test('the home is created on first use, mode 0700, with the configured owner', async () => {
    const home = await storage.homes.ensureHome('ada');
    const info = await stat(home);
    assert.equal(home, join(root, 'ada'));
    assert.equal(info.mode & 0o777, 0o700);
    assert.equal(info.uid, process.getuid?.());
    assert.equal(await storage.homes.ensureHome('ada'), home);
  });

  test('createFile writes once and never overwrites', async () => {
    assert.equal(await storage.homes.createFile('ada', 'c/n.ipynb', 'first'), true);
    assert.equal(await storage.homes.createFile('ada', 'c/n.ipynb', 'second'), false);
    assert.equal(await readFile(join(root, 'ada/c/n.ipynb'), 'utf8'), 'first');
    assert.deepEqual(await readdir(join(root, 'ada/c')), ['n.ipynb']);
  });

  test('hostile relative paths are refused before the disk is touched', async () => {
    await storage.homes.ensureHome('ada');
    for (const raw of HOSTILE_PATHS) {
      await assert.rejects(storage.homes.createFile('ada', raw, 'x'), code('SIFU_ERR_INVALID_PATH'));
      await assert.rejects(storage.homes.readFile('ada', raw, 100), code('SIFU_ERR_INVALID_PATH'));
      await assert.rejects(storage.trash.put('ada', raw), code('SIFU_ERR_INVALID_PATH'));
    }
    await outsideUntouched();
  });

  test('a symlinked directory planted in the home pointing outside is never followed', async () => {
    const home = await storage.homes.ensureHome('ada');
    await symlink(outside, join(home, 'course'));
    await assert.rejects(
      storage.homes.createFile('ada', 'course/n.ipynb', 'x'),
      code('SIFU_ERR_UNSAFE_PATH'),
    );
    await assert.rejects(
      storage.homes.readFile('ada', 'course/secret.txt', 100),
      code('SIFU_ERR_UNSAFE_PATH'),
    );
    await assert.rejects(storage.homes.statFile('ada', 'course/secret.txt'), code('SIFU_ERR_UNSAFE_PATH'));
    await assert.rejects(storage.trash.put('ada', 'course/secret.txt'), code('SIFU_ERR_UNSAFE_PATH'));
    await outsideUntouched();
  });

  test('a symlinked file is not read, not replaced, and trashing moves the link, not its target', async () => {
    const home = await storage.homes.ensureHome('ada');
    await symlink(join(outside, 'secret.txt'), join(home, 'n.ipynb'));
    await assert.rejects(storage.homes.readFile('ada', 'n.ipynb', 100), code('SIFU_ERR_UNSAFE_PATH'));
    assert.equal(await storage.homes.createFile('ada', 'n.ipynb', 'x'), false);
    assert.equal((await storage.homes.statFile('ada', 'n.ipynb'))?.kind, 'other');
    await storage.trash.put('ada', 'n.ipynb');
    await outsideUntouched();
  });

  test('a home that is itself a symlink is refused', async () => {
    await mkdir(root, { recursive: true });
    await symlink(outside, join(root, 'eve'));
    await assert.rejects(storage.homes.ensureHome('eve'), code('SIFU_ERR_UNSAFE_PATH'));
    await assert.rejects(storage.homes.createFile('eve', 'x.ipynb', 'x'), code('SIFU_ERR_UNSAFE_PATH'));
    await outsideUntouched();
  });

  test('device files and FIFOs are not read', async () => {
    const home = await storage.homes.ensureHome('ada');
    execFileSync('mkfifo', [join(home, 'pipe.ipynb')]);
    await assert.rejects(storage.homes.readFile('ada', 'pipe.ipynb', 100), code('SIFU_ERR_UNSAFE_PATH'));
    if (process.getuid?.() === 0) {
      execFileSync('mknod', [join(home, 'null.ipynb'), 'c', '1', '3']);
      await assert.rejects(storage.homes.readFile('ada', 'null.ipynb', 100), code('SIFU_ERR_UNSAFE_PATH'));
    }
  });

  test('reads are bounded', async () => {
    await storage.homes.createFile('ada', 'big.ipynb', 'x'.repeat(2000));
    await assert.rejects(
      storage.homes.readFile('ada', 'big.ipynb', 1024),
      code('SIFU_ERR_NOTEBOOK_TOO_LARGE'),
    );
    assert.equal((await storage.homes.readFile('ada', 'big.ipynb', 4096))?.length, 2000);
  });

  test('trash: put moves out of the home, list shows it, restore puts it back, purge honours retention', async () => {
    await storage.homes.createFile('ada', 'c/n.ipynb', 'my work');
    const t0 = new Date('2025-01-01T00:00:00.000Z');
    const entry = await storage.trash.put('ada', 'c/n.ipynb', t0);
    assert.equal(await storage.homes.statFile('ada', 'c/n.ipynb'), null);
    assert.deepEqual(
      (await storage.trash.list('ada')).map((e) => [e.id, e.path]),
      [[entry.id, 'c/n.ipynb']],
    );
    await storage.trash.restore('ada', entry.id);
    assert.equal(await readFile(join(root, 'ada/c/n.ipynb'), 'utf8'), 'my work');
    assert.deepEqual(await storage.trash.list('ada'), []);

    const again = await storage.trash.put('ada', 'c/n.ipynb', t0);
    assert.equal(await storage.trash.purgeExpired(new Date(t0.getTime() + 59_000)), 0);
    assert.equal((await storage.trash.list('ada'))[0]?.id, again.id);
    assert.equal(await storage.trash.purgeExpired(new Date(t0.getTime() + 60_000)), 1);
    assert.deepEqual(await storage.trash.list('ada'), []);
    await assert.rejects(storage.trash.restore('ada', again.id), code('SIFU_ERR_NOT_FOUND'));
    await assert.rejects(storage.trash.restore('ada', '../../outside'), code('SIFU_ERR_NOT_FOUND'));
  });

  test('trash restore never replaces a file that took the name again', async () => {
    await storage.homes.createFile('ada', 'n.ipynb', 'old');
    const entry = await storage.trash.put('ada', 'n.ipynb');
    await storage.homes.createFile('ada', 'n.ipynb', 'new');
    await assert.rejects(storage.trash.restore('ada', entry.id), code('SIFU_ERR_NOTEBOOK_CONFLICT'));
    assert.equal(await readFile(join(root, 'ada/n.ipynb'), 'utf8'), 'new');
  });

  test('usage counts regular files only (not symlinked targets); the quota refuses a launch over it', async () => {
    const home = await storage.homes.ensureHome('ada');
    await writeFile(join(home, 'a.txt'), 'x'.repeat(600));
    await symlink(outside, join(home, 'link'));
    assert.deepEqual(
      { bytes: (await storage.report('ada')).bytes, files: (await storage.report('ada')).files },
      { bytes: 600, files: 1 },
    );
    assert.equal(await storage.prepareLaunch('ada'), home);
    await writeFile(join(home, 'b.txt'), 'x'.repeat(600));
    const report = await storage.report('ada');
    assert.equal(report.overQuota, true);
    await assert.rejects(storage.prepareLaunch('ada'), (err: unknown) => {
      assert.ok(isSifuError(err));
      assert.equal(err.code, 'SIFU_ERR_QUOTA_EXCEEDED');
      assert.match(err.message, /1\.2 KiB.*1000 bytes quota/);
      return true;
    });
  });

  test('purgeUser removes the home and trash, nothing outside, not through symlinks', async () => {
    const home = await storage.homes.ensureHome('ada');
    await symlink(outside, join(home, 'link'));
    await storage.homes.createFile('ada', 'n.ipynb', 'x');
    await storage.trash.put('ada', 'n.ipynb');
    await storage.homes.ensureHome('bob');
    storage.lease.isHeld = async () => false;
    assert.deepEqual(await storage.purgeUser('ada'), { removedHome: true });
    await assert.rejects(lstat(home));
    await assert.rejects(lstat(storage.trash.trashOf('ada')));
    assert.ok((await stat(join(root, 'bob'))).isDirectory());
    await outsideUntouched();
  });
});
