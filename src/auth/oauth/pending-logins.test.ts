import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openStore } from '../../store/open-store.js';
import type { Store } from '../../store/store.js';
import { type PendingLogin, storePendingLogins } from './pending-logins.js';

const login = (state: string): PendingLogin => ({
  state,
  codeVerifier: `v-${state}`,
  nonce: null,
  next: '/hub/home',
});

let dir: string;
let replicaA: Store;
let replicaB: Store;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sifu-pending-'));
  // Two handles on one database: two Sifu replicas.
  replicaA = await openStore(`sqlite:${join(dir, 'sifu.sqlite')}`);
  await replicaA.migrate();
  replicaB = await openStore(`sqlite:${join(dir, 'sifu.sqlite')}`);
});
after(async () => {
  await replicaA.close();
  await replicaB.close();
  await rm(dir, { recursive: true, force: true });
});

test('a pending login is returned once, then forgotten — even by another replica', async () => {
  const logins = storePendingLogins(replicaA, 600_000);
  const id = await logins.put(login('a'));
  assert.deepEqual(await storePendingLogins(replicaB, 600_000).take(id), login('a'));
  assert.equal(await logins.take(id), undefined);
});

test('a pending login expires after its TTL', async () => {
  let now = 1_000_000_000_000;
  const logins = storePendingLogins(replicaA, 600_000, () => now);
  const id = await logins.put(login('stale'));
  now += 600_001;
  assert.equal(await logins.take(id), undefined);
});

test('ids are unique and unguessable; unknown ids are refused', async () => {
  const logins = storePendingLogins(replicaA, 600_000);
  const ids = await Promise.all(['x', 'y', 'z'].map((s) => logins.put(login(s))));
  assert.equal(new Set(ids).size, 3);
  for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(await logins.take('not-an-id'), undefined);
  assert.deepEqual(await logins.take(ids[1] as string), login('y'));
});
