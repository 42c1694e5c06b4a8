import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

/** The package root and its build output, as `make run` uses them. */
export const PACKAGE_ROOT = resolve(import.meta.dirname, '../..');
export const DIST = join(PACKAGE_ROOT, 'dist');

const run = promisify(execFile);
let built: Promise<void> | undefined;

/** Runs `npm run build` (what `make run` builds), once per test process; rejects with tsc's output. */
export function buildDist(): Promise<void> {
  built ??= run('npm', ['run', 'build'], { cwd: PACKAGE_ROOT, timeout: 300_000 }).then(
    () => undefined,
    (err: { stdout?: string; stderr?: string }) => {
      throw new Error(`npm run build failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    },
  );
  return built;
}
