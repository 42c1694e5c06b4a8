import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { KyselyStore } from '../kysely/kysely-store.js';
import type { Store } from '../store.js';
import { createPool, openPostgresStore } from './postgres-store.js';
import {
  isConnectionError,
  RETRIED_METHODS,
  retryOnConnectionError,
  UNRETRIED_METHODS,
  withRetries,
} from './retry.js';

// test/support is outside tsconfig's rootDir (src): load it at run time, typed by its documented shape.
interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
  restart(options?: { onDown?: () => void | Promise<void> }): Promise<void>;
}
const support: { startPostgres(): Promise<RunningPostgres> } = await import(
  new URL('../../../test/support/postgres.ts', import.meta.url).href
);

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isConnectionError', () => {
  const cases: [string, unknown, boolean][] = [
    ['refused', coded('ECONNREFUSED'), true],
    ['reset', coded('ECONNRESET'), true],
    ['broken pipe', coded('EPIPE'), true],
    ['timed out', coded('ETIMEDOUT'), true],
    ['pg: terminated unexpectedly', new Error('Connection terminated unexpectedly'), true],
    ['pg: connect timeout', new Error('Connection terminated due to connect timeout'), true],
    ['08006 connection_failure', coded('08006'), true],
    ['08001 cannot establish', coded('08001'), true],
    ['57P01 admin_shutdown', coded('57P01'), true],
    ['57P02 crash_shutdown', coded('57P02'), true],
    ['57P03 cannot_connect_now', coded('57P03'), true],
    ['refused behind a cause', new Error('query failed', { cause: coded('ECONNREFUSED') }), true],
    ['refused in an AggregateError', new AggregateError([coded('ECONNREFUSED')], 'all failed'), true],
    ['23505 unique_violation', coded('23505'), false],
    ['40001 serialization_failure', coded('40001'), false],
    ['57014 query_canceled', coded('57014'), false],
    ['pool exhausted', new Error('timeout exceeded when trying to connect'), false],
    ['ENOENT', coded('ENOENT'), false],
    ['a plain error', new Error('boom'), false],
    ['a string', 'ECONNREFUSED', false],
    ['null', null, false],
  ];
  for (const [name, err, expected] of cases) {
    test(`${name}: ${expected ? 'retried' : 'not retried'}`, () => {
      assert.equal(isConnectionError(err), expected);
    });
  }
});

test('every Store method is classified exactly once as retried or not', () => {
  const methods = Object.getOwnPropertyNames(KyselyStore.prototype).filter((name) => name !== 'constructor');
  methods.push('subscribe');
  const retried = new Set<string>(RETRIED_METHODS);
  const unretried = new Set<string>(UNRETRIED_METHODS);
  for (const name of methods) {
    assert.ok(retried.has(name) !== unretried.has(name), `${name} must be in exactly one list`);
  }
  assert.deepEqual(
    [...retried, ...unretried].filter((name) => !methods.includes(name)),
    [],
  );
  for (const never of ['claimServer', 'consumeTicket', 'createTicket', 'declareHostGone', 'addEvent']) {
    assert.ok(unretried.has(never), never);
  }
});

describe('retryOnConnectionError', () => {
  const policy = { initialDelayMs: 5, budgetMs: 200 };

  test('repeats after connection errors until the operation succeeds', async () => {
    let attempts = 0;
    const result = await retryOnConnectionError(async () => {
      attempts += 1;
      if (attempts < 3) throw coded('ECONNREFUSED');
      return 'done';
    }, policy);
    assert.equal(result, 'done');
    assert.equal(attempts, 3);
  });

  test('another error is thrown at once', async () => {
    let attempts = 0;
    const unique = coded('23505');
    await assert.rejects(
      retryOnConnectionError(async () => {
        attempts += 1;
        throw unique;
      }, policy),
      (err) => err === unique,
    );
    assert.equal(attempts, 1);
  });

  test('gives up after the budget with the last error', async () => {
    let attempts = 0;
    const started = Date.now();
    await assert.rejects(
      retryOnConnectionError(async () => {
        attempts += 1;
        throw coded('ECONNRESET', `attempt ${attempts}`);
      }, policy),
      (err: Error) => err.message === `attempt ${attempts}`,
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= policy.budgetMs - 5 && elapsed < policy.budgetMs + 150, `${elapsed} ms`);
    // 5, 10, 20, 40, 80, then what is left of 200 ms.
    assert.ok(attempts >= 5 && attempts <= 8, `${attempts} attempts`);
  });
});

test('withRetries retries the safe methods only', async () => {
  const calls = { getUser: 0, claimServer: 0 };
  const flaky = {
    async getUser() {
      calls.getUser += 1;
      if (calls.getUser === 1) throw coded('ECONNRESET');
      return null;
    },
    async claimServer() {
      calls.claimServer += 1;
      throw coded('ECONNRESET');
    },
  } as unknown as Store;
  const store = withRetries(flaky, { initialDelayMs: 1, budgetMs: 100 });
  assert.equal(await store.getUser('ada'), null);
  assert.equal(calls.getUser, 2);
  await assert.rejects(store.claimServer({} as never), (err) => isConnectionError(err));
  assert.equal(calls.claimServer, 1);
});

describe('through a PostgreSQL restart', () => {
  let server: RunningPostgres;
  let store: Store;

  before(async () => {
    server = await support.startPostgres();
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('create database sifu_retry');
    await admin.end();
    const url = new URL(server.url);
    url.pathname = '/sifu_retry';
    store = await openPostgresStore(url.href);
    await store.migrate();
    await store.createUser('ada');
  });

  after(async () => {
    await store?.close();
    await server?.stop();
  });

  test('a read issued while the server is down succeeds once it is back; addEvent fails cleanly', async () => {
    let read: Promise<unknown> | undefined;
    let write: Promise<unknown> | undefined;
    const started = Date.now();
    await server.restart({
      onDown() {
        // Issued between the old server's exit and the new one's start: every connection is refused.
        read = store.getUser('ada');
        write = store.addEvent('test.during-restart', 'ada');
        // Handled here so that the rejection is not reported before the assertion below reaches it.
        write.catch(() => {});
      },
    });
    assert.ok(read && write);
    await assert.rejects(write, (err) => isConnectionError(err));
    assert.equal(((await read) as { name: string } | null)?.name, 'ada');
    assert.ok(Date.now() - started < 10_000);
    // The pool works again for everything, the unretried methods included.
    await store.addEvent('test.after-restart', 'ada');
    assert.equal((await store.listEvents({ type: 'test.after-restart' })).length, 1);
    assert.equal((await store.listEvents({ type: 'test.during-restart' })).length, 0);
  });

  test('a connection ended while checked out between two queries is no uncaught error, and is not reused', async () => {
    const pool = createPool(server.url);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      // As a transaction holds it: checked out, no query running, when PostgreSQL ends the session.
      const held = await pool.connect();
      const { rows } = await held.query<{ pid: number }>('select pg_backend_pid() as pid');
      await admin.query('select pg_terminate_backend($1)', [rows[0]?.pid]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // Its next query fails as a query (an uncaught 'error' event would have ended the test run instead).
      await assert.rejects(held.query('select 1'));
      held.release();
      const fresh = await pool.query<{ pid: number }>('select pg_backend_pid() as pid');
      assert.notEqual(fresh.rows[0]?.pid, rows[0]?.pid);
    } finally {
      await admin.end();
      await pool.end();
    }
  });
});
