/**
 * Writes held to the end of the loop turn (write-batch.ts): on real loopback sockets, what is held
 * leaves at the end of the turn and never after a later write to the same socket; on a real proxy, a
 * response held for the end of the turn still comes before whatever Node's server answers next on
 * that connection, and the proxy serves the same with batching off.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { cookie, sendRaw, setUp } from './doubles/harness.js';
import { WriteBatch } from './write-batch.js';

const turnEnd = () => new Promise((resolve) => setImmediate(resolve));

/** A connected pair on loopback: `near` is written to, `received()` is what its peer read so far. */
async function pair(server: net.Server) {
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const near = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => near.once('connect', resolve));
  const far = await accepted;
  let text = '';
  far.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  return { near, far, received: () => text };
}

async function until(done: () => boolean, what: string) {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(done(), what);
}

describe('WriteBatch', () => {
  let server: net.Server;
  before(async () => {
    server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('writes what it holds at the end of the turn, every socket in one go', async () => {
    const [a, b] = [await pair(server), await pair(server)];
    const batch = new WriteBatch();
    batch.hold(a.near, 'first to a');
    batch.hold(b.near, Buffer.from('first to b'));
    assert.equal(a.near.bytesWritten + b.near.bytesWritten, 0, 'nothing written before the turn ends');
    await turnEnd();
    assert.equal(a.near.bytesWritten, 'first to a'.length);
    assert.equal(b.near.bytesWritten, 'first to b'.length);
    await until(() => a.received() === 'first to a' && b.received() === 'first to b', 'both arrive');
    for (const s of [a, b]) s.near.destroy();
  });

  it('never lets a later write overtake: `before` writes what is held first', async () => {
    const a = await pair(server);
    const b = await pair(server);
    const batch = new WriteBatch();
    batch.hold(b.near, 'b held');
    batch.before(a.near);
    assert.equal(b.near.bytesWritten, 0, 'a socket with nothing held leaves the batch alone');
    batch.hold(a.near, '1');
    batch.before(a.near);
    a.near.write('2');
    batch.hold(a.near, '3');
    batch.before(a.near);
    a.near.end('4');
    await until(() => a.received() === '1234', `in order, got ${a.received()}`);
    await until(() => b.received() === 'b held', 'the other socket got its held write too');
    b.near.destroy();
  });

  it('skips a socket destroyed meanwhile, and still writes the others', async () => {
    const [a, b] = [await pair(server), await pair(server)];
    const batch = new WriteBatch();
    batch.hold(a.near, 'lost');
    batch.hold(b.near, 'kept');
    a.near.destroy();
    await turnEnd();
    await until(() => b.received() === 'kept', 'b got its write');
    assert.equal(a.received(), '');
    b.near.destroy();
  });
});

describe('the proxy with writes held to the end of the turn', () => {
  const ada = `Cookie: ${cookie('ada-session')}`;
  /** The learner's server: answers each request only when the test says so. */
  let upstream: http.Server;
  const waiting: http.ServerResponse[] = [];
  before(async () => {
    upstream = http.createServer((_req, res) => waiting.push(res));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  });
  after(() => {
    upstream.closeAllConnections();
    return new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  it("a held response still comes before Node's answer to the next request on the connection", async () => {
    const s = await setUp();
    s.hooks.addRoute('ada', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, 'ada-secret');
    try {
      const socket = net.connect(s.port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
      });
      const closed = new Promise((resolve) => socket.on('close', resolve));
      socket.write(`GET /user/ada/first HTTP/1.1\r\nHost: x\r\n${ada}\r\n\r\n`);
      await until(() => waiting.length === 1, 'the server has the first request');
      // Read while the first is in flight; malformed, so Node's server answers it (400, at once).
      socket.write(`GET /user/ada/second HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n`);
      await new Promise((r) => setTimeout(r, 100));
      (waiting.shift() as http.ServerResponse).end('first answer');
      await closed;
      const statuses = [...received.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
      assert.deepEqual(statuses, ['200', '400'], received);
      assert.ok(received.indexOf('first answer') < received.indexOf('HTTP/1.1 400'), received);
    } finally {
      await s.close();
    }
  });

  for (const batchWrites of [true, false]) {
    it(`answers pipelined requests in order with batchWrites ${batchWrites}`, async () => {
      const s = await setUp({ batchWrites });
      try {
        const request = (path: string, last = false) =>
          `GET /user/ada/${path} HTTP/1.1\r\nHost: x\r\n${ada}\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;
        const answer = await sendRaw(
          s.port,
          request('echo?n=1') + request('echo?n=2') + request('api/contents/raw') + request('echo?n=3', true),
        );
        const order = [...answer.matchAll(/"url":"\/user\/ada\/echo\?n=(\d)"|learner content/g)].map(
          (m) => m[1] ?? 'raw',
        );
        assert.deepEqual(order, ['1', '2', 'raw', '3'], answer);
      } finally {
        await s.close();
      }
    });
  }
});
