import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { serverRecord } from '../contract/fixtures.case.js';
import type { Store, StoreChange } from '../store.js';
import { parseChange } from './change-listener.js';
import { openPostgresStore } from './postgres-store.js';

// test/support is outside tsconfig's rootDir (src): load it at run time, typed by its documented shape.
interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
  restart(options?: { onDown?: () => void | Promise<void> }): Promise<void>;
}
const support: { startPostgres(): Promise<RunningPostgres> } = await import(
  new URL('../../../test/support/postgres.ts', import.meta.url).href
);

const WAIT_MS = 15_000;
const load = { servers: 0, maxServers: 0, memAvailable: 0, memPerServer: 0 };

describe('parseChange', () => {
  const cases: [string | undefined, StoreChange | null][] = [
    ['{"t":"servers","u":"ada","s":""}', { table: 'servers', userName: 'ada', serverName: '' }],
    [
      '{"t":"servers","u":"ada","s":"gpu","extra":1}',
      { table: 'servers', userName: 'ada', serverName: 'gpu' },
    ],
    ['{"t":"hosts","id":"h1"}', { table: 'hosts', id: 'h1' }],
    ['{"t":"servers","u":"ada"}', null],
    ['{"t":"hosts","id":7}', null],
    ['{"t":"users","id":"ada"}', null],
    ['["servers"]', null],
    ['null', null],
    ['not json', null],
    ['', null],
    [undefined, null],
  ];
  for (const [payload, expected] of cases) {
    test(`${JSON.stringify(payload)}`, () => {
      assert.deepEqual(parseChange(payload), expected);
    });
  }
});

/** Collects the changes a subscription hears and lets a test wait for the next ones. */
class Heard {
  readonly changes: StoreChange[] = [];
  resubscribed = 0;
  #wake: (() => void) | undefined;

  onChange = (change: StoreChange) => {
    this.changes.push(change);
    this.#wake?.();
  };

  onResubscribed = () => {
    this.resubscribed += 1;
    this.#wake?.();
  };

