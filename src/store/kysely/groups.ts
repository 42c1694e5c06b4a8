/**
 * The `groups` and `group_members` tables. Memberships reference both the group and the user, so a
 * deleted user leaves every group and a deleted group frees its members (ON DELETE CASCADE).
 */
import type { Kysely, Transaction } from 'kysely';
import { SifuError } from '../../errors.js';
import { groupFromRow, toDbJson, toDbTime } from '../rows.js';
import type { GroupRecord, GroupStore } from '../store.js';
import type { Tables } from '../tables.js';
import { forExistingUser } from './for-existing-user.js';

type Db = Kysely<Tables> | Transaction<Tables>;

export class KyselyGroups implements GroupStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async createGroup(
    name: string,
    options: { users?: string[]; properties?: Record<string, unknown> } = {},
  ): Promise<GroupRecord> {
    await this.#db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('groups')
        .values({ name, properties: toDbJson(options.properties ?? {}), created_at: toDbTime(new Date()) })
        .onConflict((oc) => oc.column('name').doNothing())
        .executeTakeFirst();
      if (!inserted.numInsertedOrUpdatedRows) {
        throw new SifuError('SIFU_ERR_GROUP_EXISTS', `A group named '${name}' already exists.`);
      }
      await insertMembers(trx, name, options.users ?? []);
    });
    return this.#mustGet(this.#db, name);
  }

  getGroup(name: string): Promise<GroupRecord | null> {
    return readGroup(this.#db, name);
  }

  async listGroups(options: { userName?: string } = {}): Promise<GroupRecord[]> {
    let groups = this.#db.selectFrom('groups').selectAll().orderBy('name');
    if (options.userName !== undefined) {
      const userName = options.userName;
      groups = groups.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('group_members')
            .select('group_members.user_name')
            .whereRef('group_members.group_name', '=', 'groups.name')
            .where('group_members.user_name', '=', userName),
        ),
      );
    }
    const rows = await groups.execute();
    if (rows.length === 0) return [];
    const members = await this.#db
      .selectFrom('group_members')
      .select(['group_name', 'user_name'])
      .where(
        'group_name',
        'in',
        rows.map((r) => r.name),
      )
      .orderBy('group_name')
      .orderBy('user_name')
      .execute();
    const byGroup = new Map<string, string[]>();
    for (const m of members) {
      const list = byGroup.get(m.group_name) ?? [];
      list.push(m.user_name);
      byGroup.set(m.group_name, list);
    }
    return rows.map((row) => groupFromRow(row, byGroup.get(row.name) ?? []));
  }

  async deleteGroup(name: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('groups').where('name', '=', name).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async addGroupMembers(name: string, users: string[]): Promise<GroupRecord> {
    return this.#db.transaction().execute(async (trx) => {
      await this.#mustGet(trx, name);
      await insertMembers(trx, name, users);
      return this.#mustGet(trx, name);
    });
  }

  async removeGroupMembers(name: string, users: string[]): Promise<GroupRecord> {
    await this.#mustGet(this.#db, name);
    if (users.length > 0) {
      await this.#db
        .deleteFrom('group_members')
        .where('group_name', '=', name)
        .where('user_name', 'in', users)
        .execute();
    }
    return this.#mustGet(this.#db, name);
  }

  async setGroupProperties(name: string, properties: Record<string, unknown>): Promise<GroupRecord> {
    const result = await this.#db
      .updateTable('groups')
      .set({ properties: toDbJson(properties) })
      .where('name', '=', name)
      .executeTakeFirst();
    if (!result.numUpdatedRows) throw groupNotFound(name);
    return this.#mustGet(this.#db, name);
  }

  async #mustGet(db: Db, name: string): Promise<GroupRecord> {
    const group = await readGroup(db, name);
    if (!group) throw groupNotFound(name);
    return group;
  }
}

function groupNotFound(name: string): SifuError {
  return new SifuError('SIFU_ERR_GROUP_NOT_FOUND', `No group named '${name}'.`);
}

async function readGroup(db: Db, name: string): Promise<GroupRecord | null> {
  const row = await db.selectFrom('groups').selectAll().where('name', '=', name).executeTakeFirst();
  if (!row) return null;
  const members = await db
    .selectFrom('group_members')
    .select('user_name')
    .where('group_name', '=', name)
    .orderBy('user_name')
    .execute();
  return groupFromRow(
    row,
    members.map((m) => m.user_name),
  );
}

/**
 * Inserts memberships, checking every user first so that a missing one adds none (the caller's
 * transaction rolls back). The check, not the foreign key, names the user: PostgreSQL and SQLite report
 * a violation differently, and neither says which row.
 */
async function insertMembers(trx: Transaction<Tables>, group: string, users: string[]): Promise<void> {
  const unique = [...new Set(users)];
  if (unique.length === 0) return;
  const found = await trx.selectFrom('users').select('name').where('name', 'in', unique).execute();
  const known = new Set(found.map((r) => r.name));
  const missing = unique.find((u) => !known.has(u));
  if (missing !== undefined) throw new SifuError('SIFU_ERR_USER_NOT_FOUND', `No user named '${missing}'.`);
  // A user deleted meanwhile still trips the foreign key: that, too, is a missing user.
  await forExistingUser(missing ?? unique[0] ?? '', () =>
    trx
      .insertInto('group_members')
      .values(unique.map((user_name) => ({ group_name: group, user_name })))
      .onConflict((oc) => oc.columns(['group_name', 'user_name']).doNothing())
      .execute(),
  );
}
