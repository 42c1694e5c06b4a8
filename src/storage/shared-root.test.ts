import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isSifuError } from '../errors.js';
import { openStore } from '../store/open-store.js';
import { SharedRoot, STORAGE_MARKER } from './shared-root.js';

const notShared = (err: unknown) => isSifuError(err) && err.code === 'SIFU_ERR_STORAGE_NOT_SHARED';

test('the storage root must hold the marker the store agrees on', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sifu-shared-root-'));
  const store = await openStore('sqlite::memory:');
  await store.migrate();
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const shared = join(dir, 'shared');
  const first = new SharedRoot(store, shared);
  // Concurrent first starts: one makes the id and the marker, the others wait for it.
  await Promise.all([first.check(), new SharedRoot(store, shared).check(), first.check()]);
  const id = (await readFile(join(shared, STORAGE_MARKER), 'utf8')).trim();
  assert.match(id, /^[0-9a-f-]{36}$/);
  // Another host on the same mount agrees.
  await new SharedRoot(store, shared).check();

  // A host whose mount failed: an empty directory, no marker. Refused, and no marker is made there.
  const empty = join(dir, 'empty');
  await assert.rejects(new SharedRoot(store, empty).check(), notShared);
  await assert.rejects(readFile(join(empty, STORAGE_MARKER)));
  // Another deployment's volume.
  const foreign = join(dir, 'foreign');
  await new SharedRoot(await openMemoryStore(t), foreign).check();
  await assert.rejects(new SharedRoot(store, foreign).check(), notShared);
  // The root that made the marker loses it later (its mount went): refused, never rewritten.
  await rm(join(shared, STORAGE_MARKER));
  await assert.rejects(first.check(), notShared);
  await writeFile(join(shared, STORAGE_MARKER), `${id}\n`);
  await first.check();
});

async function openMemoryStore(t: { after: (fn: () => Promise<void>) => void }) {
  const store = await openStore('sqlite::memory:');
  await store.migrate();
  t.after(() => store.close());
  return store;
}
