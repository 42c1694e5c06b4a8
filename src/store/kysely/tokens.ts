/** The `tokens` table. A token's hash is written, and matched, but never read back. */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { toDbJson, toDbTime, toDbTimeOrNull, tokenFromRow } from '../rows.js';
import type { NewToken, TokenRecord, TokenStore } from '../store.js';
import type { Tables } from '../tables.js';
import { forExistingUser } from './for-existing-user.js';

const tokenColumns = [
  'id',
  'user_name',
  'scopes',
  'note',
  'created_at',
  'expires_at',
  'last_activity',
] as const;

export class KyselyTokens implements TokenStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  /** Throws SIFU_ERR_USER_NOT_FOUND if the user does not exist. */
  async createToken(input: NewToken): Promise<TokenRecord> {
    const record: TokenRecord = {
      id: randomUUID(),
      userName: input.userName,
      scopes: [...input.scopes],
      note: input.note ?? '',
      createdAt: new Date(),
      expiresAt: input.expiresAt ?? null,
      lastActivity: null,
    };
    await forExistingUser(input.userName, () =>
      this.#db
        .insertInto('tokens')
        .values({
          id: record.id,
          user_name: record.userName,
          hash: input.hash,
          scopes: toDbJson(record.scopes),
          note: record.note,
          created_at: toDbTime(record.createdAt),
          expires_at: toDbTimeOrNull(record.expiresAt),
          last_activity: null,
        })
        .execute(),
    );
    return record;
  }

  async findToken(hash: string): Promise<TokenRecord | null> {
    const now = toDbTime(new Date());
    const row = await this.#db
      .selectFrom('tokens')
      .select(tokenColumns)
      .where('hash', '=', hash)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirst();
    return row ? tokenFromRow(row) : null;
  }

  /** The user's tokens that have not expired, oldest first. */
  async listTokens(userName: string): Promise<TokenRecord[]> {
    const now = toDbTime(new Date());
    const rows = await this.#db
      .selectFrom('tokens')
      .select(tokenColumns)
      .where('user_name', '=', userName)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(tokenFromRow);
  }

  /** False unless a token with this id exists and belongs to `userName`. */
  async deleteToken(userName: string, id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('tokens')
      .where('id', '=', id)
      .where('user_name', '=', userName)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async touchToken(id: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('tokens')
      .set({ last_activity: toDbTime(at) })
      .where('id', '=', id)
      .execute();
  }
}
