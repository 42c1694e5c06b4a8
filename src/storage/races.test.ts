/**
 * Issue 9, finding 6, replayed: a learner swaps her course folder with a symlink to another learner's
 * folder (`renameat2(RENAME_EXCHANGE)`, atomically, in a tight loop) while Sifu moves her notebooks to the
 * trash and back. Sifu acts as root; whatever the timing, nothing of bob's may move.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Homes } from './homes.js';
import { Trash } from './trash.js';

const SWAPPER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
a, b = sys.argv[1].encode(), sys.argv[2].encode()
print("swapping", flush=True)
while True:
    libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
`;

const FILES = 1500;
let root: string;
let swapper: ChildProcess;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'sifu-races-'));
  for (const [user, text] of [
    ['alice', 'alice'],
    ['bob', "bob's work"],
  ] as const) {
    await mkdir(join(root, user, 'course'), { recursive: true, mode: 0o700 });
    for (let i = 0; i < FILES; i++) await writeFile(join(root, user, 'course', `nb-${i}.ipynb`), text);
  }
  await symlink(join(root, 'bob', 'course'), join(root, 'alice', 'decoy'));
  swapper = spawn(
    '/usr/bin/python3',
    ['-c', SWAPPER, join(root, 'alice', 'course'), join(root, 'alice', 'decoy')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise((resolve) => swapper.stdout?.once('data', resolve));
});

after(async () => {
  swapper?.kill('SIGKILL');
  await rm(root, { recursive: true, force: true });
});

test("racing symlinks against trash and restore never moves another learner's file", async () => {
  const homes = new Homes({ root });
  const trash = new Trash(homes, 60_000);
  let moved = 0;
  let refused = 0;
  for (let i = 0; i < FILES; i++) {
    try {
      const entry = await trash.put('alice', `course/nb-${i}.ipynb`);
      moved += 1;
      if (i % 3 === 0) await trash.restore('alice', entry.id).catch(() => {});
    } catch {
      refused += 1; // the swap was caught: refused, which is fine
    }
  }
  swapper.kill('SIGKILL');
  const bobs = await readdir(join(root, 'bob', 'course'));
  assert.equal(
    bobs.length,
    FILES,
    `bob lost ${FILES - bobs.length} notebooks (moved ${moved}, refused ${refused})`,
  );
  for (const name of bobs)
    assert.equal(await readFile(join(root, 'bob', 'course', name), 'utf8'), "bob's work");
  for (const entry of await trash.list('alice')) {
    const item = join(trash.trashOf('alice'), entry.id, 'item');
    assert.equal(await readFile(item, 'utf8'), 'alice', `${entry.id} holds someone else's file`);
  }
  assert.ok(moved > 0, "some of alice's own notebooks did go to the trash");
});
