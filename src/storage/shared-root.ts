/**
 * The storage root every host must share (EFS/NFS): a marker file at its top holds an id that the store
 * holds too, made once by whichever Sifu asks first. A start on a host whose root lacks the marker or
 * holds another id (a mount that failed, so the directory is the host's own empty one; another
 * deployment's volume) is refused: it would give the learner an empty home and lose their work later.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SifuError } from '../errors.js';
import type { Store } from '../store/store.js';

/** The marker's name at the top of the storage root. */
export const STORAGE_MARKER = '.sifu-storage-id';
const STORAGE_ID_SETTING = 'storage.id';
const MAKER_GRACE_MS = 2_000;

export class SharedRoot {
  private expected: Promise<{ id: string; made: boolean }> | undefined;

  constructor(
    private readonly store: Pick<Store, 'settingOrInit'>,
    private readonly root: string,
  ) {}

  /** Throws SIFU_ERR_STORAGE_NOT_SHARED unless the root holds the deployment's marker. */
  async check(): Promise<void> {
    this.expected ??= (async () => {
      const candidate = randomUUID();
      const id = await this.store.settingOrInit(STORAGE_ID_SETTING, candidate);
      return { id, made: id === candidate };
    })().catch((err: unknown) => {
      this.expected = undefined;
      throw err;
    });
    const expected = await this.expected;
    const { id, made } = expected;
    // Only the first check after making the id may write the marker: a root that loses it later (a mount
    // that failed) is foreign like any other.
    expected.made = false;
    const path = join(this.root, STORAGE_MARKER);
    let found = await readMarker(path);
    if (found === undefined && made) {
      // This process made the id: the root is the deployment's first; it gets the marker.
      await mkdir(this.root, { recursive: true });
      await writeFile(path, `${id}\n`, { flag: 'wx', mode: 0o644 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      found = await readMarker(path);
    }
    // Another process made the id a moment ago and is writing the marker (a deployment's first starts,
    // racing): it is given a short while before the root is called foreign.
    for (let wait = 0; found === undefined && !made && wait < MAKER_GRACE_MS; wait += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      found = await readMarker(path);
    }
    if (found === id) return;
    throw new SifuError(
      'SIFU_ERR_STORAGE_NOT_SHARED',
      'Your files cannot be reached right now. Please try again later or contact course staff.',
      {
        logDetail:
          found === undefined
            ? `${path} is missing: ${this.root} is not the storage every host shares (is the EFS/NFS volume mounted?). If it is the right one, write ${id} into ${path}.`
            : `${path} holds ${found}, the store expects ${id}: ${this.root} is another deployment's storage`,
      },
    );
  }
}

async function readMarker(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
