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

/** Platform identities (0004_identities): primary key (issuer, subject); cascades from users. */
export interface IdentitiesTable {
  issuer: string;
  subject: string;
  user_name: string;
  created_at: string;
}

/** The uid of each user's server (0005_user_uids): unique, never reused, no foreign key. */
export interface UserUidsTable {
  user_name: string;
  uid: number;
  created_at: string;
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
  /** The host that started it (0006_hosts); null before `cluster`. */
  host: string | null;
  /** JSON text: the `user_options` of the start (0007_groups). */
  user_options: Generated<string>;
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

/** Base notebooks attached to a course (0002_storage). `unit_id` is '' for a course-level notebook. */
export interface CourseNotebooksTable {
  course_id: string;
  name: string;
  unit_id: string;
  /** JSON text: where the notebook came from (`{"kind":"upload"}` or `{"kind":"git",...}`). */
  source: string;
  /** The notebook itself (nbformat 4 JSON text), bounded by `storage.maxNotebookBytes`. */
  content: string;
  sha256: string;
  size: number;
  updated_at: string;
  updated_by: string | null;
}

/** One row per home in use: the single-writer lease (0002_storage). No foreign key: homes outlive users. */
export interface LeasesTable {
  user_name: string;
  holder: string;
  acquired_at: string;
  expires_at: string;
}

/** One row per host of a multi-host deployment (0006_hosts): its heartbeat, fencing epoch and load. */
export interface HostsTable {
  id: string;
  relay_url: string | null;
  epoch: number;
  started_at: string;
  last_seen: string;
  draining: number;
  gone: number;
  /** JSON text: a `HostLoad`. */
  load: string;
}

/** Values made once and shared by every replica (0006_hosts). */
export interface SettingsTable {
  key: string;
  value: string;
  created_at: string;
}

/** Groups (0007_groups): JupyterHub's, with free-form `properties`. */
export interface GroupsTable {
  name: string;
  /** JSON text: an object. */
  properties: string;
  created_at: string;
}

/** Who is in which group (0007_groups): cascades from both the group and the user. */
export interface GroupMembersTable {
  group_name: string;
  user_name: string;
}

/** Named servers, running or stopped, until removed (0008_named_servers). */
export interface NamedServersTable {
  user_name: string;
  name: string;
  /** JSON text: the `user_options` of its last start. */
  user_options: string;
  created_at: string;
  last_activity: string | null;
}

/** Every table by name: the type that `Kysely<Tables>` checks each query against. */
export interface Tables {
  users: UsersTable;
  identities: IdentitiesTable;
  user_uids: UserUidsTable;
  servers: ServersTable;
  tokens: TokensTable;
  sessions: SessionsTable;
  events: EventsTable;
  tickets: TicketsTable;
  course_notebooks: CourseNotebooksTable;
  leases: LeasesTable;
  hosts: HostsTable;
  settings: SettingsTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  named_servers: NamedServersTable;
}
