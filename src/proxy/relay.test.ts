import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Route } from '../routes.js';
import { type EchoUpstream, patternBlock, startEchoUpstream } from './doubles/echo-upstream.js';
import {
  type Answer,
  cookie,
  json,
  LMS_ORIGIN,
  NOTEBOOK_ORIGIN,
  openWebSocket,
  roundTrip,
  type Setup,
  send,
  setUp,
} from './doubles/harness.js';
import { createRelay, type Relay, type RelayHooks } from './relay.js';
import { buildUpstreamHead } from './upstream-head.js';

const KEY = 'relay-key-shared-by-replicas';
const RELAY_HEADER = 'x-sifu-relay-key';

interface RelaySetup {
  relay: Relay;
  port: number;
  origin: string;
  /** Connections the relay accepted. */
  connections(): number;
}

async function startRelay(hooks: RelayHooks, headersTimeoutMs?: number): Promise<RelaySetup> {
  const relay = createRelay(hooks, { idleTimeoutMs: 5_000, headersTimeoutMs });
  let connections = 0;
  relay.server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
  const port = (relay.server.address() as AddressInfo).port;
  return { relay, port, origin: `http://127.0.0.1:${port}`, connections: () => connections };
}

function code(answer: Answer): unknown {
  return json(answer).code;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('relay: what it admits', () => {
  let dir: string;
  let unix: EchoUpstream;
  let r: RelaySetup;
  const internalCalls: string[] = [];
  const routes = new Map<string, Route>();
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sifu-relay-'));
    unix = await startEchoUpstream({ socketPath: join(dir, 'jupyter.sock') });
    routes.set('ada', { userName: 'ada', serverName: '', target: unix.origin, secret: 'ada-secret' });
    routes.set('dead', {
      userName: 'dead',
      serverName: '',
      target: `unix:${join(dir, 'gone.sock')}`,
      secret: 'dead-secret',
    });
    routes.set('remote', {
      userName: 'remote',
      serverName: '',
      target: 'http://127.0.0.1:9',
      secret: 'remote-secret',
      relayKey: KEY,
    });
    r = await startRelay({
      key: KEY,
      localRoute: (userName, serverName) => (serverName === '' ? routes.get(userName) : undefined),
      internal(req, res) {
        internalCalls.push(req.url ?? '');
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"internal":true}');
      },
    });
  });
  after(async () => {
    await r.relay.close();
    await unix.close();
    await rm(dir, { recursive: true, force: true });
  });

  const admitted = { [RELAY_HEADER]: KEY, authorization: 'token ada-secret' };

  it('refuses a request without the key, or with a wrong one, and forwards nothing', async () => {
    const before = unix.seen.length;
    for (const key of [undefined, 'wrong', `${KEY}x`, KEY.toUpperCase(), '']) {
      const headers: Record<string, string> = { authorization: 'token ada-secret' };
      if (key !== undefined) headers[RELAY_HEADER] = key;
      const answer = await send(r.port, { path: '/user/ada/echo', headers });
      assert.equal(answer.status, 403, `key ${key}`);
      assert.equal(code(answer), 'SIFU_ERR_RELAY_KEY');
    }
    assert.equal(unix.seen.length, before);
  });

  it('forwards a request with the key to the server of this host, as it came but for Host and the key', async () => {
    const answer = await send(r.port, {
      path: '/user/ada/echo?x=1',
      headers: { ...admitted, 'x-forwarded-for': '203.0.113.9', 'x-forwarded-host': 'ada.nb.test' },
    });
    assert.equal(answer.status, 200);
    const seen = unix.seen.at(-1);
    assert.equal(seen?.url, '/user/ada/echo?x=1');
    assert.equal(seen?.headers.host, 'localhost');
    assert.equal(seen?.headers.authorization, 'token ada-secret');
    assert.equal(seen?.headers[RELAY_HEADER], undefined);
    assert.equal(seen?.headers['x-forwarded-for'], '203.0.113.9');
    assert.equal(seen?.headers['x-forwarded-host'], 'ada.nb.test');
  });

  it('drops hop-by-hop headers, including those Connection names', async () => {
    const answer = await send(r.port, {
      path: '/user/ada/echo',
      headers: { ...admitted, connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'x-end': 'kept' },
    });
    assert.equal(answer.status, 200);
    const seen = unix.seen.at(-1);
    assert.equal(seen?.headers['x-hop'], undefined);
    assert.equal(seen?.headers['x-end'], 'kept');
  });

  it("refuses a request whose token is not the server's (defence in depth)", async () => {
    const before = unix.seen.length;
    for (const authorization of [undefined, 'token bob-secret', 'Bearer ada-secret', 'token ada-secret2']) {
      const headers: Record<string, string> = { [RELAY_HEADER]: KEY };
      if (authorization !== undefined) headers.authorization = authorization;
      const answer = await send(r.port, { path: '/user/ada/echo', headers });
      assert.equal(answer.status, 403, `authorization ${authorization}`);
      assert.equal(code(answer), 'SIFU_ERR_FORBIDDEN');
    }
    assert.equal(unix.seen.length, before);
  });

  it('answers 404 for a server not running here, and for a relay route (never relays twice)', async () => {
    const none = await send(r.port, { path: '/user/bob/api', headers: { ...admitted } });
    assert.equal(none.status, 404);
    assert.equal(code(none), 'SIFU_ERR_SERVER_NOT_RUNNING');
    const relayed = await send(r.port, {
      path: '/user/remote/api',
      headers: { [RELAY_HEADER]: KEY, authorization: 'token remote-secret' },
    });
    assert.equal(relayed.status, 404);
    assert.equal(code(relayed), 'SIFU_ERR_SERVER_NOT_RUNNING');
  });

  it('answers 502 when the local socket is dead', async () => {
    const answer = await send(r.port, {
      path: '/user/dead/api',
      headers: { [RELAY_HEADER]: KEY, authorization: 'token dead-secret' },
    });
    assert.equal(answer.status, 502);
    assert.equal(code(answer), 'SIFU_ERR_UPSTREAM_UNREACHABLE');
  });

  it('answers 404 for any path that is neither /user/ nor /_sifu/', async () => {
    for (const path of ['/', '/hub/api', '/users/ada/', '/user/..%2f/']) {
      const answer = await send(r.port, { path, headers: { ...admitted } });
      assert.equal(answer.status, 404, path);
    }
  });

  it('gives /_sifu/ requests to `internal`, only with the key', async () => {
    const refused = await send(r.port, { path: '/_sifu/routes' });
    assert.equal(refused.status, 403);
    assert.equal(code(refused), 'SIFU_ERR_RELAY_KEY');
    assert.deepEqual(internalCalls, []);
    const answer = await send(r.port, { path: '/_sifu/routes', headers: { [RELAY_HEADER]: KEY } });
    assert.equal(answer.status, 200);
    assert.deepEqual(json(answer), { internal: true });
    assert.deepEqual(internalCalls, ['/_sifu/routes']);
  });

  it('streams a 2 MiB upload with a length, and a chunked one', async () => {
    const data = patternBlock(7, 2 * 1024 * 1024 + 5);
    const sized = await send(r.port, {
      method: 'POST',
      path: '/user/ada/api/up',
      headers: admitted,
      body: data,
    });
    assert.equal(sized.status, 200);
    assert.deepEqual([json(sized).bytes, json(sized).sha256], [data.length, sha256(data)]);
    const pieces = Array.from({ length: 40 }, (_, i) => data.subarray(i * 52_429, (i + 1) * 52_429));
    const chunked = await send(r.port, {
      method: 'PUT',
      path: '/user/ada/api/up',
      headers: admitted,
      body: Readable.from(pieces),
    });
    assert.equal(chunked.status, 200);
    const received = json(chunked);
    assert.equal(received.bytes, data.length);
    assert.equal(received.sha256, sha256(data));
    assert.equal((received.headers as Record<string, string>)['transfer-encoding'], 'chunked');
  });

  it('streams 3 MiB downloads back, chunked and with a length', async () => {
    for (const query of ['mb=3', 'mb=3&length=1']) {
      const answer = await send(r.port, { path: `/user/ada/download?${query}`, headers: admitted });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.length, 3 * 1024 * 1024);
      assert.ok(answer.body.equals(patternBlock(0, 3 * 1024 * 1024)), query);
      if (query.includes('length')) assert.equal(answer.headers['content-length'], String(3 * 1024 * 1024));
      else assert.equal(answer.headers['transfer-encoding'], 'chunked');
    }
  });

  it('passes the answer on raw: no proxy policy (the calling replica applies it)', async () => {
    const answer = await send(r.port, { path: '/user/ada/files/a.html', headers: admitted });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['content-security-policy'], "frame-ancestors 'self'");
    assert.equal(answer.headers['x-frame-options'], 'SAMEORIGIN');
    const page = await send(r.port, { path: '/user/ada/page-with-token', headers: admitted });
    assert.match(page.body.toString(), /ada-secret/);
  });

  it('carries many requests on one kept-alive connection each way', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const relayBefore = r.connections();
    const upstreamBefore = unix.connections;
    try {
      for (let i = 0; i < 50; i++) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = http.get(
            { host: '127.0.0.1', port: r.port, path: `/user/ada/echo?i=${i}`, headers: admitted, agent },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
        });
        assert.equal(status, 200);
      }
    } finally {
      agent.destroy();
    }
    assert.equal(r.connections() - relayBefore, 1);
    assert.ok(
      unix.connections - upstreamBefore <= 1,
      `${unix.connections - upstreamBefore} upstream connections`,
    );
  });

  it('refuses an upgrade without the key, and one to a server not running here', async () => {
    const before = unix.seen.length;
    const noKey = await openWebSocket(r.port, '/user/ada/api/kernels/k/channels', {
      authorization: 'token ada-secret',
    });
    assert.ok('refused' in noKey && noKey.refused === 403);
    const noRoute = await openWebSocket(r.port, '/user/bob/api/kernels/k/channels', admitted);
    assert.ok('refused' in noRoute && noRoute.refused === 404);
    assert.equal(unix.seen.length, before);
  });
});

