import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { storeContract } from '../contract/store-contract.case.js';
import { openStore } from '../open-store.js';
import type { Store } from '../store.js';
import { openPostgresStore } from './postgres-store.js';

// test/support is outside tsconfig's rootDir (src), so a static import (even `import type`) would pull it
// into the typecheck and fail TS6059: load it at run time, typed by its documented shape.
interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}
const support: { startPostgres(): Promise<RunningPostgres> } = await import(
  new URL('../../../test/support/postgres.ts', import.meta.url).href
);

let server: RunningPostgres;
let admin: pg.Client;
let databases = 0;

before(async () => {
  server = await support.startPostgres();
  admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
});

after(async () => {
  await admin?.end();
  await server?.stop();
});

/** A new, empty database on the test server; its URL and a way to drop it. */
async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `sifu_test_${process.pid}_${++databases}`;
  await admin.query(`create database ${name}`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: async () => {
      await admin.query(`drop database if exists ${name} with (force)`);
    },
  };
}

storeContract(
  'postgres',
  async () => {
    const database = await freshDatabase();
    const store = await openPostgresStore(database.url);
    return {
      store,
      reopen: () => openPostgresStore(database.url),
      async cleanup() {
        await store.close();
        await database.drop();
      },
    };
  },
  { secondHandle: true },
);

test('openStore dispatches postgres:// and postgresql:// URLs to PostgreSQL', async () => {
  const database = await freshDatabase();
  const stores: Store[] = [];
  try {
    for (const url of [database.url, database.url.replace(/^postgres:/, 'postgresql:')]) {
      const store = await openStore(url);
      stores.push(store);
      await store.migrate();
    }
    await stores[0]?.createUser('ada');
    assert.equal((await stores[1]?.getUser('ada'))?.name, 'ada');
    // It is the PostgreSQL database that holds the user, not some local file.
    const direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
    try {
      const { rows } = await direct.query('select name from users');
      assert.deepEqual(rows, [{ name: 'ada' }]);
    } finally {
      await direct.end();
    }
  } finally {
    for (const store of stores) await store.close();
    await database.drop();
  }
});
