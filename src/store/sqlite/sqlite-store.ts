import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely } from 'kysely';
import { KyselyStore } from '../kysely/kysely-store.js';
import type { Store } from '../store.js';
import type { Tables } from '../tables.js';
import { ImmediateSqliteDialect } from './immediate-dialect.js';

/** How long a statement waits for another process's write lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating it and its directory if needed) the SQLite database at `path`, or an in-memory one for
 * `:memory:`. Call `migrate()` before use.
 */
export async function openSqliteStore(path: string): Promise<Store> {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  try {
    // busy_timeout first: switching to WAL needs a lock another process may hold.
    sqlite.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    // The cascades from users depend on it. better-sqlite3 builds with it on; SQLite's own default is off.
    sqlite.pragma('foreign_keys = ON');
  } catch (err) {
    sqlite.close();
    throw err;
  }
  const db = new Kysely<Tables>({ dialect: new ImmediateSqliteDialect({ database: sqlite }) });
  return new KyselyStore(db, 'sqlite');
}
