/**
 * The schema's history, as code: one entry per migration, applied in name order by kysely's `Migrator`,
 * each exactly once per database (kysely records them in `kysely_migration`). Never edit a migration that
 * has shipped; add the next one (`0002_...`) instead.
 *
 * Migrations are written against `Kysely<unknown>`, not the current `Tables` type, on purpose: they
 * must keep compiling and meaning the same thing after later migrations change the tables.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';
import { SifuError } from '../errors.js';

/** The few places where the two databases need different DDL. */
export type SqlFlavour = 'sqlite' | 'postgres';

function initialSchema(flavour: SqlFlavour): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('name', 'text', (col) => col.primaryKey())
        .addColumn('admin', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (col) => col.notNull())
        .addColumn('last_activity', 'text')
        .execute();

      await db.schema
        .createTable('servers')
        .addColumn('user_name', 'text', (col) => col.notNull().references('users.name').onDelete('cascade'))
        .addColumn('name', 'text', (col) => col.notNull())
        .addColumn('backend', 'text', (col) => col.notNull())
        .addColumn('state', 'text', (col) => col.notNull())
        .addColumn('url', 'text')
        .addColumn('secret', 'text', (col) => col.notNull())
        .addColumn('status', 'text', (col) => col.notNull().check(sql`status in ('pending', 'running')`))
        .addColumn('started_at', 'text', (col) => col.notNull())
        .addColumn('last_activity', 'text')
        .addPrimaryKeyConstraint('servers_pk', ['user_name', 'name'])
        .execute();

      await db.schema
        .createTable('tokens')
        .addColumn('id', 'text', (col) => col.primaryKey())
        .addColumn('user_name', 'text', (col) => col.notNull().references('users.name').onDelete('cascade'))
        .addColumn('hash', 'text', (col) => col.notNull().unique())
        .addColumn('scopes', 'text', (col) => col.notNull())
        .addColumn('note', 'text', (col) => col.notNull().defaultTo(''))
        .addColumn('created_at', 'text', (col) => col.notNull())
        .addColumn('expires_at', 'text')
        .addColumn('last_activity', 'text')
        .execute();
      await db.schema.createIndex('tokens_user_name').on('tokens').column('user_name').execute();

      await db.schema
        .createTable('sessions')
        .addColumn('hash', 'text', (col) => col.primaryKey())
        .addColumn('user_name', 'text', (col) => col.notNull().references('users.name').onDelete('cascade'))
        .addColumn('created_at', 'text', (col) => col.notNull())
        .addColumn('expires_at', 'text', (col) => col.notNull())
        .addColumn('parent_hash', 'text')
        .execute();
      await db.schema.createIndex('sessions_user_name').on('sessions').column('user_name').execute();
      await db.schema.createIndex('sessions_parent_hash').on('sessions').column('parent_hash').execute();
      await db.schema.createIndex('sessions_expires_at').on('sessions').column('expires_at').execute();

      // No foreign key on user_name: the audit log outlives the users it mentions.
      await db.schema
        .createTable('events')
        .addColumn('id', flavour === 'postgres' ? 'bigint' : 'integer', (col) =>
          flavour === 'postgres'
            ? col.primaryKey().generatedByDefaultAsIdentity()
            : col.primaryKey().autoIncrement(),
        )
        .addColumn('at', 'text', (col) => col.notNull())
        .addColumn('type', 'text', (col) => col.notNull())
        .addColumn('user_name', 'text')
        .addColumn('data', 'text', (col) => col.notNull())
        .execute();
      await db.schema.createIndex('events_user_name').on('events').columns(['user_name', 'id']).execute();
      await db.schema.createIndex('events_type').on('events').columns(['type', 'id']).execute();
    },
  };
}

