import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { buildDist, DIST, PACKAGE_ROOT } from './support/dist.js';

/** What `npm run build` makes is what `make run` and the package's `bin` run: checked on the build itself. */

test('from dist/, every asset production code reads is found where it is looked for', async () => {
  await buildDist();
  const built = (await import(
    pathToFileURL(join(DIST, 'spawner/assets.js')).href
  )) as typeof import('../src/spawner/assets.js');
  assert.equal(built.packageRoot(), PACKAGE_ROOT, 'the package root is found from dist/');
  assert.ok(built.ASSET_FILES.length > 0);
  for (const file of built.ASSET_FILES) {
    const path = built.assetPath(file);
    assert.equal(path, join(PACKAGE_ROOT, 'assets', file));
    assert.ok(existsSync(path), `${file} is at ${path}`);
  }
});
