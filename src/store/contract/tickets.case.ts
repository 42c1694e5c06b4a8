/** Store contract cases for one-time tickets (`TicketStore`). Part of `storeContract`. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ContractContext } from './harness.case.js';

export function ticketCases(ctx: ContractContext): void {
  describe('tickets', () => {
    const soon = () => new Date(Date.now() + 60_000);
    test('a ticket is taken once, by its own kind only, with its data', async () => {
      const store = ctx.store();
      await store.createTicket('t1', {
        kind: 'launch',
        userName: 'ada',
        data: { unit: 'u1' },
        expiresAt: soon(),
      });
      assert.equal(
        await store.consumeTicket('t1', 'lti-state', new Date()),
        null,
        'another kind never takes it',
      );
      const taken = await store.consumeTicket('t1', 'launch', new Date());
      assert.equal(taken?.userName, 'ada');
      assert.deepEqual(taken?.data, { unit: 'u1' });
      assert.ok(taken?.expiresAt instanceof Date);
      assert.equal(await store.consumeTicket('t1', 'launch', new Date()), null, 'single use');
      assert.equal(await store.consumeTicket('unknown', 'launch', new Date()), null);
    });

    test('an expired ticket is never returned', async () => {
      const store = ctx.store();
      await store.createTicket('old', {
        kind: 'launch',
        userName: null,
        data: {},
        expiresAt: new Date(Date.now() - 1),
      });
      assert.equal(await store.consumeTicket('old', 'launch', new Date()), null);
    });

    test('concurrent takers: exactly one wins', async () => {
      const store = ctx.store();
      await store.createTicket('race', { kind: 'launch', userName: 'ada', data: {}, expiresAt: soon() });
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.consumeTicket('race', 'launch', new Date())),
      );
      assert.equal(results.filter((r) => r !== null).length, 1);
    });

    test('deleteExpiredTickets removes expired ones and counts them', async () => {
      const store = ctx.store();
      await store.createTicket('a', {
        kind: 'k',
        userName: null,
        data: {},
        expiresAt: new Date(Date.now() - 10),
      });
      await store.createTicket('b', { kind: 'k', userName: null, data: {}, expiresAt: soon() });
      assert.equal(await store.deleteExpiredTickets(new Date()), 1);
      assert.ok(await store.consumeTicket('b', 'k', new Date()));
    });
  });
}