describe('relay: a client slow to send its headers', () => {
  it('is cut off after headersTimeoutMs, and the relay keeps serving', async () => {
    const r = await startRelay({ key: KEY, localRoute: () => undefined }, 500);
    try {
      const started = Date.now();
      const outcome = await new Promise<string>((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port: r.port });
        let received = '';
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
        });
        socket.on('error', reject);
        socket.on('close', () => resolve(received));
        socket.write(`GET /user/ada/api HTTP/1.1\r\nHost: relay\r\n${RELAY_HEADER}: ${KEY}\r\n`);
      });
      assert.ok(Date.now() - started < 4_000, 'closed within the timeout and a check interval');
      assert.match(outcome, /^HTTP\/1\.1 408 /);
      const after = await send(r.port, { path: '/user/ada/api', headers: { [RELAY_HEADER]: KEY } });
      assert.equal(after.status, 404);
    } finally {
      await r.relay.close();
    }
  });
});

describe('notebook proxy with relay routes', () => {
  let s: Setup;
  let dir: string;
  let unix: EchoUpstream;
  let r: RelaySetup;
  const local = new Map<string, Route>();
  before(async () => {
    s = await setUp();
    dir = await mkdtemp(join(tmpdir(), 'sifu-relay-e2e-'));
    unix = await startEchoUpstream({ socketPath: join(dir, 'jupyter.sock') });
    local.set('ada', { userName: 'ada', serverName: '', target: unix.origin, secret: 'ada-secret' });
    r = await startRelay({ key: KEY, localRoute: (userName) => local.get(userName) });
    // This replica routes ada to the host that runs her server: its relay.
    s.hooks.routes.set('ada', {
      userName: 'ada',
      serverName: '',
      target: r.origin,
      secret: 'ada-secret',
      relayKey: KEY,
    });
  });
  after(async () => {
    await s.close();
    await r.relay.close();
    await unix.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ada = { cookie: cookie('ada-session') };

  it('sends the relay key upstream only for a relay route, never the one a client sent', () => {
    const raw = ['Host', 'nb', 'X-Sifu-Relay-Key', 'forged', 'x-sifu-relay-key', 'forged2'];
    const context = {
      upstreamHost: 'localhost',
      secret: 's',
      clientAddress: undefined,
      forwardedProto: 'https',
    };
    const localHead = buildUpstreamHead('GET', '/user/ada/', raw, context).head;
    assert.doesNotMatch(localHead, /relay-key/i);
    const relayHead = buildUpstreamHead('GET', '/user/ada/', raw, { ...context, relayKey: KEY }, true).head;
    assert.deepEqual(relayHead.match(/^x-sifu-relay-key: .*$/gim), [`X-Sifu-Relay-Key: ${KEY}`]);
  });

  it("strips a browser's x-sifu-relay-key on a local route", async () => {
    s.hooks.addRoute('bob', s.upstream.origin, 'bob-secret');
    try {
      const answer = await send(s.port, {
        path: '/user/bob/echo',
        headers: { cookie: cookie('bob-session'), [RELAY_HEADER]: KEY },
      });
      assert.equal(answer.status, 200);
      assert.equal(s.upstream.seen.at(-1)?.headers[RELAY_HEADER], undefined);
    } finally {
      s.hooks.routes.delete('bob');
    }
  });

  it('reaches the server through the relay with the key; a forged browser key changes nothing', async () => {
    const answer = await send(s.port, {
      path: '/user/ada/echo',
      headers: { ...ada, [RELAY_HEADER]: 'forged' },
    });
    assert.equal(answer.status, 200);
    const seen = unix.seen.at(-1);
    assert.equal(seen?.url, '/user/ada/echo');
    assert.equal(seen?.headers.authorization, 'token ada-secret');
    assert.equal(seen?.headers[RELAY_HEADER], undefined);
    assert.equal(seen?.headers.cookie, undefined);
    assert.equal(seen?.headers['x-forwarded-proto'], 'https');
  });

  it("applies the proxy's response policy to the relay's raw answer (CSP, nosniff, secret masked)", async () => {
    const page = await send(s.port, { path: '/user/ada/tree', headers: ada });
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-security-policy'], `frame-ancestors 'self' ${LMS_ORIGIN}`);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    const file = await send(s.port, { path: '/user/ada/files/a.html', headers: ada });
    assert.equal(
      file.headers['content-security-policy'],
      `sandbox allow-scripts; frame-ancestors 'self' ${LMS_ORIGIN}`,
    );
    assert.equal(file.headers['x-frame-options'], undefined);
    const withToken = await send(s.port, { path: '/user/ada/page-with-token', headers: ada });
    assert.equal(withToken.status, 200);
    assert.doesNotMatch(withToken.body.toString(), /ada-secret/);
  });

  it('streams a 1 MiB upload and a 2 MiB download across both hops', async () => {
    const data = patternBlock(3, 1024 * 1024 + 17);
    const up = await send(s.port, {
      method: 'POST',
      path: '/user/ada/api/contents/x',
      headers: { ...ada, origin: NOTEBOOK_ORIGIN },
      body: Readable.from([data.subarray(0, 500_000), data.subarray(500_000)]),
    });
    assert.equal(up.status, 200);
    assert.equal(json(up).sha256, sha256(data));
    const down = await send(s.port, { path: '/user/ada/download?mb=2', headers: ada });
    assert.ok(down.body.equals(patternBlock(0, 2 * 1024 * 1024)));
  });

  it('carries WebSocket text and binary frames to the unix-socket server and back', async () => {
    const outcome = await openWebSocket(s.port, '/user/ada/api/kernels/k/channels', {
      ...ada,
      origin: NOTEBOOK_ORIGIN,
    });
    assert.ok('open' in outcome, JSON.stringify(outcome));
    const ws = outcome.open;
    try {
      assert.equal(await roundTrip(ws, 'hello through two hops'), 'hello through two hops');
      const binary = patternBlock(11, 70_000);
      const echoed = await new Promise<{ data: Buffer; isBinary: boolean }>((resolve) => {
        ws.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary }));
        ws.send(binary);
      });
      assert.equal(echoed.isBinary, true);
      assert.ok(echoed.data.equals(binary));
      const upgrade = unix.seen.filter((x) => x.upgrade).at(-1);
      assert.equal(upgrade?.headers.authorization, 'token ada-secret');
      assert.equal(upgrade?.headers[RELAY_HEADER], undefined);
      assert.equal(upgrade?.headers.host, 'localhost');
    } finally {
      ws.terminate();
    }
  });

  it('refuses the upgrade when the route carries the wrong key (the relay answers 403)', async () => {
    const route = s.hooks.routes.get('ada') as Route;
    s.hooks.routes.set('ada', { ...route, relayKey: 'stale-key' });
    try {
      const outcome = await openWebSocket(s.port, '/user/ada/api/kernels/k/channels', {
        ...ada,
        origin: NOTEBOOK_ORIGIN,
      });
      assert.ok('refused' in outcome && outcome.refused === 403, JSON.stringify(outcome));
      const plain = await send(s.port, { path: '/user/ada/api', headers: ada });
      assert.equal(plain.status, 403);
      assert.equal(code(plain), 'SIFU_ERR_RELAY_KEY');
    } finally {
      s.hooks.routes.set('ada', route);
    }
  });
});
