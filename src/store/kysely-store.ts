/**
 * The `Store`, written once against kysely: the same queries run on SQLite and PostgreSQL. Only the
 * connection (`sqlite/`, `postgres/`) and a few lines of DDL (`migrations.ts`) differ between the two.
 */
import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { SifuError } from '../errors.js';
import { migrateToLatest, type SqlFlavour } from './migrations.js';
import {
  eventFromRow,
  serverFromRow,
  serverToRow,
  sessionFromRow,
  ticketFromRow,
  toDbJson,
  toDbTime,
  toDbTimeOrNull,
  tokenFromRow,
  userFromRow,
} from './rows.js';
import type { Database } from './schema.js';
import {
  courseNotebookColumns,
  courseNotebookFromRow,
  courseNotebookToRow,
  leaseFromRow,
} from './storage-rows.js';
import type {
  CourseNotebookRecord,
  EventRecord,
  LeaseRecord,
  Scope,
  ServerRecord,
  SessionRecord,
  Store,
  TicketRecord,
  TokenRecord,
  UserRecord,
} from './store.js';

const tokenColumns = [
  'id',
  'user_name',
  'scopes',
  'note',
  'created_at',
  'expires_at',
  'last_activity',
] as const;

const sessionColumns = ['user_name', 'created_at', 'expires_at', 'parent_hash'] as const;

/** SQLite (better-sqlite3) and PostgreSQL (pg) report a foreign key violation under different codes. */
function isForeignKeyViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503';
}

/** Runs an insert that references `userName`; a missing user becomes SIFU_ERR_USER_NOT_FOUND. */
async function forExistingUser<T>(userName: string, insert: () => Promise<T>): Promise<T> {
  try {
    return await insert();
  } catch (err) {
    if (isForeignKeyViolation(err)) {
      throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `No user named '${userName}'.`, { cause: err });
    }
    throw err;
  }
}

export class KyselyStore implements Store {
  readonly #db: Kysely<Database>;
  readonly #flavour: SqlFlavour;
  #closing: Promise<void> | undefined;

  constructor(db: Kysely<Database>, flavour: SqlFlavour) {
    this.#db = db;
    this.#flavour = flavour;
  }

  async migrate(): Promise<void> {
    await migrateToLatest(this.#db as Kysely<unknown>, this.#flavour);
  }

  /** Idempotent: a second call waits for the first. */
  close(): Promise<void> {
    this.#closing ??= this.#db.destroy();
    return this.#closing;
  }

  // users

  async createUser(name: string, options: { admin?: boolean } = {}): Promise<UserRecord> {
    const user: UserRecord = {
      name,
      admin: options.admin ?? false,
      createdAt: new Date(),
      lastActivity: null,
    };
    const result = await this.#db
      .insertInto('users')
      .values({ name, admin: user.admin ? 1 : 0, created_at: toDbTime(user.createdAt), last_activity: null })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (!result.numInsertedOrUpdatedRows) {
      throw new SifuError('SIFU_ERR_USER_EXISTS', `A user named '${name}' already exists.`);
    }
    return user;
  }

  async ensureUser(name: string): Promise<UserRecord> {
    await this.#db
      .insertInto('users')
      .values({ name, admin: 0, created_at: toDbTime(new Date()), last_activity: null })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const user = await this.getUser(name);
    // Only a concurrent deleteUser between the two statements gets here.
    if (!user) throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `No user named '${name}'.`);
    return user;
  }

  async getUser(name: string): Promise<UserRecord | null> {
    const row = await this.#db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? userFromRow(row) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    const rows = await this.#db.selectFrom('users').selectAll().orderBy('name').execute();
    return rows.map(userFromRow);
  }

