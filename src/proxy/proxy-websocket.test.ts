import assert from 'node:assert/strict';
import type http from 'node:http';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { WebSocket } from 'ws';
import {
  cookie,
  LMS_ORIGIN,
  NOTEBOOK_ORIGIN,
  openWebSocket,
  roundTrip,
  type Setup,
  sendRaw,
  setUp,
  type WsOutcome,
} from './doubles/harness.js';
import { nativePairs, relayedBytes } from './native-relay.js';

const kernel = '/user/ada/api/kernels/k1/channels?session_id=s1';
const ada = { cookie: `${cookie('ada-session')}; _xsrf=abc`, origin: NOTEBOOK_ORIGIN };

function opened(outcome: WsOutcome): WebSocket {
  if (!('open' in outcome)) assert.fail(`WebSocket not opened: ${JSON.stringify(outcome)}`);
  return outcome.open;
}

function closed(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === ws.CLOSED) resolve();
    else ws.on('close', () => resolve());
  });
}

/** A full garbage collection, without starting node with --expose-gc. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('notebook proxy: WebSocket', () => {
  let s: Setup;
  before(async () => {
    s = await setUp();
  });
  after(async () => {
    await s.close();
  });

  it('echoes messages both ways, with the token injected and the session cookie stripped', {
    timeout: 20_000,
  }, async () => {
    const ws = opened(await openWebSocket(s.port, kernel, ada));
    try {
      assert.equal(await roundTrip(ws, 'hello kernel'), 'hello kernel');
      const big = 'x'.repeat(1024 * 1024);
      assert.equal(await roundTrip(ws, big), big);
      const upgrade = s.upstream.seen.filter((seen) => seen.upgrade).at(-1);
      assert.equal(upgrade?.url, kernel);
      assert.equal(upgrade?.headers.authorization, 'token ada-secret');
      assert.equal(upgrade?.headers.cookie, '_xsrf=abc');
      assert.equal(upgrade?.headers['x-forwarded-proto'], 'https');
    } finally {
      ws.close();
    }
  });

  it('admits allowed origins', { timeout: 20_000 }, async () => {
    const ws = opened(await openWebSocket(s.port, kernel, { ...ada, origin: LMS_ORIGIN }));
    ws.close();
  });

  it('reports activity for WebSocket traffic', { timeout: 20_000 }, async () => {
    const ws = opened(await openWebSocket(s.port, kernel, ada));
    try {
      const before = s.upstream.wsMessages;
      await roundTrip(ws, 'ping');
      assert.equal(s.upstream.wsMessages, before + 1);
      assert.ok(s.hooks.activityCalls.some((call) => call.userName === 'ada'));
    } finally {
      ws.close();
    }
  });

  it('keeps nothing of the upgrade request while the WebSocket is open', { timeout: 20_000 }, async () => {
    // Idle kernel sockets are held for hours by the thousand: the request and its headers must not be.
    let request: WeakRef<http.IncomingMessage> | undefined;
    s.proxy.server.prependOnceListener('upgrade', (req: http.IncomingMessage) => {
      request = new WeakRef(req);
    });
    const ws = opened(await openWebSocket(s.port, kernel, ada));
    try {
      assert.equal(await roundTrip(ws, 'still relayed'), 'still relayed');
      assert.ok(request);
      // A WeakRef holds its target until the current job ends.
      await new Promise((resolve) => setImmediate(resolve));
      collectGarbage();
      assert.equal(request.deref(), undefined);
    } finally {
      ws.close();
    }
  });

  const refusals: { name: string; path?: string; headers: Record<string, string>; status: number }[] = [
    { name: 'a foreign Origin', headers: { ...ada, origin: 'https://evil.example' }, status: 403 },
    { name: 'Origin null', headers: { ...ada, origin: 'null' }, status: 403 },
    { name: 'no Origin', headers: { cookie: ada.cookie }, status: 403 },
    { name: 'no session', headers: { origin: NOTEBOOK_ORIGIN }, status: 401 },
    { name: 'a forged session', headers: { origin: NOTEBOOK_ORIGIN, cookie: cookie('forged') }, status: 401 },
    {
      name: "another learner's session",
      headers: { origin: NOTEBOOK_ORIGIN, cookie: cookie('bob-session') },
      status: 403,
    },
    { name: 'an odd name', path: '/user/%2e%2e/api/kernels/k/channels', headers: ada, status: 404 },
    {
      name: 'a stopped server',
      path: '/user/bob/api/kernels/k/channels',
      headers: { ...ada, cookie: cookie('bob-session') },
      status: 503,
    },
  ];
  for (const refusal of refusals) {
    it(`refuses an upgrade with ${refusal.name} (${refusal.status}) before it reaches the server`, {
      timeout: 20_000,
    }, async () => {
      const before = s.upstream.seen.length;
      const outcome = await openWebSocket(s.port, refusal.path ?? kernel, refusal.headers);
      assert.ok('refused' in outcome, JSON.stringify(outcome));
      assert.equal(outcome.refused, refusal.status);
      assert.equal(s.upstream.seen.length, before);
    });
  }

  it('refuses upgrades to anything but WebSocket', { timeout: 20_000 }, async () => {
    const answer = await sendRaw(
      s.port,
      `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nCookie: ${ada.cookie}\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 400 /);
  });

  it("relays the server's refusal of an upgrade", { timeout: 20_000 }, async () => {
    const outcome = await openWebSocket(s.port, '/user/ada/refuse', ada);
    assert.ok('refused' in outcome, JSON.stringify(outcome));
    assert.equal(outcome.refused, 404);
    assert.equal(outcome.body, 'no socket');
  });

  it('closes the server side when the client leaves', { timeout: 20_000 }, async () => {
    const ws = opened(await openWebSocket(s.port, kernel, ada));
    await roundTrip(ws, 'hi');
    assert.ok(s.upstream.openWebSockets() >= 1);
    ws.terminate();
    await until(() => s.upstream.openWebSockets() === 0);
    assert.equal(s.upstream.openWebSockets(), 0);
  });

  it('closes the client side when the server goes away', { timeout: 20_000 }, async () => {
    const dan = await setUp();
    try {
      const ws = opened(await openWebSocket(dan.port, kernel, ada));
      await roundTrip(ws, 'hi');
      await dan.upstream.close();
      await closed(ws);
      assert.equal(ws.readyState, ws.CLOSED);
    } finally {
      await dan.proxy.close();
    }
  });
});

/** Where the proxy's server side of each new connection is put (and, `deny`, kept from the shared buffer). */
function serverSides(s: Setup, deny = false): net.Socket[] {
  const sockets: net.Socket[] = [];
  s.proxy.server.prependListener('connection', (socket: net.Socket) => {
    sockets.push(socket);
    if (deny)
      (socket as unknown as { _handle: { useUserBuffer?: unknown } })._handle.useUserBuffer = undefined;
  });
  return sockets;
}

