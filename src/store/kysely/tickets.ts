/** The `tickets` table: one-time tickets, taken by a single DELETE ... RETURNING. */
import type { Kysely } from 'kysely';
import { ticketFromRow, toDbJson, toDbTime } from '../rows.js';
import type { TicketRecord, TicketStore } from '../store.js';
import type { Tables } from '../tables.js';

export class KyselyTickets implements TicketStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

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
}
