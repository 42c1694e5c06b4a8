import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordProxyResponse, recordUpstreamError, registry, setHubGauges } from './metrics.js';

async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  assert.ok(metric, `${name} is exported`);
  const sample = metric.values.find((v) =>
    Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
  );
  return sample?.value ?? Number.NaN;
}

test('proxy responses are counted by status class; what is no HTTP status is not counted', async () => {
  const before = await Promise.all(
    ['1xx', '2xx', '3xx', '4xx', '5xx'].map((code) => value('sifu_proxy_requests_total', { code })),
  );
  const cases: Array<[number, string | null]> = [
    [101, '1xx'],
    [200, '2xx'],
    [204, '2xx'],
    [302, '3xx'],
    [404, '4xx'],
    [503, '5xx'],
    [0, null],
    [600, null],
  ];
  for (const [status] of cases) recordProxyResponse(status);
  const expected = { '1xx': 1, '2xx': 2, '3xx': 1, '4xx': 1, '5xx': 1 };
  const codes = Object.keys(expected) as Array<keyof typeof expected>;
  for (const [i, code] of codes.entries()) {
    assert.equal(
      (await value('sifu_proxy_requests_total', { code })) - (before[i] as number),
      expected[code],
      code,
    );
  }
});

test('upstream errors are counted by reason', async () => {
  const before = await value('sifu_proxy_upstream_errors_total', { reason: 'timeout' });
  recordUpstreamError('timeout');
  recordUpstreamError('timeout');
  assert.equal((await value('sifu_proxy_upstream_errors_total', { reason: 'timeout' })) - before, 2);
});

test('state gauges read their source at scrape time, and read nothing once it is unset', async () => {
  let running = 3;
  const unset = setHubGauges({
    runningServers: () => running,
    users: async () => ({ total: 7, active: { '24h': 1, '7d': 2, '30d': 5 } }),
  });
  assert.equal(await value('jupyterhub_running_servers'), 3);
  running = 4;
  assert.equal(await value('jupyterhub_running_servers'), 4);
  assert.equal(await value('jupyterhub_total_users'), 7);
  assert.equal(await value('jupyterhub_active_users', { period: '7d' }), 2);
  unset();
  assert.equal(await value('jupyterhub_running_servers'), 0);
});

test('each scrape reads the users once, for both user gauges, and the next scrape reads them again', async () => {
  let total = 1;
  let reads = 0;
  const unset = setHubGauges({
    runningServers: () => 0,
    users: async () => {
      reads += 1;
      return { total, active: { '24h': total, '7d': total, '30d': total } };
    },
  });
  try {
    assert.equal(await value('jupyterhub_total_users'), 1);
    assert.equal(reads, 1, 'one read serves jupyterhub_total_users and jupyterhub_active_users');
    // A user added between two scrapes, however close together, is in the second.
    total = 2;
    assert.equal(await value('jupyterhub_total_users'), 2);
    assert.equal(await value('jupyterhub_active_users', { period: '24h' }), 2);
  } finally {
    unset();
  }
});