describe('notebook proxy: how a WebSocket is relayed', () => {
  it("hands the sockets to the native relay's thread (the default where it is built)", {
    timeout: 20_000,
  }, async () => {
    const s = await setUp();
    const sides = serverSides(s);
    try {
      // The earlier suites' WebSockets, closing.
      await until(() => nativePairs() === 0);
      const ws = opened(await openWebSocket(s.port, kernel, ada));
      const big = 'w'.repeat(4 * 1024 * 1024);
      assert.equal(await roundTrip(ws, big), big);
      assert.equal(await roundTrip(ws, 'small'), 'small');
      assert.equal(nativePairs(), 1);
      const side = sides.at(-1) as net.Socket;
      // The megabytes went past the proxy's streams: its socket read only the upgrade request.
      assert.ok(side.bytesRead < 4096, `bytesRead ${side.bytesRead}`);
      assert.ok(relayedBytes(side) > 2 * big.length);
      assert.equal(side.listenerCount('data'), 0);
      ws.close();
      await until(() => nativePairs() === 0);
    } finally {
      await s.close();
    }
  });

  it('reports activity from the native relay, not for pings alone', { timeout: 20_000 }, async () => {
    const s = await setUp();
    try {
      const ws = opened(await openWebSocket(s.port, kernel, ada));
      const calls = () => s.hooks.activityCalls.filter((call) => call.userName === 'ada').length;
      // The upgrade itself was reported; the tracker lets one report through a second.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const afterUpgrade = calls();
      ws.ping();
      await new Promise((resolve) => setTimeout(resolve, 1300));
      assert.equal(calls(), afterUpgrade, 'a ping is not activity');
      assert.equal(await roundTrip(ws, 'learner typing'), 'learner typing');
      await until(() => calls() === afterUpgrade + 1);
      ws.close();
    } finally {
      await s.close();
    }
  });

  it('relays from the sockets themselves, without data events', { timeout: 20_000 }, async () => {
    const s = await setUp({ nativeRelay: false });
    const sides = serverSides(s);
    try {
      const ws = opened(await openWebSocket(s.port, kernel, ada));
      const big = 'y'.repeat(4 * 1024 * 1024);
      assert.equal(await roundTrip(ws, big), big);
      assert.equal(await roundTrip(ws, 'small'), 'small');
      assert.equal(sides.at(-1)?.listenerCount('data'), 0);
      ws.close();
    } finally {
      await s.close();
    }
  });

  it("pipes the sockets where one cannot read into the proxy's buffer", { timeout: 20_000 }, async () => {
    const s = await setUp({ nativeRelay: false });
    const sides = serverSides(s, true);
    try {
      const ws = opened(await openWebSocket(s.port, kernel, ada));
      const big = 'z'.repeat(4 * 1024 * 1024);
      assert.equal(await roundTrip(ws, big), big);
      assert.equal(await roundTrip(ws, 'small'), 'small');
      // The pipe's listener (and the activity watch's while it listens).
      assert.ok((sides.at(-1)?.listenerCount('data') ?? 0) >= 1);
      ws.close();
    } finally {
      await s.close();
    }
  });
});

describe('notebook proxy: idle WebSockets', () => {
  let s: Setup;
  before(async () => {
    s = await setUp({ clientIdleTimeoutMs: 300 });
  });
  after(async () => {
    await s.close();
  });

  it('closes a WebSocket with no traffic either way after the idle timeout', {
    timeout: 20_000,
  }, async () => {
    const ws = opened(await openWebSocket(s.port, kernel, ada));
    assert.equal(await roundTrip(ws, 'still here'), 'still here');
    await closed(ws);
    assert.equal(ws.readyState, ws.CLOSED);
    await until(() => s.upstream.openWebSockets() === 0);
  });

  it('keeps a WebSocket in use open past the idle timeout', { timeout: 20_000 }, async () => {
    const ws = opened(await openWebSocket(s.port, kernel, ada));
    // A round trip every 100 ms for 1.2 s, where 300 ms without a byte would close it.
    for (let i = 0; i < 12; i++) {
      assert.equal(await roundTrip(ws, `message ${i}`), `message ${i}`);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(ws.readyState, ws.OPEN, `open after ${i + 1} round trips`);
    }
    ws.close();
  });
});
