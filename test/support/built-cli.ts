import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './sifu.js';

/** The `sifu` users run: `node dist/cli/main.js` (what `make run` and the package's bin start). */
export const BUILT_CLI = join(REPO, 'dist/cli/main.js');
/** The stamp the Makefile keeps beside dist: touched after each build. */
const STAMP = join(REPO, 'dist/.built');

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

/** Builds dist (`npm run build`) unless it is newer than every source file; returns the CLI's path. */
export function ensureBuiltCli(): string {
  const inputs = ['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => mtime(join(REPO, f)));
  const built = Math.min(mtime(STAMP), mtime(BUILT_CLI));
  if (built > Math.max(newestSource(join(REPO, 'src')), ...inputs)) return BUILT_CLI;
  const build = spawnSync('npm', ['run', 'build'], { cwd: REPO, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
  writeFileSync(STAMP, '');
  return BUILT_CLI;
}
