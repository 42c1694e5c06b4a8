import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Files that production code reads at run time and that are not TypeScript (tsc does not carry them into
 * `dist/`) live in the top-level `assets/` folder. They are found from the package root, the nearest folder
 * above this module holding `package.json`: `src/` (tests, through tsx) and `dist/` (`make run`, the
 * package's `bin`) both sit in it, so one lookup holds for both and the build copies nothing.
 */

/** Every asset production code reads, relative to `assets/`; test/dist.test.ts checks each is found from `dist/`. */
export const ASSET_FILES = ['warm-pool/warm-launcher.py', 'hub-channel/hub-forward.py'] as const;

export type AssetFile = (typeof ASSET_FILES)[number];

let root: string | undefined;

/** The folder holding Sifu's `package.json`, `assets/`, `src/` and `dist/`. */
export function packageRoot(): string {
  if (root) return root;
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      root = dir;
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no package.json above ${here}: Sifu's assets cannot be found`);
  }
}

/** Absolute path of `file` under `assets/`. */
export function assetPath(file: AssetFile): string {
  return join(packageRoot(), 'assets', file);
}
