// The layering written in docs/architecture.md ("Layering") is the rule; this test reads it from there and
// checks every import under src/ against it, so the document and the code cannot drift apart.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'src');

/** Each numbered line of the section: the folders (`auth/`) and files (`routes.ts`) on that layer. */
export function readLayering(markdown: string): Map<string, number> {
  const section = /^## Layering\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(markdown)?.[1];
  if (!section) throw new Error('docs/architecture.md has no "## Layering" section');
  const layers = new Map<string, number>();
  for (const line of section.split('\n')) {
    const numbered = /^(\d+)\. (.*)$/.exec(line);
    if (!numbered) continue;
    const lead = (numbered[2] as string).split(' — ')[0] as string;
    for (const entry of lead.matchAll(/`([^`]+)`/g)) layers.set(entry[1] as string, Number(numbered[1]));
  }
  return layers;
}

/** The layer of a path under src/: the longest entry that names it or a folder holding it. */
export function layerOf(layers: Map<string, number>, path: string): number | undefined {
  let best: { length: number; layer: number } | undefined;
  for (const [entry, layer] of layers) {
    const matches = entry.endsWith('/') ? path.startsWith(entry) : path === entry;
    if (matches && (!best || entry.length > best.length)) best = { length: entry.length, layer };
  }
  return best?.layer;
}

/** Relative imports of a file (static, dynamic and re-exports), as paths under src/. */
export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    out.push(relative(src, resolve(dirname(file), m[1] as string)).replace(/\.js$/, '.ts'));
  }
  return out;
}

function productionFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...productionFiles(path));
    // Tests may compose any layers (as test/ does); contract cases belong to the layer they test.
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

describe('layering', () => {
  const layers = readLayering(readFileSync(join(root, 'docs/architecture.md'), 'utf8'));

  test('the rule is read from the document', () => {
    assert.ok(layers.size >= 10, 'docs/architecture.md lists the layers');
    assert.ok((layers.get('cli/') ?? 0) > (layers.get('store/') ?? 99), 'cli/ sits above store/');
  });

  test('the checker sees an upward import (so it can fail)', () => {
    const fake = join(src, 'store/x.ts');
    const [target] = importsOf(fake, "import { x } from '../api/users.js';");
    assert.equal(target, 'api/users.ts');
    assert.ok((layerOf(layers, 'store/x.ts') ?? 0) < (layerOf(layers, target as string) ?? 0));
    assert.equal(layerOf(layers, 'auth/oauth/edx.ts'), layers.get('auth/oauth/'), 'the longest entry wins');
  });

  test('every file under src/ has a layer, and imports only from its own layer or below', () => {
    const problems: string[] = [];
    for (const file of productionFiles(src)) {
      const path = relative(src, file);
      const own = layerOf(layers, path);
      if (own === undefined) {
        problems.push(`${path}: not on any layer of docs/architecture.md`);
        continue;
      }
      for (const target of importsOf(file, readFileSync(file, 'utf8'))) {
        if (target.startsWith('..')) {
          problems.push(`${path} imports ${target}, outside src/`);
          continue;
        }
        const theirs = layerOf(layers, target);
        if (theirs === undefined) problems.push(`${path} imports ${target}, which is on no layer`);
        else if (theirs > own) problems.push(`${path} (layer ${own}) imports ${target} (layer ${theirs})`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
