/** The `leases` table: the single-writer lease on each home, taken and renewed in single statements. */
import { type Kysely, sql } from 'kysely';
import { toDbTime } from '../rows.js';
import { leaseFromRow } from '../storage-rows.js';
import type { LeaseRecord, LeaseStore } from '../store.js';
import type { Tables } from '../tables.js';

export class KyselyLeases implements LeaseStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async acquireLease(userName: string, holder: string, now: Date, expiresAt: Date): Promise<boolean> {
    const nowText = toDbTime(now);
    const until = toDbTime(expiresAt);
    // Insert, or take over an expired lease (or extend our own), in one statement: the database decides
    // the race, on SQLite and PostgreSQL alike (INSERT ... ON CONFLICT DO UPDATE ... WHERE).
    const result = await this.#db
      .insertInto('leases')
      .values({ user_name: userName, holder, acquired_at: nowText, expires_at: until })
      .onConflict((oc) =>
        oc
          .column('user_name')
          .doUpdateSet({
            holder,
            acquired_at: sql<string>`case when leases.holder = excluded.holder then leases.acquired_at else excluded.acquired_at end`,
            expires_at: until,
          })
          .where((eb) => eb.or([eb('leases.expires_at', '<=', nowText), eb('leases.holder', '=', holder)])),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async renewLease(userName: string, holder: string, expiresAt: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('leases')
      .set({ expires_at: toDbTime(expiresAt) })
      .where('user_name', '=', userName)
      .where('holder', '=', holder)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async releaseLease(userName: string, holder: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('leases')
      .where('user_name', '=', userName)
      .where('holder', '=', holder)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async getLease(userName: string): Promise<LeaseRecord | null> {
    const row = await this.#db
      .selectFrom('leases')
      .selectAll()
      .where('user_name', '=', userName)
      .executeTakeFirst();
    return row ? leaseFromRow(row) : null;
  }
}
