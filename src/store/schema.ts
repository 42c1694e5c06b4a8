/**
 * The tables as the database holds them, for kysely's typed queries. Column types are the portable
 * subset that SQLite and PostgreSQL read back identically:
 * - times are ISO-8601 UTC text from `Date#toISOString()` (fixed width, so text order is time order);
 * - booleans are integers 0/1;
 * - JSON is text.
 * The conversion to and from the `Store` records happens in one place: `rows.ts`.
 */
import type { Generated } from 'kysely';

export interface UsersTable {
  name: string;
  admin: number;
  created_at: string;
  last_activity: string | null;
}

export interface ServersTable {
  user_name: string;
  name: string;
  backend: string;
  /** JSON text, owned by the spawner backend. */
  state: string;
  url: string | null;
  secret: string;
  status: string;
  started_at: string;
  last_activity: string | null;
}

export interface TokensTable {
  id: string;
  user_name: string;
  hash: string;
  /** JSON text: an array of scopes. */
  scopes: string;
  note: string;
  created_at: string;
  expires_at: string | null;
  last_activity: string | null;
}

export interface SessionsTable {
  hash: string;
  user_name: string;
  created_at: string;
  expires_at: string;
  parent_hash: string | null;
}

export interface EventsTable {
  /** SQLite returns a number; PostgreSQL returns its bigint as a string. */
  id: Generated<number | string>;
  at: string;
  type: string;
  user_name: string | null;
  /** JSON text: an object. */
  data: string;
}

/** One-time tickets: launch URLs, LTI state and nonces. Stored by hash, taken once. */
export interface TicketsTable {
  hash: string;
  kind: string;
  user_name: string | null;
  /** JSON text: an object. */
  data: string;
  expires_at: string;
}

export interface Database {
  users: UsersTable;
  servers: ServersTable;
  tokens: TokensTable;
  sessions: SessionsTable;
  events: EventsTable;
  tickets: TicketsTable;
}
