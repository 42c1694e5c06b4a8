/** The `servers` table: one row per (user, server name), claimed in one statement. */
import type { Kysely } from 'kysely';
import { serverFromRow, serverToRow, toDbTime } from '../rows.js';
import type { ServerRecord, ServerStore } from '../store.js';
import type { Tables } from '../tables.js';
import { forExistingUser } from './for-existing-user.js';

export class KyselyServers implements ServerStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async getServer(userName: string, serverName: string): Promise<ServerRecord | null> {
    const row = await this.#db
      .selectFrom('servers')
      .selectAll()
      .where('user_name', '=', userName)
      .where('name', '=', serverName)
      .executeTakeFirst();
    return row ? serverFromRow(row) : null;
  }

  async listServers(): Promise<ServerRecord[]> {
    const rows = await this.#db
      .selectFrom('servers')
      .selectAll()
      .orderBy('user_name')
      .orderBy('name')
      .execute();
    return rows.map(serverFromRow);
  }

  /** Throws SIFU_ERR_USER_NOT_FOUND if the user does not exist. */
  async claimServer(record: ServerRecord): Promise<boolean> {
    // One statement, so the database decides the race: every loser's INSERT inserts nothing.
    const result = await forExistingUser(record.userName, () =>
      this.#db
        .insertInto('servers')
        .values(serverToRow(record))
        .onConflict((oc) => oc.columns(['user_name', 'name']).doNothing())
        .executeTakeFirst(),
    );
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /**
   * A no-op if the row is gone (deleted meanwhile) or is another start's (another secret): an update never
   * resurrects a server nor overwrites the start that replaced it.
   */
  async updateServer(record: ServerRecord): Promise<void> {
    const row = serverToRow(record);
    await this.#db
      .updateTable('servers')
      .set({ state: row.state, url: row.url, status: row.status, last_activity: row.last_activity })
      .where('user_name', '=', record.userName)
      .where('name', '=', record.name)
      .where('secret', '=', record.secret)
      .execute();
  }

  async touchServer(userName: string, serverName: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('servers')
      .set({ last_activity: toDbTime(at) })
      .where('user_name', '=', userName)
      .where('name', '=', serverName)
      .execute();
  }

  async deleteServer(userName: string, serverName: string, secret?: string): Promise<void> {
    let query = this.#db
      .deleteFrom('servers')
      .where('user_name', '=', userName)
      .where('name', '=', serverName);
    if (secret !== undefined) query = query.where('secret', '=', secret);
    await query.execute();
  }
}
