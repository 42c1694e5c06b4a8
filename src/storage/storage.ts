/**
 * The storage service: homes (confined access), trash, usage and quota, purge. Composed once in
 * `app.ts` and handed to the API, the CLI and the server manager.
 */

import { rm } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import type { SifuConfig } from '../config/schema.js';
import { SifuError } from '../errors.js';
import { CONTAINER_USER } from '../spawner/container-security.js';
import type { Store } from '../store/store.js';
import { Homes } from './homes.js';
import { HomeLease } from './lease.js';
import { SharedRoot } from './shared-root.js';
import { Trash } from './trash.js';
import { checkQuota, diskUsage, type Usage } from './usage.js';

/** `storage.root`, or `<dataDir>/homes`, as an absolute path. */
export function storageRoot(config: SifuConfig): string {
  const root = config.storage.root ?? `${config.dataDir}/homes`;
  return isAbsolute(root) ? root : resolve(root);
}

export interface StorageReport extends Usage {
  quota: number;
  overQuota: boolean;
}

export class Storage {
  readonly homes: Homes;
  readonly trash: Trash;
  readonly lease: HomeLease;
  readonly sharedRoot: SharedRoot;

  constructor(
    store: Store,
    readonly options: {
      root: string;
      uid?: number | undefined;
      gid?: number | undefined;
      quota: number;
      trashRetentionMs: number;
      leaseTtlMs: number;
      maxNotebookBytes: number;
    },
  ) {
    this.homes = new Homes({ root: options.root, uid: options.uid, gid: options.gid });
    this.trash = new Trash(this.homes, options.trashRetentionMs);
    this.lease = new HomeLease(store, options.leaseTtlMs);
    this.sharedRoot = new SharedRoot(store, options.root);
  }

  static fromConfig(store: Store, config: SifuConfig): Storage {
    // Containers run as one unprivileged user, which must own the homes it works in.
    const inContainers = config.spawner.backend === 'docker' || config.spawner.backend === 'swarm';
    return new Storage(store, {
      root: storageRoot(config),
      uid: config.storage.uid ?? (inContainers ? CONTAINER_USER.uid : undefined),
      gid: config.storage.gid ?? (inContainers ? CONTAINER_USER.gid : undefined),
      quota: config.storage.quota,
      trashRetentionMs: config.storage.trashRetention * 1000,
      leaseTtlMs: config.storage.leaseTtl * 1000,
      maxNotebookBytes: config.storage.maxNotebookBytes,
    });
  }

  /**
   * What a launch does first: the home exists with the right owner (`owner`, the server's own uid, when
   * given), and is within its quota.
   */
  async prepareLaunch(userName: string, owner?: { uid: number; gid: number }): Promise<string> {
    await this.sharedRoot.check();
    const home = await this.homes.ensureHome(userName, owner);
    if (this.options.quota > 0) checkQuota(await diskUsage(home), this.options.quota);
    return home;
  }

  async report(userName: string): Promise<StorageReport> {
    let usage: Usage = { bytes: 0, files: 0 };
    try {
      usage = await diskUsage(await this.homes.realHome(userName));
    } catch (err) {
      if ((err as SifuError).code !== 'SIFU_ERR_NOT_FOUND') throw err;
    }
    const quota = this.options.quota;
    return { ...usage, quota, overQuota: quota > 0 && usage.bytes > quota };
  }

  /**
   * Deletes the user's home and trash for good (a data-deletion request). Refused while a server holds
   * the home's lease: stop the user's servers first. The caller records the audit event.
   */
  async purgeUser(userName: string): Promise<{ removedHome: boolean }> {
    if (await this.lease.isHeld(userName)) {
      throw new SifuError('SIFU_ERR_HOME_IN_USE', `${userName}'s files are in use by a running server`);
    }
    const home = this.homes.homeOf(userName);
    const existed = await this.homes.realHome(userName).then(
      () => true,
      () => false,
    );
    // `rm` removes symlinks inside the home; it never follows them out.
    await rm(home, { recursive: true, force: true });
    await rm(this.trash.trashOf(userName), { recursive: true, force: true });
    return { removedHome: existed };
  }
}
