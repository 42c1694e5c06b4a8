import assert from 'node:assert/strict';
import { link, lstat, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Homes } from './homes.js';

const OWNER = { uid: 320_001, gid: 320_001 };

describe('ensureHome with the server uid as owner', {
  skip: process.getuid?.() !== 0 && 'needs root',
}, () => {
  let root = '';
  let outside = '';
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sifu-home-owner-'));
    outside = await mkdtemp(join(tmpdir(), 'sifu-home-outside-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  test('makes a new home owned by it, mode 0700', async () => {
    const homes = new Homes({ root });
    const home = await homes.ensureHome('newbie', OWNER);
    const info = await stat(home);
    assert.equal(info.uid, OWNER.uid);
    assert.equal(info.gid, OWNER.gid);
    assert.equal(info.mode & 0o777, 0o700);
  });

  test("gives an existing home's tree to it, following no symlink and no hard link out", async () => {
    const homes = new Homes({ root });
    const home = join(root, 'ada');
    await mkdir(join(home, 'course', 'deep'), { recursive: true });
    await writeFile(join(home, 'course', 'deep', 'nb.ipynb'), '{}');
    await writeFile(join(home, 'top.txt'), 'x');
    const victim = join(outside, 'victim.txt');
    await writeFile(victim, 'not hers');
    const victimDir = join(outside, 'dir');
    await mkdir(victimDir);
    await symlink(victim, join(home, 'link-to-file'));
    await symlink(victimDir, join(home, 'course', 'link-to-dir'));
    await link(victim, join(home, 'hardlink.txt'));

    await homes.ensureHome('ada', OWNER);

    for (const path of ['', 'course', 'course/deep', 'course/deep/nb.ipynb', 'top.txt']) {
      const info = await lstat(join(home, path));
      assert.equal(info.uid, OWNER.uid, `${path || 'the home'} is hers`);
      assert.equal(info.gid, OWNER.gid);
    }
    assert.equal((await stat(victim)).uid, 0, 'a file a symlink or a hard link names is left alone');
    assert.equal((await stat(victimDir)).uid, 0, 'a directory a symlink names is not entered');
  });
});
