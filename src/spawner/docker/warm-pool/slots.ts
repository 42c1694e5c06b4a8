import { execFile } from 'node:child_process';
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Slots: the host side of a warm-pool container's home (docs/pool.md). A slot directory holds `home`, an
 * empty directory bind-mounted into the container with `rslave` propagation, and `ctl`, mounted read-only,
 * holding the pool token file. Claiming bind-mounts the learner's home onto `home`; the
 * container sees it at once. Needs root (mount) and a slots root that is a shared mount.
 */

/** Makes `root` a shared mount (a bind of itself), so that mounts under it propagate into containers. */
export async function ensureSharedMount(root: string): Promise<void> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const line = info.split('\n').find((l) => l.split(' ')[4] === root);
  if (line && / shared:\d+/.test(line.split(' - ')[0] ?? '')) return;
  if (!line) await run('mount', ['--bind', root, root]);
  await run('mount', ['--make-rshared', root]);
}

/** Puts the learner's home into the slot (visible in the container through propagation). */
export async function mountHome(slotDir: string, home: string): Promise<void> {
  await run('mount', ['--bind', home, join(slotDir, 'home')]);
}

/**
 * Undoes a slot after its container is gone: unmounts the learner's home, then removes the slot's own
 * files. Never recursive over `home`: if the unmount failed, the learner's files must not be touched.
 */
export async function releaseSlot(slotDir: string): Promise<void> {
  const home = join(slotDir, 'home');
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      await run('umount', [home]);
    } catch {
      break; // not mounted (any more)
    }
  }
  await rm(join(slotDir, 'ctl'), { recursive: true, force: true });
  await rm(join(slotDir, 'claimed'), { force: true });
  await rmdir(home).catch(() => {});
  await rmdir(slotDir).catch(() => {});
}

/** Undoes `ensureSharedMount` once no slot is left (claimed slots keep it: their servers outlive Sifu). */
export async function releaseSharedMount(root: string): Promise<void> {
  const left = await readdir(root).catch(() => []);
  if (left.length > 0) return;
  await run('umount', [root]).catch(() => {});
}
