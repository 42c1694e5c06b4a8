/** The `users` table. Deleting a user cascades to their identities, servers, tokens and sessions (foreign keys). */
import type { Kysely } from 'kysely';
import { SifuError } from '../../errors.js';
import { toDbTime, userFromRow } from '../rows.js';
import type { UserRecord, UserStore } from '../store.js';
import type { Tables } from '../tables.js';

export class KyselyUsers implements UserStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async createUser(name: string, options: { admin?: boolean } = {}): Promise<UserRecord> {
    const user: UserRecord = {
      name,
      admin: options.admin ?? false,
      createdAt: new Date(),
      lastActivity: null,
    };
    const result = await this.#db
      .insertInto('users')
      .values({ name, admin: user.admin ? 1 : 0, created_at: toDbTime(user.createdAt), last_activity: null })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (!result.numInsertedOrUpdatedRows) {
      throw new SifuError('SIFU_ERR_USER_EXISTS', `A user named '${name}' already exists.`);
    }
    return user;
  }

  async ensureUser(name: string): Promise<UserRecord> {
    await this.#db
      .insertInto('users')
      .values({ name, admin: 0, created_at: toDbTime(new Date()), last_activity: null })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const user = await this.getUser(name);
    // Only a concurrent deleteUser between the two statements gets here.
    if (!user) throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `No user named '${name}'.`);
    return user;
  }

  async getUser(name: string): Promise<UserRecord | null> {
    const row = await this.#db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? userFromRow(row) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    const rows = await this.#db.selectFrom('users').selectAll().orderBy('name').execute();
    return rows.map(userFromRow);
  }

  /** Throws SIFU_ERR_USER_NOT_FOUND if there is no such user. */
  async setAdmin(name: string, admin: boolean): Promise<void> {
    const result = await this.#db
      .updateTable('users')
      .set({ admin: admin ? 1 : 0 })
      .where('name', '=', name)
      .executeTakeFirst();
    if (!result.numUpdatedRows) throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `No user named '${name}'.`);
  }

  async deleteUser(name: string): Promise<boolean> {
    // identities, servers, tokens and sessions go with the user: ON DELETE CASCADE.
    const result = await this.#db.deleteFrom('users').where('name', '=', name).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async touchUser(name: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('users')
      .set({ last_activity: toDbTime(at) })
      .where('name', '=', name)
      .execute();
  }
}
