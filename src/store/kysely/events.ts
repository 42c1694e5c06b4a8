/** The `events` table: the audit log, which outlives the users it names (no foreign key). */
import type { Kysely } from 'kysely';
import { eventFromRow, toDbJson, toDbTime } from '../rows.js';
import type { EventRecord, EventStore } from '../store.js';
import type { Tables } from '../tables.js';

export class KyselyEvents implements EventStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async addEvent(type: string, userName: string | null, data: Record<string, unknown> = {}): Promise<void> {
    await this.#db
      .insertInto('events')
      .values({ at: toDbTime(new Date()), type, user_name: userName, data: toDbJson(data) })
      .execute();
  }

  /** Newest first. */
  async listEvents(
    options: { userName?: string; type?: string; limit?: number; beforeId?: number } = {},
  ): Promise<EventRecord[]> {
    let query = this.#db.selectFrom('events').selectAll().orderBy('id', 'desc');
    if (options.userName !== undefined) query = query.where('user_name', '=', options.userName);
    if (options.type !== undefined) query = query.where('type', '=', options.type);
    if (options.beforeId !== undefined) query = query.where('id', '<', options.beforeId);
    if (options.limit !== undefined) query = query.limit(options.limit);
    const rows = await query.execute();
    return rows.map(eventFromRow);
  }
}