/** One-time tickets (launch URLs, LTI state and nonces): no foreign key, a ticket may name a future user. */
const ticketsSchema: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('tickets')
      .addColumn('hash', 'text', (col) => col.primaryKey())
      .addColumn('kind', 'text', (col) => col.notNull())
      .addColumn('user_name', 'text')
      .addColumn('data', 'text', (col) => col.notNull())
      .addColumn('expires_at', 'text', (col) => col.notNull())
      .execute();
    await db.schema.createIndex('tickets_expires_at').on('tickets').column('expires_at').execute();
  },
};

/** Course notebooks and the single-writer lease on homes (src/storage, src/courses). */
function storageSchema(): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('course_notebooks')
        .addColumn('course_id', 'text', (col) => col.notNull())
        .addColumn('name', 'text', (col) => col.notNull())
        .addColumn('unit_id', 'text', (col) => col.notNull().defaultTo(''))
        .addColumn('source', 'text', (col) => col.notNull())
        .addColumn('content', 'text', (col) => col.notNull())
        .addColumn('sha256', 'text', (col) => col.notNull())
        .addColumn('size', 'integer', (col) => col.notNull())
        .addColumn('updated_at', 'text', (col) => col.notNull())
        .addColumn('updated_by', 'text')
        .addPrimaryKeyConstraint('course_notebooks_pk', ['course_id', 'name'])
        .execute();

      await db.schema
        .createTable('leases')
        .addColumn('user_name', 'text', (col) => col.primaryKey())
        .addColumn('holder', 'text', (col) => col.notNull())
        .addColumn('acquired_at', 'text', (col) => col.notNull())
        .addColumn('expires_at', 'text', (col) => col.notNull())
        .execute();
    },
  };
}

/**
 * Platform identities (LTI, OpenID Connect, Open edX), each linked to the user it signs in as: users from
 * platforms are keyed by `(issuer, subject)`, never by a name the platform claims.
 */
const identitiesSchema: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('identities')
      .addColumn('issuer', 'text', (col) => col.notNull())
      .addColumn('subject', 'text', (col) => col.notNull())
      .addColumn('user_name', 'text', (col) => col.notNull().references('users.name').onDelete('cascade'))
      .addColumn('created_at', 'text', (col) => col.notNull())
      .addPrimaryKeyConstraint('identities_pk', ['issuer', 'subject'])
      .execute();
    await db.schema.createIndex('identities_user_name').on('identities').column('user_name').execute();
  },
};

/**
 * The uid each user's server runs as (the local backend's sandbox), allocated once and kept: homes on
 * shared storage are owned by it on every host. No foreign key: a uid is never handed to another user,
 * even after its user is deleted, since files owned by it may remain.
 */
const userUidsSchema: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('user_uids')
      .addColumn('user_name', 'text', (col) => col.primaryKey())
      .addColumn('uid', 'integer', (col) => col.notNull().unique())
      .addColumn('created_at', 'text', (col) => col.notNull())
      .execute();
  },
};

/**
 * Several hosts (`cluster`): each server row names the host that started it; `hosts` holds each host's
 * heartbeat, epoch and load; `settings` holds values every replica must agree on (made once). On
 * PostgreSQL, triggers on `servers` and `hosts` NOTIFY `sifu_changes` with the changed row's key, so
 * replicas hear of changes as they commit instead of at their next poll.
 */
