import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCookie } from '../sessions.js';
import { createPendingLogins, type PendingLogin } from './pending-logins.js';

const login = (state: string): PendingLogin => ({
  state,
  codeVerifier: `v-${state}`,
  nonce: null,
  next: '/hub/home',
});

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test('a pending login is returned once, then forgotten', () => {
  const logins = createPendingLogins({ ttlMs: 600_000, max: 10 });
  const id = logins.put(login('a'));
  assert.deepEqual(logins.take(id), login('a'));
  assert.equal(logins.take(id), undefined);
  assert.equal(logins.size, 0);
});

test('a pending login expires after its TTL', () => {
  const time = clock();
  const logins = createPendingLogins({ ttlMs: 600_000, max: 10, now: time.now });
  const fresh = logins.put(login('fresh'));
  const stale = logins.put(login('stale'));
  time.advance(599_999);
  assert.equal(logins.take(fresh)?.state, 'fresh');
  time.advance(1);
  assert.equal(logins.take(stale), undefined);
});

test('expired logins are swept when new ones arrive', () => {
  const time = clock();
  const logins = createPendingLogins({ ttlMs: 1000, max: 10, now: time.now });
  logins.put(login('a'));
  logins.put(login('b'));
  time.advance(1000);
  logins.put(login('c'));
  assert.equal(logins.size, 1);
});

test('past the bound, the oldest pending logins are dropped', () => {
  const logins = createPendingLogins({ ttlMs: 600_000, max: 2 });
  const first = logins.put(login('1'));
  const second = logins.put(login('2'));
  const third = logins.put(login('3'));
  assert.equal(logins.size, 2);
  assert.equal(logins.take(first), undefined);
  assert.equal(logins.take(second)?.state, '2');
  assert.equal(logins.take(third)?.state, '3');
});

test('ids are distinct and readable back from a Cookie header', () => {
  const logins = createPendingLogins({ ttlMs: 600_000, max: 100 });
  const ids = new Set(Array.from({ length: 50 }, (_, i) => logins.put(login(String(i)))));
  assert.equal(ids.size, 50);
  for (const id of ids) assert.equal(readCookie(`other=1; sifu-oauth-login=${id}`, 'sifu-oauth-login'), id);
});
