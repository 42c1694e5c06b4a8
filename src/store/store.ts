/**
 * The store: everything Sifu must remember across restarts. One interface, two implementations that share
 * their query code (kysely): SQLite (embedded default, `src/store/sqlite/`) and PostgreSQL (several
 * replicas, `src/store/postgres/`). Both run the shared suite in `src/store/contract/`.
 *
 * Conventions for every method:
 * - names are already validated by the caller (see `src/names.ts`); the store does not re-check them;
 * - times are JavaScript `Date`s; absent values are `null`, never `undefined`;
 * - secrets (token values, session ids) never reach the store: only their SHA-256 hashes do.
 */

export interface UserRecord {
  name: string;
  admin: boolean;
  createdAt: Date;
  lastActivity: Date | null;
}

/** What the core remembers about one server of one user. `state` is owned by the spawner backend. */
export interface ServerRecord {
  userName: string;
  /** '' for the default server, as in JupyterHub. */
  name: string;
  backend: string;
  /** Opaque JSON owned by the spawner backend (pid, container id...); the core never looks inside. */
  state: Record<string, unknown>;
  /** Where the proxy forwards to, e.g. http://127.0.0.1:45678. Null while the server is starting. */
  url: string | null;
  /** The server's secret token (the proxy adds it to forwarded requests). */
  secret: string;
  status: 'pending' | 'running';
  startedAt: Date;
  lastActivity: Date | null;
  /**
   * The host whose replica started the server and can reach it (`cluster.hostId`); other hosts reach it
   * through that host's relay. Null: a server of a single-host deployment (before `cluster` existed).
   */
  host: string | null;
  /**
   * The `user_options` the start was asked with (JupyterHub's start body), reported back in the server's
   * model. Always set on records the store returns; `{}` when absent.
   */
  userOptions?: Record<string, unknown>;
}

/** A group of users (JupyterHub's groups), with free-form `properties` for tools such as nbgrader. */
export interface GroupRecord {
  name: string;
  /** Member names, sorted. */
  users: string[];
  properties: Record<string, unknown>;
  createdAt: Date;
}

/** A named server a user made: it exists, running or stopped, until it is removed. */
export interface NamedServerRecord {
  userName: string;
  name: string;
  /** The `user_options` of its last start. */
  userOptions: Record<string, unknown>;
  createdAt: Date;
  /** When it last stopped (or was last seen active); null if never. */
  lastActivity: Date | null;
}

export type Scope =
  | 'admin'
  | 'read:users'
  | 'admin:users'
  | 'servers'
  | 'tokens'
  | 'launch'
  | 'courses'
  | 'read:metrics';

export interface TokenRecord {
  id: string;
  userName: string;
  /** As the token was asked for: Sifu's scope names or JupyterHub's (src/auth/scopes.ts gives their meaning). */
  scopes: string[];
  note: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastActivity: Date | null;
}

/** What `createToken` needs: the record's id, creation time and activity are the store's to set. */
export interface NewToken {
  userName: string;
  /** SHA-256 of the token's value. */
  hash: string;
  scopes: string[];
  note?: string;
  expiresAt?: Date | null;
}

export interface SessionRecord {
  userName: string;
  createdAt: Date;
  expiresAt: Date;
  /** Hash of the hub session this one was derived from (notebook-origin sessions), or null. */
  parentHash: string | null;
}

export interface EventRecord {
  id: number;
  at: Date;
  type: string;
  userName: string | null;
  data: Record<string, unknown>;
}

/** A one-time ticket: a launch URL, an LTI state or nonce. Its value is a secret; only its hash is kept. */
export interface TicketRecord {
  /** What the ticket is for (`launch`, `lti-state`...): a ticket is only ever taken for its own kind. */
  kind: string;
  userName: string | null;
  data: Record<string, unknown>;
  expiresAt: Date;
}

/** Where a base notebook came from. Never holds a credential. */
export type CourseNotebookSource =
  | { kind: 'upload' }
  | { kind: 'git'; repo: string; path: string; ref: string | null };

/** A base notebook attached to a course (and the unit it was attached at; '' for the whole course). */
export interface CourseNotebookRecord {
  courseId: string;
  /** The file name, e.g. `intro.ipynb`: unique within the course (it names the learner's copy). */
  name: string;
  unitId: string;
  source: CourseNotebookSource;
  sha256: string;
  size: number;
  updatedAt: Date;
  updatedBy: string | null;
}

/** The single-writer lease on a user's home: held by one server, until `expiresAt` unless renewed. */
export interface LeaseRecord {
  userName: string;
  holder: string;
  acquiredAt: Date;
  expiresAt: Date;
}