  /** Throws SIFU_ERR_USER_NOT_FOUND if there is no such user. */
  async setAdmin(name: string, admin: boolean): Promise<void> {
    const result = await this.#db
      .updateTable('users')
      .set({ admin: admin ? 1 : 0 })
      .where('name', '=', name)
      .executeTakeFirst();
    if (!result.numUpdatedRows) throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `No user named '${name}'.`);
  }

  async deleteUser(name: string): Promise<boolean> {
    // servers, tokens and sessions go with the user: ON DELETE CASCADE.
    const result = await this.#db.deleteFrom('users').where('name', '=', name).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async touchUser(name: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('users')
      .set({ last_activity: toDbTime(at) })
      .where('name', '=', name)
      .execute();
  }

  // servers

  async getServer(userName: string, serverName: string): Promise<ServerRecord | null> {
    const row = await this.#db
      .selectFrom('servers')
      .selectAll()
      .where('user_name', '=', userName)
      .where('name', '=', serverName)
      .executeTakeFirst();
    return row ? serverFromRow(row) : null;
  }

  async listServers(): Promise<ServerRecord[]> {
    const rows = await this.#db
      .selectFrom('servers')
      .selectAll()
      .orderBy('user_name')
      .orderBy('name')
      .execute();
    return rows.map(serverFromRow);
  }

  /** Throws SIFU_ERR_USER_NOT_FOUND if the user does not exist. */
  async claimServer(record: ServerRecord): Promise<boolean> {
    // One statement, so the database decides the race: every loser's INSERT inserts nothing.
    const result = await forExistingUser(record.userName, () =>
      this.#db
        .insertInto('servers')
        .values(serverToRow(record))
        .onConflict((oc) => oc.columns(['user_name', 'name']).doNothing())
        .executeTakeFirst(),
    );
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  /** A no-op if the row is gone (deleted meanwhile): an update never resurrects a server. */
  async updateServer(record: ServerRecord): Promise<void> {
    const row = serverToRow(record);
    await this.#db
      .updateTable('servers')
      .set({ state: row.state, url: row.url, status: row.status, last_activity: row.last_activity })
      .where('user_name', '=', record.userName)
      .where('name', '=', record.name)
      .execute();
  }

  async touchServer(userName: string, serverName: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('servers')
      .set({ last_activity: toDbTime(at) })
      .where('user_name', '=', userName)
      .where('name', '=', serverName)
      .execute();
  }

  async deleteServer(userName: string, serverName: string): Promise<void> {
    await this.#db
      .deleteFrom('servers')
      .where('user_name', '=', userName)
      .where('name', '=', serverName)
      .execute();
  }

  // tokens

  /** Throws SIFU_ERR_USER_NOT_FOUND if the user does not exist. */
  async createToken(input: {
    userName: string;
    hash: string;
    scopes: Scope[];
    note?: string;
    expiresAt?: Date | null;
  }): Promise<TokenRecord> {
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

  // sessions

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

  // one-time tickets

  async createTicket(hash: string, ticket: TicketRecord): Promise<void> {
    await this.#db
      .insertInto('tickets')
      .values({
        hash,
        kind: ticket.kind,
        user_name: ticket.userName,
        data: toDbJson(ticket.data),
        expires_at: toDbTime(ticket.expiresAt),
      })
      .execute();
  }

  async consumeTicket(hash: string, kind: string, now: Date): Promise<TicketRecord | null> {
    // DELETE ... RETURNING is one statement on both databases: the single-use guarantee.
    const row = await this.#db
      .deleteFrom('tickets')
      .where('hash', '=', hash)
      .where('kind', '=', kind)
      .returningAll()
      .executeTakeFirst();
    if (!row) return null;
    const ticket = ticketFromRow(row);
    return ticket.expiresAt.getTime() > now.getTime() ? ticket : null;
  }

  async deleteExpiredTickets(now: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('tickets')
      .where('expires_at', '<=', toDbTime(now))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // course notebooks

  async putCourseNotebook(record: CourseNotebookRecord, content: string): Promise<boolean> {
    const row = courseNotebookToRow(record, content);
    // One statement: the replace happens only while the name still belongs to the same unit.
    const result = await this.#db
      .insertInto('course_notebooks')
      .values(row)
      .onConflict((oc) =>
        oc
          .columns(['course_id', 'name'])
          .doUpdateSet({
            source: row.source,
            content: row.content,
            sha256: row.sha256,
            size: row.size,
            updated_at: row.updated_at,
            updated_by: row.updated_by,
          })
          .where('course_notebooks.unit_id', '=', row.unit_id),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async getCourseNotebook(courseId: string, name: string): Promise<CourseNotebookRecord | null> {
    const row = await this.#db
      .selectFrom('course_notebooks')
      .select(courseNotebookColumns)
      .where('course_id', '=', courseId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? courseNotebookFromRow(row) : null;
  }

  async getCourseNotebookContent(courseId: string, name: string): Promise<string | null> {
    const row = await this.#db
      .selectFrom('course_notebooks')
      .select('content')
      .where('course_id', '=', courseId)
      .where('name', '=', name)
      .executeTakeFirst();
    return row ? row.content : null;
  }

  async listCourseNotebooks(courseId?: string): Promise<CourseNotebookRecord[]> {
    let query = this.#db
      .selectFrom('course_notebooks')
      .select(courseNotebookColumns)
      .orderBy('course_id')
      .orderBy('name');
    if (courseId !== undefined) query = query.where('course_id', '=', courseId);
    return (await query.execute()).map(courseNotebookFromRow);
  }

  async deleteCourseNotebook(courseId: string, name: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('course_notebooks')
      .where('course_id', '=', courseId)
      .where('name', '=', name)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  // leases

  async acquireLease(userName: string, holder: string, now: Date, expiresAt: Date): Promise<boolean> {
    const nowText = toDbTime(now);
    const until = toDbTime(expiresAt);
    // Insert, or take over an expired lease (or extend our own), in one statement: the database decides
    // the race, on SQLite and PostgreSQL alike (INSERT ... ON CONFLICT DO UPDATE ... WHERE).
    const result = await this.#db
      .insertInto('leases')
      .values({ user_name: userName, holder, acquired_at: nowText, expires_at: until })
      .onConflict((oc) =>
        oc
          .column('user_name')
          .doUpdateSet({
            holder,
            acquired_at: sql<string>`case when leases.holder = excluded.holder then leases.acquired_at else excluded.acquired_at end`,
            expires_at: until,
          })
          .where((eb) => eb.or([eb('leases.expires_at', '<=', nowText), eb('leases.holder', '=', holder)])),
      )
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async renewLease(userName: string, holder: string, expiresAt: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('leases')
      .set({ expires_at: toDbTime(expiresAt) })
      .where('user_name', '=', userName)
      .where('holder', '=', holder)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async releaseLease(userName: string, holder: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('leases')
      .where('user_name', '=', userName)
      .where('holder', '=', holder)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async getLease(userName: string): Promise<LeaseRecord | null> {
    const row = await this.#db
      .selectFrom('leases')
      .selectAll()
      .where('user_name', '=', userName)
      .executeTakeFirst();
    return row ? leaseFromRow(row) : null;
  }

  // events

  async addEvent(type: string, userName: string | null, data: Record<string, unknown> = {}): Promise<void> {
    await this.#db
      .insertInto('events')
      .values({ at: toDbTime(new Date()), type, user_name: userName, data: toDbJson(data) })
      .execute();
  }

  /** Newest first. */
  async listEvents(
    options: { userName?: string; type?: string; limit?: number } = {},
  ): Promise<EventRecord[]> {
    let query = this.#db.selectFrom('events').selectAll().orderBy('id', 'desc');
    if (options.userName !== undefined) query = query.where('user_name', '=', options.userName);
    if (options.type !== undefined) query = query.where('type', '=', options.type);
    if (options.limit !== undefined) query = query.limit(options.limit);
    const rows = await query.execute();
    return rows.map(eventFromRow);
  }
}
