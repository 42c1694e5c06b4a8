/** The `named_servers` table: a user's named servers, running or stopped, until removed. */
import type { Kysely } from 'kysely';
import { namedServerFromRow, toDbJson, toDbTime } from '../rows.js';
import type { NamedServerRecord, NamedServerStore } from '../store.js';
import type { Tables } from '../tables.js';
import { forExistingUser } from './for-existing-user.js';

export class KyselyNamedServers implements NamedServerStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  /** Throws SIFU_ERR_USER_NOT_FOUND if the user does not exist. */
  async rememberNamedServer(
    userName: string,
    name: string,
    userOptions: Record<string, unknown>,
  ): Promise<void> {
    const options = toDbJson(userOptions);
    await forExistingUser(userName, () =>
      this.#db
        .insertInto('named_servers')
        .values({
          user_name: userName,
          name,
          user_options: options,
          created_at: toDbTime(new Date()),
          last_activity: null,
        })
        .onConflict((oc) => oc.columns(['user_name', 'name']).doUpdateSet({ user_options: options }))
        .execute(),
    );
  }

  async touchNamedServer(userName: string, name: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('named_servers')
      .set({ last_activity: toDbTime(at) })
      .where('user_name', '=', userName)
      .where('name', '=', name)
      .execute();
  }

  async listNamedServers(userName?: string): Promise<NamedServerRecord[]> {
    let query = this.#db.selectFrom('named_servers').selectAll().orderBy('user_name').orderBy('name');
    if (userName !== undefined) query = query.where('user_name', '=', userName);
    return (await query.execute()).map(namedServerFromRow);
  }

  async forgetNamedServer(userName: string, name: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('named_servers')
      .where('user_name', '=', userName)
      .where('name', '=', name)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}