/** Users: who may sign in, and who is an admin. */
export interface UserStore {
  /** Throws SifuError SIFU_ERR_USER_EXISTS if the name is taken. */
  createUser(name: string, options?: { admin?: boolean }): Promise<UserRecord>;
  /** Returns the existing user, or creates it: used at sign-in. */
  ensureUser(name: string): Promise<UserRecord>;
  getUser(name: string): Promise<UserRecord | null>;
  listUsers(): Promise<UserRecord[]>;
  setAdmin(name: string, admin: boolean): Promise<void>;
  /** Deletes the user with their identities, servers, tokens and sessions (never their files). False if absent. */
  deleteUser(name: string): Promise<boolean>;
  touchUser(name: string, at: Date): Promise<void>;
}

/** Groups and their members; a member leaves with their user, a group's memberships with the group. */
export interface GroupStore {
  /**
   * Creates `name` with `users` as members, in one transaction. Throws SIFU_ERR_GROUP_EXISTS if the name
   * is taken, SIFU_ERR_USER_NOT_FOUND if a member does not exist; either way nothing is created.
   */
  createGroup(
    name: string,
    options?: { users?: string[]; properties?: Record<string, unknown> },
  ): Promise<GroupRecord>;
  getGroup(name: string): Promise<GroupRecord | null>;
  /** Every group by name; only those `userName` is a member of, when given. */
  listGroups(options?: { userName?: string }): Promise<GroupRecord[]>;
  /** Deletes the group and its memberships (never the users). False if absent. */
  deleteGroup(name: string): Promise<boolean>;
  /**
   * Adds members (those already in stay once), in one transaction. Throws SIFU_ERR_GROUP_NOT_FOUND, or
   * SIFU_ERR_USER_NOT_FOUND for a missing user, adding none. Returns the group after.
   */
  addGroupMembers(name: string, users: string[]): Promise<GroupRecord>;
  /** Removes members (names not in it are ignored). Throws SIFU_ERR_GROUP_NOT_FOUND. Returns the group after. */
  removeGroupMembers(name: string, users: string[]): Promise<GroupRecord>;
  /** Replaces the group's properties. Throws SIFU_ERR_GROUP_NOT_FOUND. Returns the group after. */
  setGroupProperties(name: string, properties: Record<string, unknown>): Promise<GroupRecord>;
}

/**
 * A person at a platform (an LTI platform, an OpenID Connect provider, an Open edX LMS), linked to the one
 * Sifu user they sign in as. The platform's key for the person is `(issuer, subject)`; their name there is
 * not part of it.
 */
export interface IdentityRecord {
  /** The platform: its `iss` (LTI, OpenID Connect), or the LMS URL (Open edX). */
  issuer: string;
  /** The platform's key for the person: `sub` (LTI, OpenID Connect), or `username:<edX username>`. */
  subject: string;
  userName: string;
  createdAt: Date;
}

/** Platform identities and the users they sign in as; a user's identities go with the user. */
export interface IdentityStore {
  /** The user `(issuer, subject)` is linked to; null if it never signed in (or its user was deleted). */
  getIdentity(issuer: string, subject: string): Promise<IdentityRecord | null>;
  /** The identities linked to `userName`, oldest first. */
  listIdentities(userName: string): Promise<IdentityRecord[]>;
  /**
   * A first sign-in: creates the user `userName` (not an admin) and links `(issuer, subject)` to it, in
   * one transaction. Returns the link with `created: true`; or, when the identity is linked already (a
   * concurrent first sign-in won), that link with `created: false`, creating nothing; or null, changing
   * nothing, when the name is taken and the identity not linked: the caller tries another name.
   */
  createLinkedUser(
    issuer: string,
    subject: string,
    userName: string,
  ): Promise<{ identity: IdentityRecord; created: boolean } | null>;
  /**
   * Links `(issuer, subject)` to the existing user `userName` only if that user is not an admin and has no
   * identity yet, in one statement. Returns the identity's link (this one, or one made before or
   * meanwhile); null, changing nothing, when the identity is not linked and the user is absent, an
   * admin or another identity's.
   */
  linkExistingUser(issuer: string, subject: string, userName: string): Promise<IdentityRecord | null>;
}

/** The servers the core knows of, one row per (user, server name). */
export interface ServerStore {
  getServer(userName: string, serverName: string): Promise<ServerRecord | null>;
  listServers(): Promise<ServerRecord[]>;
  /**
   * Inserts a pending server row, only if none exists for (user, name). Returns false if one already
   * exists: the caller lost the race and must not start a second server.
   */
  claimServer(record: ServerRecord): Promise<boolean>;
  /**
   * Replaces the row's mutable fields (state, url, status, lastActivity), only if the row is this start's
   * (same `secret`): a replica acting on a server it lost never overwrites the next start's row.
   */
  updateServer(record: ServerRecord): Promise<void>;
  touchServer(userName: string, serverName: string, at: Date): Promise<void>;
  /** Deletes the row; with `secret`, only if the row is that start's (see `updateServer`). */
  deleteServer(userName: string, serverName: string, secret?: string): Promise<void>;
}

