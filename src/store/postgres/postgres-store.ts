import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { KyselyStore } from '../kysely/kysely-store.js';
import type { Store } from '../store.js';
import type { Tables } from '../tables.js';
import { listenForChanges } from './change-listener.js';
import { withRetries } from './retry.js';

/** Connections per Sifu process; several replicas share the server's `max_connections`. */
const POOL_SIZE = 10;
/** A connection attempt to an address that dropped off (a fail-over) gives up, so retries can move on. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Connects (lazily: the first query opens the first connection) to the PostgreSQL database at `url`
 * (`postgres://user:password@host:port/database`). Call `migrate()` before use. Safe methods are retried
 * through a restart or failover (`retry.ts`); `subscribe` listens on a connection of its own.
 */
export async function openPostgresStore(url: string): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // An idle connection that breaks (server restart) is dropped by the pool and reported here; without a
  // listener it would crash the process. The next query opens a new connection or reports its own error.
  pool.on('error', () => {});
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  const store = new KyselyStore(db, 'postgres', {
    subscriber: (onChange, onResubscribed) => listenForChanges(url, onChange, onResubscribed),
  });
  return withRetries(store);
}