function hostsSchema(flavour: SqlFlavour): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('servers').addColumn('host', 'text').execute();

      await db.schema
        .createTable('hosts')
        .addColumn('id', 'text', (col) => col.primaryKey())
        .addColumn('relay_url', 'text')
        .addColumn('epoch', 'integer', (col) => col.notNull())
        .addColumn('started_at', 'text', (col) => col.notNull())
        .addColumn('last_seen', 'text', (col) => col.notNull())
        .addColumn('draining', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('gone', 'integer', (col) => col.notNull().defaultTo(0))
        .addColumn('load', 'text', (col) => col.notNull())
        .execute();

      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (col) => col.primaryKey())
        .addColumn('value', 'text', (col) => col.notNull())
        .addColumn('created_at', 'text', (col) => col.notNull())
        .execute();

      if (flavour !== 'postgres') return;
      // One function for both tables: the payload is the changed row's key (the OLD row for a delete),
      // small enough for NOTIFY's 8000-byte limit whatever the row holds.
      await sql`
        create function sifu_notify_change() returns trigger language plpgsql as $$
        declare
          changed record;
        begin
          if tg_op = 'DELETE' then changed := old; else changed := new; end if;
          if tg_table_name = 'servers' then
            perform pg_notify('sifu_changes',
              json_build_object('t', 'servers', 'u', changed.user_name, 's', changed.name)::text);
          else
            perform pg_notify('sifu_changes', json_build_object('t', 'hosts', 'id', changed.id)::text);
          end if;
          return null;
        end;
        $$`.execute(db);
      for (const table of ['servers', 'hosts']) {
        await sql`
          create trigger ${sql.raw(`${table}_notify_change`)}
          after insert or update or delete on ${sql.table(table)}
          for each row execute function sifu_notify_change()`.execute(db);
      }
    },
  };
}

/**
 * Groups (JupyterHub's, with `properties`) and their members, who go with their user or their group; and
 * the `user_options` a server was started with (JupyterHub's model reports them back).
 */
const groupsSchema: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('groups')
      .addColumn('name', 'text', (col) => col.primaryKey())
      .addColumn('properties', 'text', (col) => col.notNull().defaultTo('{}'))
      .addColumn('created_at', 'text', (col) => col.notNull())
      .execute();
    await db.schema
      .createTable('group_members')
      .addColumn('group_name', 'text', (col) => col.notNull().references('groups.name').onDelete('cascade'))
      .addColumn('user_name', 'text', (col) => col.notNull().references('users.name').onDelete('cascade'))
      .addPrimaryKeyConstraint('group_members_pk', ['group_name', 'user_name'])
      .execute();
    await db.schema.createIndex('group_members_user_name').on('group_members').column('user_name').execute();
    await db.schema
      .alterTable('servers')
      .addColumn('user_options', 'text', (col) => col.notNull().defaultTo('{}'))
      .execute();
  },
};

/**
 * Named servers a user made (JupyterHub's `allow_named_servers`): a named server exists from its first
 * start until it is removed (`DELETE .../servers/<name>` with `remove: true`), stopped in between, with
 * the `user_options` of its last start. The running ones are also in `servers`.
 */
const namedServersSchema: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('named_servers')
      .addColumn('user_name', 'text', (col) => col.notNull().references('users.name').onDelete('cascade'))
      .addColumn('name', 'text', (col) => col.notNull())
      .addColumn('user_options', 'text', (col) => col.notNull().defaultTo('{}'))
      .addColumn('created_at', 'text', (col) => col.notNull())
      .addColumn('last_activity', 'text')
      .addPrimaryKeyConstraint('named_servers_pk', ['user_name', 'name'])
      .execute();
  },
};

export function migrationProvider(flavour: SqlFlavour): MigrationProvider {
  return {
    async getMigrations() {
      return {
        '0001_initial': initialSchema(flavour),
        '0002_storage': storageSchema(),
        '0003_tickets': ticketsSchema,
        '0004_identities': identitiesSchema,
        '0005_user_uids': userUidsSchema,
        '0006_hosts': hostsSchema(flavour),
        '0007_groups': groupsSchema,
        '0008_named_servers': namedServersSchema,
      };
    },
  };
}

/**
 * Applies every pending migration. Concurrent callers (several Sifu processes starting at once) are
 * serialised by the migrator's lock: an advisory lock on PostgreSQL, the database write lock on SQLite
 * (see `sqlite/immediate-dialect.ts`); whoever comes second finds nothing left to do.
 */
export async function migrateToLatest(db: Kysely<unknown>, flavour: SqlFlavour): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(flavour) });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? '(before any migration)';
    const reason = error instanceof Error ? error.message : String(error);
    throw new SifuError('SIFU_ERR_INTERNAL', 'The database schema could not be brought up to date.', {
      logDetail: `store migration ${failed} failed: ${reason}`,
      cause: error,
    });
  }
}
