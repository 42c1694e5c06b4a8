/**
 * What the notebook port counts (`sifu_proxy_requests_total`, `sifu_proxy_upstream_errors_total`): each
 * answer once, by class, whether relayed from a server or the proxy's own; each upstream failure by reason.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { registry } from '../metrics/metrics.js';
import { pickFreePort as freePort } from '../spawner/local/free-port.js';
import { cookie, NOTEBOOK_ORIGIN, openWebSocket, type Setup, send, setUp } from './doubles/harness.js';

async function counts(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const metric of await registry.getMetricsAsJSON()) {
    if (metric.name !== 'sifu_proxy_requests_total' && metric.name !== 'sifu_proxy_upstream_errors_total')
      continue;
    for (const v of metric.values) out[String(v.labels.code ?? v.labels.reason)] = v.value;
  }
  return out;
}

/** What changed between two readings, zeros left out. */
function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v !== 0),
  );
}

describe('notebook proxy: what it counts', () => {
  let s: Setup;
  let silent: net.Server;
  let broken: net.Server;
  const ada = { cookie: cookie('ada-session') };
  before(async () => {
    s = await setUp({ upstreamIdleTimeoutMs: 300 });
    // Accepts and never answers; answers garbage.
    silent = net.createServer(() => {});
    broken = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.end('NOT HTTP\r\n\r\n'));
    });
    for (const server of [silent, broken]) {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    }
    const port = (server: net.Server) => (server.address() as net.AddressInfo).port;
    s.hooks.addRoute('bob', `http://127.0.0.1:${port(silent)}`, 'bob-secret');
    s.hooks.addSession('carol-session', { userName: 'carol', admin: false });
    s.hooks.addRoute('carol', `http://127.0.0.1:${port(broken)}`, 'carol-secret');
    s.hooks.addRoute('dan', `http://127.0.0.1:${await freePort()}`, 'dan-secret');
    s.hooks.addSession('dan-session', { userName: 'dan', admin: false });
  });
  after(async () => {
    await s.close();
    silent.close();
    broken.close();
  });

  it('relayed answers and its own, by class', async () => {
    const at = await counts();
    assert.equal((await send(s.port, { path: '/user/ada/api/status', headers: ada })).status, 200);
    assert.equal((await send(s.port, { path: '/user/ada/' })).status, 401);
    assert.equal((await send(s.port, { path: '/user/ada/', headers: { accept: 'text/html' } })).status, 302);
    assert.equal((await send(s.port, { path: '/nowhere' })).status, 404);
    const ws = await openWebSocket(s.port, '/user/ada/api/kernels/k/channels', {
      cookie: ada.cookie,
      origin: NOTEBOOK_ORIGIN,
    });
    assert.ok('open' in ws);
    ws.open.close();
    assert.deepEqual(delta(at, await counts()), { '1xx': 1, '2xx': 1, '3xx': 1, '4xx': 2 });
  });

  it('upstream failures by reason, each answered once as a 5xx', async () => {
    const at = await counts();
    const refused = await send(s.port, {
      path: '/user/dan/api/status',
      headers: { cookie: cookie('dan-session') },
    });
    assert.equal(refused.status, 503);
    const garbage = await send(s.port, {
      path: '/user/carol/api/status',
      headers: { cookie: cookie('carol-session') },
    });
    assert.equal(garbage.status, 502);
    const timeout = await send(s.port, {
      path: '/user/bob/api/status',
      headers: { cookie: cookie('bob-session') },
    });
    assert.equal(timeout.status, 504);
    assert.deepEqual(delta(at, await counts()), { '5xx': 3, refused: 1, broken: 1, timeout: 1 });
  });
});
