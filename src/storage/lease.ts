/**
 * The single-writer lease: a user's home is used by at most one running server at a time, across Sifu
 * processes and hosts. The store decides (`acquireLease` is one atomic statement); this helper names the
 * holder and computes expiry. A server holds the lease from before `spawner.start` until it is stopped or
 * found dead; its Sifu renews it while polling. If every Sifu holding it dies, it expires after `ttlMs`.
 */
import { createHash } from 'node:crypto';
import type { ServerRecord, Store } from '../store/store.js';

export class HomeLease {
  constructor(
    private readonly store: Store,
    private readonly ttlMs: number,
  ) {}

  /**
   * The holder of a server's lease: its name plus a digest of its secret, stable for the server's life
   * (so a restarted Sifu re-adopting it still holds the lease) and different for every start.
   */
  static holderOf(record: Pick<ServerRecord, 'name' | 'secret'>): string {
    const digest = createHash('sha256').update(record.secret).digest('hex').slice(0, 16);
    return `server:${record.name}:${digest}`;
  }

  acquire(userName: string, holder: string, now = new Date()): Promise<boolean> {
    return this.store.acquireLease(userName, holder, now, new Date(now.getTime() + this.ttlMs));
  }

  renew(userName: string, holder: string, now = new Date()): Promise<boolean> {
    return this.store.renewLease(userName, holder, new Date(now.getTime() + this.ttlMs));
  }

  async release(userName: string, holder: string): Promise<void> {
    await this.store.releaseLease(userName, holder);
  }

  /** True when some server holds an unexpired lease on the home. */
  async isHeld(userName: string, now = new Date()): Promise<boolean> {
    const lease = await this.store.getLease(userName);
    return lease !== null && lease.expiresAt.getTime() > now.getTime();
  }
}
