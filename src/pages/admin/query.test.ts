import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSifuError } from '../../errors.js';
import type { ServerRecord } from '../../store/store.js';
import { pageOfUsers, parseEventsQuery, parseUsersQuery, type UserRow, usersQueryString } from './query.js';

const day = (n: number) => new Date(Date.UTC(2026, 0, n));
const server = (userName: string): ServerRecord => ({
  userName,
  name: '',
  backend: 'local',
  state: {},
  url: null,
  secret: 's',
  status: 'running',
  startedAt: day(1),
  lastActivity: null,
  host: null,
});
const row = (name: string, created: number, active: number | null, state?: 'ready' | 'pending'): UserRow => ({
  user: { name, admin: false, createdAt: day(created), lastActivity: active === null ? null : day(active) },
  servers: state ? [{ record: server(name), state }] : [],
});
const rows = [row('cy', 1, 5, 'ready'), row('ada', 3, null), row('bob', 2, 9, 'pending'), row('abe', 4, 7)];
const names = (q: Record<string, unknown>, perPage?: number) =>
  pageOfUsers(rows, parseUsersQuery(q), perPage).rows.map((r) => r.user.name);

const badRequest = (fn: () => unknown, parameter: string) =>
  assert.throws(
    fn,
    (err) => isSifuError(err) && err.code === 'SIFU_ERR_BAD_REQUEST' && err.message.includes(parameter),
  );

describe('admin users query', () => {
  const cases: Array<[Record<string, unknown>, string[]]> = [
    [{}, ['abe', 'ada', 'bob', 'cy']],
    [{ order: 'desc' }, ['cy', 'bob', 'ada', 'abe']],
    [{ q: 'A' }, ['abe', 'ada']],
    [{ q: '  b ' }, ['abe', 'bob']],
    // Newest activity first; never active last in either order.
    [{ sort: 'last_activity' }, ['bob', 'abe', 'cy', 'ada']],
    [{ sort: 'last_activity', order: 'asc' }, ['cy', 'abe', 'bob', 'ada']],
    [{ sort: 'created' }, ['abe', 'ada', 'bob', 'cy']],
    [{ state: 'ready' }, ['cy']],
    [{ state: 'pending' }, ['bob']],
    [{ state: 'stopped' }, ['abe', 'ada']],
  ];
  for (const [query, expected] of cases) {
    it(`${JSON.stringify(query)} lists ${expected.join(', ')}`, () =>
      assert.deepEqual(names(query), expected));
  }

  it('pages, clamping page numbers to what exists', () => {
    assert.deepEqual(names({ page: '2' }, 3), ['cy']);
    for (const page of ['0', '-1', 'x', '1.5', '99999999999'])
      assert.deepEqual(names({ page }, 3), ['abe', 'ada', 'bob']);
    const last = pageOfUsers(rows, parseUsersQuery({ page: '40' }), 3);
    assert.deepEqual([last.page, last.pages, last.total], [2, 2, 4]);
    const none = pageOfUsers([], parseUsersQuery({ page: '3' }));
    assert.deepEqual([none.page, none.pages, none.total], [1, 1, 0]);
  });

  it('refuses unknown sort keys, orders, states, repeated and overlong parameters with the parameter named', () => {
    badRequest(() => parseUsersQuery({ sort: 'password' }), "'sort'");
    badRequest(() => parseUsersQuery({ order: 'up' }), "'order'");
    badRequest(() => parseUsersQuery({ state: 'running' }), "'state'");
    badRequest(() => parseUsersQuery({ q: ['a', 'b'] }), "'q'");
    badRequest(() => parseUsersQuery({ q: 'x'.repeat(65) }), "'q'");
  });

  it('writes back only what differs from the defaults', () => {
    const q = parseUsersQuery({ q: 'ad', sort: 'created', page: '2' });
    assert.equal(usersQueryString(q), '?q=ad&sort=created&page=2');
    assert.equal(usersQueryString(q, { page: 1 }), '?q=ad&sort=created');
    assert.equal(usersQueryString(parseUsersQuery({ order: 'asc', sort: 'name' })), '');
  });
});

describe('admin events query', () => {
  it('reads type, user and a clamped limit', () => {
    assert.deepEqual(parseEventsQuery({}), { type: undefined, user: undefined, limit: 100 });
    assert.deepEqual(parseEventsQuery({ type: 'server.stop', user: 'Ada', limit: '50' }), {
      type: 'server.stop',
      user: 'ada',
      limit: 50,
    });
    assert.equal(parseEventsQuery({ limit: '100000' }).limit, 500);
    assert.equal(parseEventsQuery({ limit: '0' }).limit, 1);
    assert.equal(parseEventsQuery({ limit: 'many' }).limit, 100);
    assert.equal(parseEventsQuery({ before: '42' }).before, 42);
    assert.equal(parseEventsQuery({ before: '' }).before, undefined);
  });

  it('refuses a malformed type or user name', () => {
    badRequest(() => parseEventsQuery({ type: '<script>' }), "'type'");
    badRequest(() => parseEventsQuery({ user: '../etc' }), "'user'");
    badRequest(() => parseEventsQuery({ user: ['a', 'b'] }), "'user'");
    for (const before of ['0', '-1', '1.5', 'x', '9'.repeat(20)])
      badRequest(() => parseEventsQuery({ before }), "'before'");
  });
});
