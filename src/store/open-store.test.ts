import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isSifuError } from '../errors.js';
import { openStore } from './open-store.js';

test('openStore opens sqlite:<path>, creating the file and its directory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sifu-open-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'a', 'b', 'sifu.sqlite');
  const store = await openStore(`sqlite:${path}`);
  try {
    await store.migrate();
    await store.createUser('ada');
  } finally {
    await store.close();
  }
  assert.ok(existsSync(path));
  const reopened = await openStore(`sqlite:${path}`);
  try {
    assert.equal((await reopened.getUser('ada'))?.name, 'ada');
  } finally {
    await reopened.close();
  }
});

const badUrls = [
  ['mysql://sifu:hunter2@db.example/sifu', 'mysql:'],
  ['sqlite:', undefined],
  ['data/sifu.sqlite', undefined],
  ['', undefined],
  ['postgres:/missing-slash', 'postgres:'],
] as const;

for (const [url, scheme] of badUrls) {
  test(`openStore(${JSON.stringify(url)}) fails with SIFU_ERR_CONFIG`, async () => {
    await assert.rejects(openStore(url), (err: unknown) => {
      assert.ok(isSifuError(err), String(err));
      assert.equal(err.code, 'SIFU_ERR_CONFIG');
      assert.match(err.message, /store\.url/);
      if (scheme) assert.ok(err.message.includes(scheme), err.message);
      // The rest of the URL may hold a password: it is never echoed.
      assert.ok(!err.message.includes('hunter2'), err.message);
      return true;
    });
  });
}
