/**
 * Disk usage of a home and the quota check at launch. EFS and most NFS servers have no per-directory
 * quotas, so Sifu measures: the apparent size of every regular file, walking without following symlinks.
 */
import { lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { SifuError } from '../errors.js';
import { isErrno } from './homes.js';

export interface Usage {
  bytes: number;
  files: number;
}

/** Sums the regular files under `dir`; symlinks, devices and FIFOs count nothing; vanished entries skip. */
export async function diskUsage(dir: string): Promise<Usage> {
  const usage: Usage = { bytes: 0, files: 0 };
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    let handle: Awaited<ReturnType<typeof opendir>>;
    try {
      handle = await opendir(current);
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) continue;
      throw err;
    }
    for await (const entry of handle) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        stack.push(path);
      } else if (entry.isFile()) {
        const stat = await lstat(path).catch(() => null);
        if (stat?.isFile()) {
          usage.bytes += stat.size;
          usage.files += 1;
        }
      }
    }
  }
  return usage;
}

export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Throws SIFU_ERR_QUOTA_EXCEEDED, with a message the learner can act on, when over `quota` (0: none). */
export function checkQuota(usage: Usage, quota: number): void {
  if (quota <= 0 || usage.bytes <= quota) return;
  throw new SifuError(
    'SIFU_ERR_QUOTA_EXCEEDED',
    `Your files use ${formatBytes(usage.bytes)}, more than your ${formatBytes(quota)} quota, so your notebook ` +
      'server cannot start. Ask your course team to free space or raise your quota.',
    { logDetail: `usage ${usage.bytes} > quota ${quota}` },
  );
}
