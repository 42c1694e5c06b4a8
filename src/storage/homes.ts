/**
 * Users' homes under one root (`storage.root`): `<root>/<user>`, a local directory or a mount shared by
 * every host. Everything that reads or writes inside a home goes through here, and is confined to it:
 *
 * - names are validated first (`paths.ts`): no `..`, no absolute paths, no NUL, bounded lengths;
 * - each directory component is checked with `lstat` on the way down: a symlink (anything the learner
 *   planted, pointing anywhere) or a non-directory is refused, never followed;
 * - the final file is opened with O_NOFOLLOW (and O_NONBLOCK, so a FIFO cannot hang us), must be a
 *   regular file (no devices, FIFOs or sockets), and the opened descriptor's real path
 *   (`/proc/self/fd/N`) must lie inside the home's real path — which also catches a directory swapped
 *   for a symlink between our checks and the open;
 * - new files are written to a temporary name with O_EXCL|O_NOFOLLOW, then `link`ed into place, which
 *   fails if anything (a file, a symlink) already has the name: a copy never overwrites.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  chown,
  type FileHandle,
  lchown,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  realpath,
  unlink,
} from 'node:fs/promises';
import { join, sep } from 'node:path';
import { SifuError } from '../errors.js';
import { isValidUsername } from '../names.js';
import { relativePathComponents } from './paths.js';

export interface HomesOptions {
  /** Absolute directory holding every home. Created if missing. */
  root: string;
  /** Owner of created directories and files; default: the process's. */
  uid?: number | undefined;
  gid?: number | undefined;
}

const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export function isErrno(err: unknown, code: string): boolean {
  return (err as { code?: unknown } | null)?.code === code;
}

function unsafe(message: string, logDetail?: string): SifuError {
  return new SifuError('SIFU_ERR_UNSAFE_PATH', message, logDetail ? { logDetail } : {});
}

