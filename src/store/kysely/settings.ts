/** The `settings` table: values made once by whichever replica asks first, then read by all. */
import type { Kysely } from 'kysely';
import { toDbTime } from '../rows.js';
import type { SettingStore } from '../store.js';
import type { Tables } from '../tables.js';

export class KyselySettings implements SettingStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async settingOrInit(key: string, value: string): Promise<string> {
    // The first insert wins; every other caller's inserts nothing, and all then read the winner's value.
    await this.#db
      .insertInto('settings')
      .values({ key, value, created_at: toDbTime(new Date()) })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const row = await this.#db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirstOrThrow();
    return row.value;
  }
}
