/**
 * The `user_uids` table: each user's server uid, allocated once from a range. The allocation is one
 * INSERT ... SELECT of the next uid after the highest in the range, which a concurrent allocation of the
 * same uid or user makes a no-op (unique columns), so the loser reads what the winner recorded or retries.
 */
import type { Kysely } from 'kysely';
import { toDbTime } from '../rows.js';
import type { UidStore } from '../store.js';
import type { Tables } from '../tables.js';

/** Lost races before giving up: each loss means another user got the uid tried, so this is generous. */
const MAX_ATTEMPTS = 20;

export class KyselyUserUids implements UidStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async uidOf(userName: string, range: { base: number; count: number }): Promise<number | null> {
    const end = range.base + range.count;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
      const known = await this.#recorded(userName);
      if (known !== undefined) return known;
      const highest = await this.#db
        .selectFrom('user_uids')
        .select((eb) => eb.fn.max('uid').as('uid'))
        .where('uid', '>=', range.base)
        .where('uid', '<', end)
        .executeTakeFirst();
      const next = highest?.uid === null || highest?.uid === undefined ? range.base : Number(highest.uid) + 1;
      if (next >= end) return null;
      await this.#db
        .insertInto('user_uids')
        .values({ user_name: userName, uid: next, created_at: toDbTime(new Date()) })
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
    const known = await this.#recorded(userName);
    if (known !== undefined) return known;
    throw new Error(`no uid for ${userName} after ${MAX_ATTEMPTS} lost races`);
  }

  async #recorded(userName: string): Promise<number | undefined> {
    const row = await this.#db
      .selectFrom('user_uids')
      .select('uid')
      .where('user_name', '=', userName)
      .executeTakeFirst();
    return row ? Number(row.uid) : undefined;
  }
}