export function isInside(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/** A path inside a home, its directory held open (see `Homes.withLocated`). */
export interface Located {
  /** The home's real path. */
  home: string;
  /** The held directory, as `/proc/self/fd/<fd>`. */
  dir: string;
  name: string;
  /** `dir/name`. */
  path: string;
}

/**
 * Gives the held directory and everything below it to `owner` (a home made before servers ran as uids
 * of their own, or files Sifu copied in as itself), acting only through descriptors: each entry is
 * `lchown`ed relative to its held directory and never followed, each subdirectory opened O_NOFOLLOW, so
 * a learner swapping names for symlinks meanwhile gives nothing outside the home away. Symlinks are
 * left alone, as are files with several links (a hard link could name a file of someone else's).
 */
async function ownTree(dir: FileHandle, owner: { uid: number; gid: number }): Promise<void> {
  const stat = await dir.stat();
  if (stat.uid !== owner.uid || stat.gid !== owner.gid) await dir.chown(owner.uid, owner.gid);
  const at = `/proc/self/fd/${dir.fd}`;
  for (const entry of await readdir(at, { withFileTypes: true })) {
    const path = `${at}/${entry.name}`;
    if (entry.isDirectory()) {
      let child: FileHandle;
      try {
        child = await open(path, DIR_FLAGS);
      } catch (err) {
        // Renamed or swapped for something else meanwhile: not ours to follow.
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ELOOP') || isErrno(err, 'ENOTDIR')) continue;
        throw err;
      }
      try {
        await ownTree(child, owner);
      } finally {
        await child.close();
      }
      continue;
    }
    const entryStat = await lstat(path).catch(() => undefined);
    if (!entryStat || entryStat.isSymbolicLink() || entryStat.isDirectory()) continue;
    if (entryStat.nlink > 1) continue;
    if (entryStat.uid !== owner.uid || entryStat.gid !== owner.gid) {
      await lchown(path, owner.uid, owner.gid).catch((err: unknown) => {
        if (!isErrno(err, 'ENOENT')) throw err;
      });
    }
  }
}

export class Homes {
  readonly root: string;
  readonly #uid: number | undefined;
  readonly #gid: number | undefined;

  constructor(options: HomesOptions) {
    this.root = options.root;
    this.#uid = options.uid;
    this.#gid = options.gid;
  }

  /** The home's path (not checked on disk). */
  homeOf(userName: string): string {
    if (!isValidUsername(userName)) throw new SifuError('SIFU_ERR_INVALID_USERNAME', 'invalid user name');
    return join(this.root, userName);
  }

  /** Gives `path` the configured owner, if one is configured. */
  async own(path: string): Promise<void> {
    if (this.#uid === undefined && this.#gid === undefined) return;
    await chown(path, this.#uid ?? process.getuid?.() ?? 0, this.#gid ?? process.getgid?.() ?? 0);
  }

  /**
   * Creates the home on first use (mode 0700, owned as configured) and returns its real path. Refuses a
   * home that is a symlink or not a directory. With `owner` (the uid the user's server runs as), the
   * home and everything in it end up owned by `owner` (see `ownTree`).
   */
  async ensureHome(userName: string, owner?: { uid: number; gid: number }): Promise<string> {
    const home = this.homeOf(userName);
    await mkdir(this.root, { recursive: true });
    try {
      await mkdir(home, { mode: 0o700 });
      if (!owner) await this.own(home);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const real = await this.realHome(userName);
    if (owner) {
      const handle = await open(real, DIR_FLAGS);
      try {
        await ownTree(handle, owner);
      } finally {
        await handle.close();
      }
    }
    return real;
  }

  /** The home's real path, checked: a directory, not a symlink, directly under the real root. */
  async realHome(userName: string): Promise<string> {
    const home = this.homeOf(userName);
    const stat = await lstat(home).catch((err) => {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    });
    if (!stat) throw new SifuError('SIFU_ERR_NOT_FOUND', `${userName} has no files yet`);
    if (stat.isSymbolicLink() || !stat.isDirectory()) {
      throw unsafe('the home directory is not a plain directory', `home ${home} is a symlink or not a dir`);
    }
    const realRoot = await realpath(this.root);
    const real = await realpath(home);
    if (real !== join(realRoot, userName)) throw unsafe('the home directory escapes the storage root');
    return real;
  }

  /**
   * Opens the directory `dirs` below the real home, one component at a time, each relative to the
   * descriptor of the one before (`/proc/self/fd/<fd>/<name>`, opened O_DIRECTORY|O_NOFOLLOW): a
   * symlink or non-directory is refused, and a component swapped for a symlink after it was opened
   * changes nothing, because nothing is looked up by path again. Creates missing ones when `create`
   * (owned through their descriptor, so a swap cannot redirect the chown either).
   */
  async openDirectory(realHome: string, dirs: readonly string[], create: boolean): Promise<FileHandle> {
    let handle = await open(realHome, DIR_FLAGS);
    try {
      for (const name of dirs) {
        const at = `/proc/self/fd/${handle.fd}/${name}`;
        let created = false;
        if (create) {
          try {
            await mkdir(at, { mode: 0o755 });
            created = true;
          } catch (err) {
            if (!isErrno(err, 'EEXIST')) throw err;
          }
        }
        let next: FileHandle;
        try {
          next = await open(at, DIR_FLAGS);
        } catch (err) {
          if (isErrno(err, 'ENOENT')) throw new SifuError('SIFU_ERR_NOT_FOUND', 'no such file or directory');
          if (isErrno(err, 'ELOOP'))
            throw unsafe('the path goes through a symbolic link', `symlink at ${name}`);
          if (isErrno(err, 'ENOTDIR'))
            throw unsafe('the path goes through something that is not a directory');
          throw err;
        }
        if (created) await this.ownHandle(next);
        await handle.close();
        handle = next;
      }
      return handle;
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /**
   * Runs `use` on `relPath` inside the user's (existing) home, its directory held open: `dir` is that
   * directory's descriptor path and `path` = `dir/name`, so every operation `use` makes acts on the
   * directory that was checked, whatever the learner renames meanwhile. The final component is not
   * followed by `lstat`, `rename`, `link` or `unlink`; open it with O_NOFOLLOW.
   */
  async withLocated<T>(
    userName: string,
    relPath: string,
    options: { createDirs?: boolean },
    use: (located: Located) => Promise<T>,
  ): Promise<T> {
    const components = relativePathComponents(relPath);
    const home = options.createDirs ? await this.ensureHome(userName) : await this.realHome(userName);
    const name = components.at(-1) as string;
    const handle = await this.openDirectory(home, components.slice(0, -1), options.createDirs ?? false);
    try {
      const dir = `/proc/self/fd/${handle.fd}`;
      return await use({ home, dir, name, path: `${dir}/${name}` });
    } finally {
      await handle.close();
    }
  }

  private async ownHandle(handle: FileHandle): Promise<void> {
    if (this.#uid === undefined && this.#gid === undefined) return;
    await handle.chown(this.#uid ?? process.getuid?.() ?? 0, this.#gid ?? process.getgid?.() ?? 0);
  }

  /**
   * Reads a regular file inside the home, at most `maxBytes` (SIFU_ERR_NOTEBOOK_TOO_LARGE beyond).
   * Null if it does not exist.
   */
  async readFile(userName: string, relPath: string, maxBytes: number): Promise<Buffer | null> {
    return this.withLocated(userName, relPath, {}, ({ home, path }) => readConfined(home, path, maxBytes));
  }

  /**
   * Writes a new file inside the home (directories created as needed), never replacing anything:
   * false if the name is taken (by a file, directory or symlink).
   */
  async createFile(userName: string, relPath: string, data: Buffer | string): Promise<boolean> {
    return this.withLocated(userName, relPath, { createDirs: true }, async ({ dir, path }) => {
      const temp = `${dir}/.sifu-tmp-${randomBytes(8).toString('hex')}`;
      const handle = await open(temp, CREATE_FLAGS, 0o644);
      try {
        try {
          await handle.writeFile(data);
          await handle.sync();
          await this.ownHandle(handle);
        } finally {
          await handle.close();
        }
        try {
          await link(temp, path);
          return true;
        } catch (err) {
          if (isErrno(err, 'EEXIST')) return false;
          throw err;
        }
      } finally {
        await unlink(temp).catch(() => {});
      }
    });
  }

  /** What is at `relPath` (not following a final symlink): a file's size and time, or null if absent. */
  async statFile(
    userName: string,
    relPath: string,
  ): Promise<{ kind: 'file' | 'other'; size: number; modified: Date } | null> {
    let stat: Awaited<ReturnType<typeof lstat>> | null;
    try {
      stat = await this.withLocated(userName, relPath, {}, ({ path }) =>
        lstat(path).catch((err) => {
          if (isErrno(err, 'ENOENT')) return null;
          throw err;
        }),
      );
    } catch (err) {
      if ((err as SifuError).code === 'SIFU_ERR_NOT_FOUND') return null;
      throw err;
    }
    if (!stat) return null;
    return { kind: stat.isFile() ? 'file' : 'other', size: stat.size, modified: stat.mtime };
  }
}

/** Opens `path` without following a final symlink and reads it, checking where the descriptor points. */
export async function readConfined(home: string, path: string, maxBytes: number): Promise<Buffer | null> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, READ_FLAGS);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    if (isErrno(err, 'ELOOP')) throw unsafe('the file is a symbolic link', `symlink at ${path}`);
    throw err;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw unsafe('not a regular file', `${path} is not a regular file`);
    const real = await readlink(`/proc/self/fd/${handle.fd}`);
    if (!isInside(home, real)) throw unsafe('the file is outside the home', `${path} -> ${real}`);
    if (stat.size > maxBytes) {
      throw new SifuError('SIFU_ERR_NOTEBOOK_TOO_LARGE', `the file is larger than ${maxBytes} bytes`);
    }
    // Read one byte past the bound: a file growing while we read is caught too.
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > maxBytes) {
      throw new SifuError('SIFU_ERR_NOTEBOOK_TOO_LARGE', `the file is larger than ${maxBytes} bytes`);
    }
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
