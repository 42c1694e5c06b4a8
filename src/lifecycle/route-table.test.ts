import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServerRecord } from '../store/store.js';
import { RouteTable } from './route-table.js';

const record: ServerRecord = {
  userName: 'ada',
  name: '',
  backend: 'local',
  state: {},
  url: 'unix:/run/sifu/ada.sock',
  secret: 's',
  status: 'running',
  startedAt: new Date(1_000),
  lastActivity: null,
  host: null,
};

test('activity whose write failed is written at the next flush, not lost', async () => {
  const table = new RouteTable();
  table.add(record);
  table.activity('ada', '', new Date(5_000));
  const written: number[] = [];
  let fail = true;
  const store = {
    async touchServer(_user: string, _server: string, at: Date) {
      if (fail) throw new Error('the store is failing over');
      written.push(at.getTime());
    },
    async touchUser() {},
  };
  await assert.rejects(table.flushActivity(store));
  fail = false;
  await table.flushActivity(store);
  assert.deepEqual(written, [5_000]);
  // Nothing new since: nothing written again.
  await table.flushActivity(store);
  assert.deepEqual(written, [5_000]);
});
