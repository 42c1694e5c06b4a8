/** The `sessions` table. A session's hash is written, and matched, but never read back. */
import type { Kysely } from 'kysely';
import { sessionFromRow, toDbTime } from '../rows.js';
import type { SessionRecord, SessionStore } from '../store.js';
import type { Tables } from '../tables.js';
import { forExistingUser } from './for-existing-user.js';

const sessionColumns = ['user_name', 'created_at', 'expires_at', 'parent_hash'] as const;

export class KyselySessions implements SessionStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  /** Throws SIFU_ERR_USER_NOT_FOUND if the user does not exist. */
  async createSession(hash: string, session: SessionRecord): Promise<void> {
    await forExistingUser(session.userName, () =>
      this.#db
        .insertInto('sessions')
        .values({
          hash,
          user_name: session.userName,
          created_at: toDbTime(session.createdAt),
          expires_at: toDbTime(session.expiresAt),
          parent_hash: session.parentHash,
        })
        .execute(),
    );
  }

  async getSession(hash: string): Promise<SessionRecord | null> {
    const row = await this.#db
      .selectFrom('sessions')
      .select(sessionColumns)
      .where('hash', '=', hash)
      .where('expires_at', '>', toDbTime(new Date()))
      .executeTakeFirst();
    return row ? sessionFromRow(row) : null;
  }

  /** Derived sessions are one level deep (a notebook-origin session of a hub session). */
  async deleteSession(hash: string): Promise<void> {
    await this.#db
      .deleteFrom('sessions')
      .where((eb) => eb.or([eb('hash', '=', hash), eb('parent_hash', '=', hash)]))
      .execute();
  }

  /** Deletes the sessions that expired at or before `now`; returns how many. */
  async deleteExpiredSessions(now: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('sessions')
      .where('expires_at', '<=', toDbTime(now))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
