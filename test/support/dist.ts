import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The package root and its build output, as `make run` uses them. */
export const PACKAGE_ROOT = resolve(import.meta.dirname, '../..');
export const DIST = join(PACKAGE_ROOT, 'dist');
/** The `sifu` users run: `node dist/cli/main.js` (what `make run` and the package's bin start). */
export const BUILT_CLI = join(DIST, 'cli/main.js');
/** The stamp the Makefile keeps beside dist: touched after each build. */
const STAMP = join(DIST, '.built');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Builds dist/ with `npm run build` (what `make run` builds) unless it is newer than every source file
 * and build setting; returns the CLI's path. Throws with tsc's output when the build fails.
 */
export function ensureBuilt(): string {
  const inputs = ['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) =>
    mtime(join(PACKAGE_ROOT, f)),
  );
  const built = Math.min(mtime(STAMP), mtime(BUILT_CLI));
  if (built > Math.max(newestSource(join(PACKAGE_ROOT, 'src')), ...inputs)) return BUILT_CLI;
  const build = spawnSync('npm', ['run', 'build'], { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  writeFileSync(STAMP, '');
  return BUILT_CLI;
}