/** Named servers that exist while stopped (JupyterHub keeps them until `remove: true`). */
export interface NamedServerStore {
  /**
   * Records that `userName`'s server `name` exists, with the `userOptions` of this start (replacing
   * those of an earlier one). Throws SIFU_ERR_USER_NOT_FOUND when the user does not exist.
   */
  rememberNamedServer(userName: string, name: string, userOptions: Record<string, unknown>): Promise<void>;
  /** Sets when it was last active (its stop); a no-op if it is not remembered. */
  touchNamedServer(userName: string, name: string, at: Date): Promise<void>;
  /** By user, then name; only `userName`'s when given. */
  listNamedServers(userName?: string): Promise<NamedServerRecord[]>;
  /** Forgets it (a removed server); false if it was not remembered. */
  forgetNamedServer(userName: string, name: string): Promise<boolean>;
}

/** API tokens, kept by the hash of their value. */
export interface TokenStore {
  /** Stores a token under the hash of its value; returns the record. */
  createToken(input: NewToken): Promise<TokenRecord>;
  /** Looks a token up by hash; null if unknown or expired. */
  findToken(hash: string): Promise<TokenRecord | null>;
  listTokens(userName: string): Promise<TokenRecord[]>;
  deleteToken(userName: string, id: string): Promise<boolean>;
  touchToken(id: string, at: Date): Promise<void>;
}

/** Sign-in sessions, kept by the hash of their id. */
export interface SessionStore {
  createSession(hash: string, session: SessionRecord): Promise<void>;
  /** Null if unknown or expired. */
  getSession(hash: string): Promise<SessionRecord | null>;
  /** Deletes the session and every session derived from it. */
  deleteSession(hash: string): Promise<void>;
  deleteExpiredSessions(now: Date): Promise<number>;
}

/** One-time tickets. */
export interface TicketStore {
  /** Stores a ticket under the hash of its value. */
  createTicket(hash: string, ticket: TicketRecord): Promise<void>;
  /**
   * Takes a ticket exactly once: deletes it and returns it, atomically, so that two concurrent takers
   * (even on two replicas) never both get it. Null when unknown, of another kind, taken, or expired.
   */
  consumeTicket(hash: string, kind: string, now: Date): Promise<TicketRecord | null>;
  deleteExpiredTickets(now: Date): Promise<number>;
}

/** The base notebooks attached to courses, with their content. */
export interface CourseNotebookStore {
  /**
   * Inserts or replaces the base notebook `(courseId, name)` with its content. Returns false, changing
   * nothing, when that name is already attached to another unit of the course.
   */
  putCourseNotebook(record: CourseNotebookRecord, content: string): Promise<boolean>;
  getCourseNotebook(courseId: string, name: string): Promise<CourseNotebookRecord | null>;
  /** The notebook's JSON text; null if absent. */
  getCourseNotebookContent(courseId: string, name: string): Promise<string | null>;
  /** By course, then name; only `courseId`'s when given. */
  listCourseNotebooks(courseId?: string): Promise<CourseNotebookRecord[]>;
  /** Detaches the base notebook (learners' copies are files and stay). False if absent. */
  deleteCourseNotebook(courseId: string, name: string): Promise<boolean>;
}

/** Leases: one writer per home. */
export interface LeaseStore {
  /**
   * Takes the lease on `userName`'s home for `holder` until `expiresAt`, in one statement: succeeds if
   * there is no lease, if it expired at or before `now`, or if `holder` already holds it (then extends it).
   * Concurrent callers on any number of handles or replicas: at most one wins.
   */
  acquireLease(userName: string, holder: string, now: Date, expiresAt: Date): Promise<boolean>;
  /** Extends the lease if `holder` still holds it; false otherwise (lost or released). */
  renewLease(userName: string, holder: string, expiresAt: Date): Promise<boolean>;
  /** Releases the lease if `holder` holds it; false otherwise. */
  releaseLease(userName: string, holder: string): Promise<boolean>;
  getLease(userName: string): Promise<LeaseRecord | null>;
}

/** What a host reports of itself in its heartbeat, for placement (see `HostStore`). */
export interface HostLoad {
  /** Servers running (or starting) on the host. */
  servers: number;
  /** `spawner.maxServers`: at most this many on the host; 0 for no bound. */
  maxServers: number;
  /** Memory the host has available now, in bytes (`MemAvailable`). */
  memAvailable: number;
  /** Memory one server may take (the backend's `memLimit`), in bytes; 0 when unbounded. */
  memPerServer: number;
}

