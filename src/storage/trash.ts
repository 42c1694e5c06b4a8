/**
 * The trash: where a deleted learner notebook (or folder) goes, kept for `storage.trashRetention` and
 * then purged. It lives outside the home (`<root>/.trash/<user>/<id>/`) so the learner's server cannot
 * reach or tamper with it; `.trash` can never be a user name (names start with a letter or digit).
 *
 * An entry is a directory holding `item` (the moved file or folder, renamed, never copied or followed)
 * and `meta.json` (`{path, deletedAt}`).
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SifuError } from '../errors.js';
import { type Homes, isErrno } from './homes.js';

export interface TrashEntry {
  id: string;
  /** Where it was, relative to the home. */
  path: string;
  deletedAt: Date;
  /** When the purge may remove it. */
  purgeAfter: Date;
}

const ENTRY_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;

function compactStamp(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, '');
}

async function plainDirectory(path: string): Promise<void> {
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
  }
  const stat = await lstat(path);
  if (stat.isSymbolicLink() || !stat.isDirectory()) {
    throw new SifuError('SIFU_ERR_UNSAFE_PATH', 'the trash is not a plain directory', {
      logDetail: `${path} is a symlink or not a directory`,
    });
  }
}

export class Trash {
  constructor(
    private readonly homes: Homes,
    private readonly retentionMs: number,
  ) {}

  get dir(): string {
    return join(this.homes.root, '.trash');
  }

  trashOf(userName: string): string {
    return join(this.dir, this.homes.homeOf(userName).slice(this.homes.root.length + 1));
  }

  /** Moves `relPath` (a file or folder in the home) into the trash; SIFU_ERR_NOT_FOUND if absent. */
  async put(userName: string, relPath: string, now = new Date()): Promise<TrashEntry> {
    return this.homes.withLocated(userName, relPath, {}, async ({ path }) => {
      const stat = await lstat(path).catch((err) => {
        if (isErrno(err, 'ENOENT')) return null;
        throw err;
      });
      if (!stat) throw new SifuError('SIFU_ERR_NOT_FOUND', 'no such file or folder');
      if (!stat.isFile() && !stat.isDirectory() && !stat.isSymbolicLink()) {
        throw new SifuError('SIFU_ERR_UNSAFE_PATH', 'not a regular file or folder');
      }
      await plainDirectory(this.dir);
      await plainDirectory(this.trashOf(userName));
      const id = `${compactStamp(now)}-${randomBytes(4).toString('hex')}`;
      const entry = join(this.trashOf(userName), id);
      await mkdir(entry, { mode: 0o700 });
      await writeFile(
        join(entry, 'meta.json'),
        JSON.stringify({ path: relPath, deletedAt: now.toISOString() }),
      );
      // Same file system (both under the root): a rename, atomic; a symlink is moved, not followed; the
      // source's directory is the one held open, so a learner swapping folders cannot redirect it.
      await rename(path, join(entry, 'item'));
      return { id, path: relPath, deletedAt: now, purgeAfter: new Date(now.getTime() + this.retentionMs) };
    });
  }

  /** The user's trash, newest first. */
  async list(userName: string): Promise<TrashEntry[]> {
    const dir = this.trashOf(userName);
    const ids = await readdir(dir).catch((err) => {
      if (isErrno(err, 'ENOENT')) return [] as string[];
      throw err;
    });
    const entries: TrashEntry[] = [];
    for (const id of ids.filter((i) => ENTRY_ID.test(i))) {
      const meta = await this.meta(join(dir, id));
      if (meta)
        entries.push({ id, ...meta, purgeAfter: new Date(meta.deletedAt.getTime() + this.retentionMs) });
    }
    return entries.sort((a, b) => b.id.localeCompare(a.id));
  }

  /**
   * Puts an entry back where it was. SIFU_ERR_NOTEBOOK_CONFLICT if that name is taken again (files are
   * linked into place, which cannot replace anything).
   */
  async restore(userName: string, id: string): Promise<TrashEntry> {
    if (!ENTRY_ID.test(id)) throw new SifuError('SIFU_ERR_NOT_FOUND', 'no such trash entry');
    const entry = join(this.trashOf(userName), id);
    const meta = await this.meta(entry);
    if (!meta) throw new SifuError('SIFU_ERR_NOT_FOUND', 'no such trash entry');
    const item = join(entry, 'item');
    const stat = await lstat(item);
    const taken = () => new SifuError('SIFU_ERR_NOTEBOOK_CONFLICT', 'a file with that name exists again');
    await this.homes.withLocated(userName, meta.path, { createDirs: true }, async (target) => {
      if (stat.isDirectory()) {
        if (
          await lstat(target.path).then(
            () => true,
            () => false,
          )
        )
          throw taken();
        await rename(item, target.path);
      } else {
        try {
          await link(item, target.path);
        } catch (err) {
          if (isErrno(err, 'EEXIST')) throw taken();
          throw err;
        }
        await unlink(item);
      }
    });
    await rm(entry, { recursive: true, force: true });
    return { id, ...meta, purgeAfter: new Date(meta.deletedAt.getTime() + this.retentionMs) };
  }

  /** Removes every entry, of every user, older than the retention. Returns how many. */
  async purgeExpired(now = new Date()): Promise<number> {
    const users = await readdir(this.dir).catch((err) => {
      if (isErrno(err, 'ENOENT')) return [] as string[];
      throw err;
    });
    let purged = 0;
    for (const user of users) {
      const dir = join(this.dir, user);
      const ids = await readdir(dir).catch(() => [] as string[]);
      for (const id of ids.filter((i) => ENTRY_ID.test(i))) {
        const meta = await this.meta(join(dir, id));
        if (meta && meta.deletedAt.getTime() + this.retentionMs > now.getTime()) continue;
        // `rm` unlinks symlinks inside the entry; it never follows them.
        await rm(join(dir, id), { recursive: true, force: true });
        purged += 1;
      }
    }
    return purged;
  }

  private async meta(entry: string): Promise<{ path: string; deletedAt: Date } | null> {
    try {
      const value = JSON.parse(await readFile(join(entry, 'meta.json'), 'utf8')) as {
        path?: unknown;
        deletedAt?: unknown;
      };
      if (typeof value.path !== 'string' || typeof value.deletedAt !== 'string') return null;
      return { path: value.path, deletedAt: new Date(value.deletedAt) };
    } catch {
      return null;
    }
  }
}
