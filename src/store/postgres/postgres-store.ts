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
 * The pool a store queries through. A broken connection must never be an uncaught error, whether it is
 * idle in the pool or checked out between two queries of a transaction (PostgreSQL's shutdown sends its
 * FATAL to every session at once; pg reports it on the client, and pg-pool listens only while idle).
 */
export function createPool(url: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // Idle clients: the pool drops them and reports here. The next query opens a new connection.
  pool.on('error', () => {});
  // Checked-out clients: the query running, or the next one, fails with the error instead, and the
  // pool discards the client when it is released.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * Connects (lazily: the first query opens the first connection) to the PostgreSQL database at `url`
 * (`postgres://user:password@host:port/database`). Call `migrate()` before use. Safe methods are retried
 * through a restart or failover (`retry.ts`); `subscribe` listens on a connection of its own.
 */
export async function openPostgresStore(url: string): Promise<Store> {
  const pool = createPool(url);
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  const store = new KyselyStore(db, 'postgres', {
    subscriber: (onChange, onResubscribed) => listenForChanges(url, onChange, onResubscribed),
  });
  return withRetries(store);
}
