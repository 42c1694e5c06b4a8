/**
 * The `identities` table: `(issuer, subject)` -> user. A link is made only together with a new user, or
 * to an existing user that is neither an admin nor anyone else's, so that no claim reaches an account.
 */
import { type Kysely, sql } from 'kysely';
import { identityFromRow, toDbTime } from '../rows.js';
import type { IdentityRecord, IdentityStore } from '../store.js';
import type { Tables } from '../tables.js';

/** Thrown inside the transaction to roll the new user back when a concurrent sign-in linked first. */
class LinkedMeanwhile extends Error {}

export class KyselyIdentities implements IdentityStore {
  readonly #db: Kysely<Tables>;

  constructor(db: Kysely<Tables>) {
    this.#db = db;
  }

  async getIdentity(issuer: string, subject: string): Promise<IdentityRecord | null> {
    const row = await this.#db
      .selectFrom('identities')
      .selectAll()
      .where('issuer', '=', issuer)
      .where('subject', '=', subject)
      .executeTakeFirst();
    return row ? identityFromRow(row) : null;
  }

  async listIdentities(userName: string): Promise<IdentityRecord[]> {
    const rows = await this.#db
      .selectFrom('identities')
      .selectAll()
      .where('user_name', '=', userName)
      .orderBy('created_at')
      .orderBy('issuer')
      .orderBy('subject')
      .execute();
    return rows.map(identityFromRow);
  }

  async createLinkedUser(
    issuer: string,
    subject: string,
    userName: string,
  ): Promise<{ identity: IdentityRecord; created: boolean } | null> {
    const createdAt = new Date();
    const at = toDbTime(createdAt);
    let created: boolean;
    try {
      created = await this.#db.transaction().execute(async (trx) => {
        const user = await trx
          .insertInto('users')
          .values({ name: userName, admin: 0, created_at: at, last_activity: null })
          .onConflict((oc) => oc.column('name').doNothing())
          .executeTakeFirst();
        if (!user.numInsertedOrUpdatedRows) return false;
        const link = await trx
          .insertInto('identities')
          .values({ issuer, subject, user_name: userName, created_at: at })
          .onConflict((oc) => oc.columns(['issuer', 'subject']).doNothing())
          .executeTakeFirst();
        if (!link.numInsertedOrUpdatedRows) throw new LinkedMeanwhile();
        return true;
      });
    } catch (err) {
      if (!(err instanceof LinkedMeanwhile)) throw err;
      created = false;
    }
    if (created) return { identity: { issuer, subject, userName, createdAt }, created };
    // The name was taken, or the identity linked meanwhile: which one, the link tells.
    const identity = await this.getIdentity(issuer, subject);
    return identity ? { identity, created: false } : null;
  }

  async linkExistingUser(issuer: string, subject: string, userName: string): Promise<IdentityRecord | null> {
    // One INSERT ... SELECT: the user's row and the absence of other links are read by the same statement.
    const text = (value: string) => sql<string>`cast(${value} as text)`;
    await this.#db
      .insertInto('identities')
      .columns(['issuer', 'subject', 'user_name', 'created_at'])
      .expression((eb) =>
        eb
          .selectFrom('users')
          .select([
            text(issuer).as('issuer'),
            text(subject).as('subject'),
            'users.name',
            text(toDbTime(new Date())).as('created_at'),
          ])
          .where('users.name', '=', userName)
          .where('users.admin', '=', 0)
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(selectFrom('identities').select('identities.issuer').where('user_name', '=', userName)),
            ),
          ),
      )
      .onConflict((oc) => oc.columns(['issuer', 'subject']).doNothing())
      .execute();
    return this.getIdentity(issuer, subject);
  }
}
