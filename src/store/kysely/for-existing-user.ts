/** The one translation of a database error into a Store error: a missing user behind a foreign key. */
import { SifuError } from '../../errors.js';

/** SQLite (better-sqlite3) and PostgreSQL (pg) report a foreign key violation under different codes. */
function isForeignKeyViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

/** Runs an insert that references `userName`; a missing user becomes SIFU_ERR_USER_NOT_FOUND. */
export async function forExistingUser<T>(userName: string, insert: () => Promise<T>): Promise<T> {
  try {
    return await insert();
  } catch (err) {
    if (isForeignKeyViolation(err)) {
      throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `No user named '${userName}'.`, { cause: err });
    }
    throw err;
  }
}