/** A host of a multi-host deployment: the replicas on one machine, as one entry (`cluster.hostId`). */
export interface HostRecord {
  id: string;
  /** Where other hosts' replicas reach this host's relay (`cluster.relayUrl`); null: it has none. */
  relayUrl: string | null;
  /**
   * Incremented at every registration: a host that is declared gone and comes back registers again with
   * a new epoch, and a heartbeat or declaration naming an old epoch changes nothing (fencing).
   */
  epoch: number;
  startedAt: Date;
  lastSeen: Date;
  /** `sifu host drain`: no new servers here; running ones are left to end. */
  draining: boolean;
  /** Declared gone (silent past `cluster.goneAfter`): its servers were forgotten. */
  gone: boolean;
  load: HostLoad;
}

/** Hosts announce themselves with a heartbeat; a silent one is declared gone by any other. */
export interface HostStore {
  /**
   * Registers `id` (insert, or take over its row): a new epoch, `gone` false, `lastSeen` = `now`;
   * `draining` is kept from the row before. Returns the record.
   */
  registerHost(host: { id: string; relayUrl: string | null; load: HostLoad }, now: Date): Promise<HostRecord>;
  /**
   * Records that `id` at `epoch` is alive (`lastSeen` = `now`, its load). False, changing nothing, when
   * the row's epoch is another or it was declared gone: the caller was fenced and must register again.
   */
  heartbeat(id: string, epoch: number, load: HostLoad, now: Date): Promise<boolean>;
  getHost(id: string): Promise<HostRecord | null>;
  listHosts(): Promise<HostRecord[]>;
  /** Sets or clears `draining`; false if no such host. */
  setDraining(id: string, draining: boolean): Promise<boolean>;
  /**
   * Declares `id` gone if it is still at `epoch`, not gone, and silent since `staleBefore` (its
   * `lastSeen` <= it), in one transaction: marks it gone, deletes its server rows and releases their
   * leases (each lease's holder is `holderOf(server)`). Returns the servers forgotten, or null when the
   * host was not declared (it spoke meanwhile, registered again, or another replica declared it first).
   */
  declareHostGone(
    id: string,
    epoch: number,
    staleBefore: Date,
    holderOf: (server: ServerRecord) => string,
  ): Promise<ServerRecord[] | null>;
  /** Removes a gone host's row (`sifu host forget`); false if absent or not gone. */
  forgetHost(id: string): Promise<boolean>;
}

/** Values every replica must agree on, made once by whoever asks first (the relay key, the storage id). */
export interface SettingStore {
  /** The stored value of `key`; if there is none, stores `value` and returns it. Concurrent callers agree. */
  settingOrInit(key: string, value: string): Promise<string>;
}

/** A change another replica (or this one) made, pushed by the database (PostgreSQL `LISTEN/NOTIFY`). */
export type StoreChange =
  | { table: 'servers'; userName: string; serverName: string }
  | { table: 'hosts'; id: string };

/** The uid each user's server runs as, from a configured range: allocated once, the same on every host. */
export interface UidStore {
  /**
   * The uid of `userName`'s servers: the one allocated before (whatever the range is now), else the
   * lowest free one of `[base, base + count)`, recorded for good. Concurrent callers on any number of
   * handles or replicas get the same uid for one user and never one uid for two users. Null, recording
   * nothing, when the range has no uid left.
   */
  uidOf(userName: string, range: { base: number; count: number }): Promise<number | null>;
}

/** The audit log. */
export interface EventStore {
  addEvent(type: string, userName: string | null, data?: Record<string, unknown>): Promise<void>;
  /** Newest first; `beforeId`: only events older than that one (the next page of the audit log). */
  listEvents(options?: {
    userName?: string;
    type?: string;
    limit?: number;
    beforeId?: number;
  }): Promise<EventRecord[]>;
}

/** Every resource's store on one database, with the schema and the connection. */
export interface Store
  extends UserStore,
    GroupStore,
    IdentityStore,
    ServerStore,
    NamedServerStore,
    TokenStore,
    SessionStore,
    TicketStore,
    CourseNotebookStore,
    LeaseStore,
    UidStore,
    HostStore,
    SettingStore,
    EventStore {
  /** Creates or upgrades the schema. Idempotent; safe to call at every start. */
  migrate(): Promise<void>;
  /**
   * Pushes changes to `servers` and `hosts` rows made by any replica, as they commit (PostgreSQL: a
   * trigger's `NOTIFY` on a connection of its own, reconnected when it breaks; `onResubscribed` is called
   * after each reconnection, since changes in between were missed). Absent where the database cannot
   * push (SQLite): polling is the only way. Resolves once listening; the function returned stops it.
   */
  subscribe?(
    onChange: (change: StoreChange) => void,
    onResubscribed: () => void,
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
