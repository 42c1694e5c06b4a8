/**
 * kysely's SQLite dialect, changed in two ways so that migrations are safe when several Sifu processes
 * open the same file at once (kysely's own SQLite migration lock only guards one process):
 * - transactions start with BEGIN IMMEDIATE: the write lock is taken up front, so a second process waits
 *   (busy_timeout) instead of failing when it later tries to upgrade a read lock;
 * - the adapter declares transactional DDL (which SQLite has), so the migrator runs all pending migrations
 *   in one such transaction: the second process waits, then finds them applied. A failed migration rolls
 *   back entirely.
 */
import {
  CompiledQuery,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}
