import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { Route } from '../routes.js';
import { cullIdleServers, isIdle, type KernelInfo } from './culler.js';

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
