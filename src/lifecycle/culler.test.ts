import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { Route } from '../routes.js';
import { cullIdleServers, cullIdleUsers, fetchKernels, isIdle, type KernelInfo } from './culler.js';

const now = Date.parse('2026-11-25T12:00:00Z');
const cutoff = now - 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

test('idleness: proxy activity, kernel activity and busy kernels each keep a server alive', () => {
  const cases: Array<[string, number, KernelInfo[], boolean]> = [
    ['no activity, no kernels', cutoff - 1, [], true],
    ['recent proxy activity', cutoff + 1, [], false],
    [
      'idle kernel, old activity',
      cutoff - 1,
      [{ execution_state: 'idle', last_activity: iso(cutoff - 5) }],
      true,
    ],
    ['busy kernel', cutoff - 1, [{ execution_state: 'busy', last_activity: iso(cutoff - 5) }], false],
    [
      'recent kernel activity',
      cutoff - 1,
      [{ execution_state: 'idle', last_activity: iso(cutoff + 5) }],
      false,
    ],
    ['unparseable kernel time', cutoff - 1, [{ execution_state: 'idle', last_activity: 'soon' }], true],
  ];
  for (const [name, last, kernels, idle] of cases) assert.equal(isIdle(last, kernels, cutoff), idle, name);
});

test('a culling pass stops idle servers only, and never on doubt', async () => {
  const route = (userName: string, lastActivity: number): Route & { lastActivity: number } => ({
    userName,
    serverName: '',
    target: 'http://127.0.0.1:1',
    secret: 's',
    lastActivity,
  });
  const kernels: Record<string, KernelInfo[] | null> = {
    idle: [],
    busy: [{ execution_state: 'busy' }],
    unknown: null,
    active: [],
  };
  const stopped: string[] = [];
  const culled = await cullIdleServers(
    {
      routes: () => [
        route('idle', cutoff - 10),
        route('busy', cutoff - 10),
        route('unknown', cutoff - 10),
        route('active', now),
      ],
      kernels: async (r) => kernels[r.userName] ?? null,
      stop: async (user) => stopped.push(user),
      log: pino({ level: 'silent' }),
    },
    3600_000,
    now,
  );
  assert.deepEqual(culled, ['idle']);
  assert.deepEqual(stopped, ['idle']);
});

test('kernels are asked of the server itself, on a unix socket too; an oversized or odd answer is doubt', async () => {
  const { createServer } = await import('node:http');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'sifu-culler-'));
  let body = JSON.stringify([{ id: 'k', execution_state: 'idle' }]);
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(`${req.url} ${req.headers.authorization}`);
    res.end(body);
  });
  const path = join(dir, 'jupyter.sock');
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const route: Route = { userName: 'ada', serverName: '', target: `unix:${path}`, secret: 's' };
  try {
    assert.deepEqual(await fetchKernels(route, '/user/ada/'), [{ id: 'k', execution_state: 'idle' }]);
    assert.deepEqual(seen, ['/user/ada/api/kernels token s']);
    body = '{"not": "a list"}';
    assert.equal(await fetchKernels(route, '/user/ada/'), null);
    body = `[${'0,'.repeat(1024 * 1024)}0]`;
    assert.equal(await fetchKernels(route, '/user/ada/'), null);
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a user culling pass deletes idle users without servers, never admins, each once', async () => {
  const at = (ms: number) => new Date(ms);
  const users = new Map([
    ['idle', { name: 'idle', admin: false, createdAt: at(cutoff - 100), lastActivity: at(cutoff - 10) }],
    ['never-active', { name: 'never-active', admin: false, createdAt: at(cutoff - 1), lastActivity: null }],
    ['new', { name: 'new', admin: false, createdAt: at(cutoff + 1), lastActivity: null }],
    ['recent', { name: 'recent', admin: false, createdAt: at(cutoff - 100), lastActivity: at(cutoff + 1) }],
    ['has-server', { name: 'has-server', admin: false, createdAt: at(0), lastActivity: at(0) }],
    ['admin', { name: 'admin', admin: true, createdAt: at(0), lastActivity: null }],
  ]);
  users.set('late', { name: 'late', admin: false, createdAt: at(0), lastActivity: at(0) });
  let reads = 0;
  const events: Array<[string, string | null]> = [];
  const deps = {
    listUsers: async () => [...users.values()],
    // 'late' starts a server between the pass's first read and its turn.
    listServers: async () => [{ userName: 'has-server' }, ...(++reads > 1 ? [{ userName: 'late' }] : [])],
    deleteUser: async (name: string) => users.delete(name),
    addEvent: async (type: string, user: string | null) => {
      events.push([type, user]);
    },
    log: pino({ level: 'silent' }),
  };
  assert.deepEqual(await cullIdleUsers(deps, 3600_000, now), ['idle', 'never-active']);
  assert.deepEqual(await cullIdleUsers(deps, 3600_000, now), []);
  assert.deepEqual(events, [
    ['user.culled', 'idle'],
    ['user.culled', 'never-active'],
  ]);
  assert.deepEqual([...users.keys()], ['new', 'recent', 'has-server', 'admin', 'late']);
});