  /** Waits until `condition` holds, re-checking at each change or resubscription. */
  async until(condition: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for ${what}; heard ${JSON.stringify(this.changes)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Waits for the changes after the first `from`, until they include `expected`; returns them. */
  async next(from: number, expected: StoreChange): Promise<StoreChange[]> {
    const includes = () => this.changes.slice(from).some((c) => isDeepStrictEqual(c, expected));
    await this.until(includes, JSON.stringify(expected));
    return this.changes.slice(from);
  }
}

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

describe('Store.subscribe on PostgreSQL', () => {
  let server: RunningPostgres;
  let databaseUrl: string;
  let writer: Store;
  let reader: Store;

  before(async () => {
    server = await support.startPostgres();
    await asSuperuser('create database sifu_notify');
    const url = new URL(server.url);
    url.pathname = '/sifu_notify';
    databaseUrl = url.href;
    writer = await openPostgresStore(databaseUrl);
    await writer.migrate();
    reader = await openPostgresStore(databaseUrl);
  });

  after(async () => {
    await reader?.close();
    await writer?.close();
    await server?.stop();
  });

  /** On a connection of its own: a restart ends every connection open at the time. */
  async function asSuperuser(text: string, url = server.url): Promise<pg.QueryResult> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await client.query(text);
    } finally {
      await client.end();
    }
  }

  /** Sessions of the test database that are listening, as PostgreSQL reports them. */
  async function listeners(): Promise<number> {
    const { rows } = await asSuperuser(
      "select count(*)::int as n from pg_stat_activity where datname = 'sifu_notify' and query ilike 'listen%'",
    );
    return rows[0].n as number;
  }

  test('hears inserts, updates and deletes of servers and hosts made through another handle', async () => {
    assert.ok(reader.subscribe);
    const heard = new Heard();
    const stop = await reader.subscribe(heard.onChange, heard.onResubscribed);
    try {
      await writer.createUser('ada');
      const ada = { table: 'servers', userName: 'ada', serverName: '' } as const;
      const record = serverRecord({ host: 'h1' });

      let from = heard.changes.length;
      await writer.claimServer(record);
      assert.deepEqual(await heard.next(from, ada), [ada]);

      from = heard.changes.length;
      await writer.updateServer({ ...record, status: 'running', url: 'http://127.0.0.1:1' });
      assert.deepEqual(await heard.next(from, ada), [ada]);

      from = heard.changes.length;
      await writer.deleteServer('ada', '');
      assert.deepEqual(await heard.next(from, ada), [ada]);

      // A delete by cascade (the user's deletion) is heard too.
      from = heard.changes.length;
      await writer.claimServer(serverRecord({ name: 'gpu' }));
      await writer.deleteUser('ada');
      const gpu = { table: 'servers', userName: 'ada', serverName: 'gpu' } as const;
      await heard.until(
        () => heard.changes.slice(from).filter((c) => isDeepStrictEqual(c, gpu)).length === 2,
        'the insert and the cascaded delete of ada/gpu',
      );

      const h1 = { table: 'hosts', id: 'h1' } as const;
      from = heard.changes.length;
      const host = await writer.registerHost({ id: 'h1', relayUrl: null, load }, new Date());
      assert.deepEqual(await heard.next(from, h1), [h1]);

      from = heard.changes.length;
      await writer.heartbeat('h1', host.epoch, load, new Date());
      assert.deepEqual(await heard.next(from, h1), [h1]);

      from = heard.changes.length;
      await writer.declareHostGone('h1', host.epoch, new Date(), () => 'none');
      await writer.forgetHost('h1');
      await heard.until(() => heard.changes.length - from === 2, 'the declaration and the removal of h1');
      assert.deepEqual(heard.changes.slice(from), [h1, h1]);

      // Other payloads on the channel are ignored; a well-formed one after them is heard, alone.
      from = heard.changes.length;
      await asSuperuser(
        `select pg_notify('sifu_changes', 'not json'), pg_notify('sifu_changes', '{"t":"x"}'),
          pg_notify('sifu_changes', '{"t":"hosts","id":"by-hand"}')`,
        databaseUrl,
      );
      const byHand = { table: 'hosts', id: 'by-hand' } as const;
      assert.deepEqual(await heard.next(from, byHand), [byHand]);
      assert.equal(heard.resubscribed, 0);
    } finally {
      await stop();
    }
  });

  test('after a restart it reconnects, calls onResubscribed and hears later changes', async () => {
    assert.ok(reader.subscribe);
    const heard = new Heard();
    const stop = await reader.subscribe(heard.onChange, heard.onResubscribed);
    try {
      await server.restart();
      await heard.until(() => heard.resubscribed === 1, 'onResubscribed');
      const from = heard.changes.length;
      await writer.registerHost({ id: 'after-restart', relayUrl: null, load }, new Date());
      const expected = { table: 'hosts', id: 'after-restart' } as const;
      assert.deepEqual(await heard.next(from, expected), [expected]);
      assert.equal(heard.resubscribed, 1);
    } finally {
      await stop();
    }
  });

  test('the stop function, and closing the store, end the listening connection', async () => {
    assert.ok(reader.subscribe);
    const heard = new Heard();
    const stop = await reader.subscribe(heard.onChange, heard.onResubscribed);
    assert.equal(await listeners(), 1);
    await stop();
    assert.equal(await listeners(), 0);
    await writer.registerHost({ id: 'unheard', relayUrl: null, load }, new Date());
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(heard.changes, []);

    const other = await openPostgresStore(databaseUrl);
    assert.ok(other.subscribe);
    await other.subscribe(
      () => {},
      () => {},
    );
    await other.subscribe(
      () => {},
      () => {},
    );
    assert.equal(await listeners(), 2);
    await other.close();
    assert.equal(await listeners(), 0);
  });

  test('subscribe rejects when its first connection fails', async () => {
    const nowhere = await openPostgresStore('postgres://postgres@127.0.0.1:1/sifu');
    try {
      assert.ok(nowhere.subscribe);
      await assert.rejects(
        nowhere.subscribe(
          () => {},
          () => {},
        ),
        (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED',
      );
    } finally {
      await nowhere.close();
    }
  });
});
