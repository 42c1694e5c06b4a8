import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DIST, ensureBuilt, PACKAGE_ROOT } from './support/dist.js';

/** What `npm run build` makes is what `make run` and the package's `bin` run: checked on the build itself. */

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

/** Test code by its name: test files, contract cases, failure doubles, test support. */
const TEST_CODE = [/\.test\.js/, /\.case\.js/, /contract/, /(^|\/)doubles\//, /(^|\/)testing\.js/];

test('dist/ holds no test code: no tests, contract cases, failure doubles or test support', async () => {
  ensureBuilt();
  const files = filesUnder(DIST);
  assert.ok(files.includes('cli/main.js'), 'the build made the CLI');
  assert.ok(files.includes('spawner/docker/warm-pool/warm-pool.js'), 'and the warm pool');
  assert.deepEqual(
    files.filter((file) => TEST_CODE.some((pattern) => pattern.test(file))),
    [],
  );
});

test('from dist/, every asset production code reads is found where it is looked for', async () => {
  ensureBuilt();
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

test('from dist/, the native addon that `npm ci` built is found and loads: the relay and direct writes', async () => {
  ensureBuilt();
  const built = (await import(
    pathToFileURL(join(DIST, 'proxy/native-relay.js')).href
  )) as typeof import('../src/proxy/native-relay.js');
  const addon = (await import(
    pathToFileURL(join(DIST, 'proxy/native-addon.js')).href
  )) as typeof import('../src/proxy/native-addon.js');
  assert.equal(addon.addonUnavailable, undefined);
  assert.equal(built.nativeRelayAvailable, true);
  assert.equal(typeof addon.addon?.send, 'function', 'direct writes are there');
});
