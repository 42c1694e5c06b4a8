import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { storeContract } from '../contract/store-contract.case.js';
import { migrationProvider } from '../migrations.js';
import { openSqliteStore } from './sqlite-store.js';

storeContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sifu-store-'));
  // A directory that does not exist yet: openSqliteStore creates it.
  const store = await openSqliteStore(join(dir, 'nested', 'sifu.sqlite'));
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

test('the database file is in WAL mode and has each migration recorded once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sifu-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'sifu.sqlite');
  const store = await openSqliteStore(path);
  await store.migrate();
  await store.migrate();
  await store.close();

  const raw = new Database(path, { readonly: true });
  try {
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    const names = raw.prepare('select name from kysely_migration').pluck().all();
    const expected = Object.keys(await migrationProvider('sqlite').getMigrations()).sort();
    assert.ok(expected.includes('0001_initial'));
    assert.deepEqual([...names].sort(), expected);
  } finally {
    raw.close();
  }
});

test('sqlite::memory: works for throw-away stores', async () => {
  const store = await openSqliteStore(':memory:');
  try {
    await store.migrate();
    await store.createUser('ada');
    assert.equal((await store.getUser('ada'))?.name, 'ada');
  } finally {
    await store.close();
  }
});

/**
 * Several processes open the same new file and, released at the same moment, each migrate it, ensure
 * one user and claim one server: all must succeed, and exactly one claim must win.
 */
test('several processes migrating and claiming on one SQLite file at once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sifu-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'sifu.sqlite');
  const moduleUrl = new URL('./sqlite-store.ts', import.meta.url).href;
  const script = `
    import { createInterface } from 'node:readline';
    const { openSqliteStore } = await import(${JSON.stringify(moduleUrl)});
    const store = await openSqliteStore(process.env.DB_PATH);
    console.log('ready');
    const lines = createInterface({ input: process.stdin });
    for await (const line of lines) if (line === 'go') break;
    lines.close();
    await store.migrate();
    await store.ensureUser('ada');
    const won = await store.claimServer({
      userName: 'ada', name: '', backend: 'local', state: { by: process.pid }, url: null,
      secret: String(process.pid), status: 'pending', startedAt: new Date(), lastActivity: null, host: null,
    });
    console.log(won ? 'won' : 'lost');
    await store.close();
  `;
  const children = Array.from({ length: 4 }, () =>
    spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      env: { ...process.env, DB_PATH: path },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  t.after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });

  const outputs = children.map((child) => {
    const lines: string[] = [];
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const ready = new Promise<void>((resolve) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        if (line === 'ready') resolve();
      });
    });
    const exited = once(child, 'exit').then(([code]) => ({ code, lines, stderr: () => stderr }));
    return { ready, exited };
  });

  // Every child has loaded its code and opened the file; now release them together.
  await Promise.race([
    Promise.all(outputs.map((o) => o.ready)),
    Promise.any(outputs.map((o) => o.exited)).then((r) => assert.fail(`a child exited early: ${r.stderr()}`)),
  ]);
  for (const child of children) child.stdin.write('go\n');
  const results = await Promise.all(outputs.map((o) => o.exited));

  for (const result of results) assert.equal(result.code, 0, result.stderr());
  const verdicts = results.map((r) => r.lines.at(-1));
  assert.equal(verdicts.filter((v) => v === 'won').length, 1, verdicts.join(','));
  assert.equal(verdicts.filter((v) => v === 'lost').length, children.length - 1, verdicts.join(','));

  const store = await openSqliteStore(path);
  try {
    const servers = await store.listServers();
    assert.equal(servers.length, 1);
    assert.deepEqual(
      (await store.listUsers()).map((u) => u.name),
      ['ada'],
    );
  } finally {
    await store.close();
  }
});
