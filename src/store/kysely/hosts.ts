/**
 * The `hosts` table: each host's registration (a fencing epoch), heartbeat and load. Every change is one
 * conditional statement, so the database decides races between hosts; declaring a host gone is one
 * transaction that also forgets its servers and releases their leases.
 */
import { type Kysely, sql } from 'kysely';
import { hostFromRow, loadToDb, serverFromRow, toDbTime } from '../rows.js';
import type { HostLoad, HostRecord, HostStore, ServerRecord } from '../store.js';
import type { Tables } from '../tables.js';

export class KyselyHosts implements HostStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async registerHost(
    host: { id: string; relayUrl: string | null; load: HostLoad },
    now: Date,
  ): Promise<HostRecord> {
    const nowText = toDbTime(now);
    const load = loadToDb(host.load);
    // Insert, or take the row over with the next epoch, in one statement: two registrations of one id
    // never get the same epoch. `draining` is left as the operator set it.
    const row = await this.#db
      .insertInto('hosts')
      .values({
        id: host.id,
        relay_url: host.relayUrl,
        epoch: 1,
        started_at: nowText,
        last_seen: nowText,
        draining: 0,
        gone: 0,
        load,
      })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({
          relay_url: host.relayUrl,
          epoch: sql<number>`hosts.epoch + 1`,
          started_at: nowText,
          last_seen: nowText,
          gone: 0,
          load,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return hostFromRow(row);
  }

  async heartbeat(id: string, epoch: number, load: HostLoad, now: Date): Promise<boolean> {
    const result = await this.#db
      .updateTable('hosts')
      .set({ last_seen: toDbTime(now), load: loadToDb(load) })
      .where('id', '=', id)
      .where('epoch', '=', epoch)
      .where('gone', '=', 0)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async getHost(id: string): Promise<HostRecord | null> {
    const row = await this.#db.selectFrom('hosts').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? hostFromRow(row) : null;
  }

  async listHosts(): Promise<HostRecord[]> {
    const rows = await this.#db.selectFrom('hosts').selectAll().orderBy('id').execute();
    return rows.map(hostFromRow);
  }

  async setDraining(id: string, draining: boolean): Promise<boolean> {
    const result = await this.#db
      .updateTable('hosts')
      .set({ draining: draining ? 1 : 0 })
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async declareHostGone(
    id: string,
    epoch: number,
    staleBefore: Date,
    holderOf: (server: ServerRecord) => string,
  ): Promise<ServerRecord[] | null> {
    return this.#db.transaction().execute(async (trx) => {
      // The conditional update decides between declarers (and against a late heartbeat): PostgreSQL makes
      // a second declarer wait on the row and then find it gone; SQLite's BEGIN IMMEDIATE serialises them.
      const marked = await trx
        .updateTable('hosts')
        .set({ gone: 1 })
        .where('id', '=', id)
        .where('epoch', '=', epoch)
        .where('gone', '=', 0)
        .where('last_seen', '<=', toDbTime(staleBefore))
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) === 0) return null;
      // DELETE ... RETURNING: exactly the rows deleted are returned, even one claimed a moment ago.
      const rows = await trx.deleteFrom('servers').where('host', '=', id).returningAll().execute();
      const servers = rows.map(serverFromRow);
      for (const server of servers) {
        await trx
          .deleteFrom('leases')
          .where('user_name', '=', server.userName)
          .where('holder', '=', holderOf(server))
          .execute();
      }
      return servers.sort((a, b) => compare(a.userName, b.userName) || compare(a.name, b.name));
    });
  }

  async forgetHost(id: string): Promise<boolean> {
    const result = await this.#db
      .deleteFrom('hosts')
      .where('id', '=', id)
      .where('gone', '=', 1)
      .executeTakeFirst();
    return result.numDeletedRows > 0n;
  }
}

/** Code-unit order: the same on every database, whatever its collation. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
