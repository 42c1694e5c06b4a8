/**
 * Direct writes (direct-write.ts, native/send.c) on real sockets: the bytes arrive whole and in order
 * whether the kernel takes all of them, part of them or none (a peer that does not read), whatever Node
 * holds already for the socket goes first, errors come out as Node's own ('error', destroyed, nothing
 * thrown), and the proxy as a whole writes its held responses this way.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeDirect } from './direct-write.js';
import { cookie, setUp } from './doubles/harness.js';
import { addon } from './native-addon.js';

/** A connected pair: `near` is written to; `far` collects what it reads once `collect()` is called. */
async function pair(server: net.Server, connect: () => net.Socket) {
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const near = connect();
  await new Promise((resolve) => near.once('connect', resolve));
  const far = await accepted;
  far.pause();
  const chunks: Buffer[] = [];
  return {
    near,
    far,
    /** Everything `far` reads until `near` ends, in order. */
    collect: () =>
      new Promise<Buffer>((resolve) => {
        far.on('data', (chunk: Buffer) => chunks.push(chunk));
        far.once('end', () => resolve(Buffer.concat(chunks)));
        far.resume();
      }),
  };
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('writeDirect', () => {
  let server: net.Server;
  let dir: string;
  let unixServer: net.Server;
  const tcp = () => pair(server, () => net.connect((server.address() as AddressInfo).port, '127.0.0.1'));
  const unix = () => pair(unixServer, () => net.connect(join(dir, 's')));

  before(async () => {
    server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    dir = await mkdtemp(join(os.tmpdir(), 'sifu-direct-'));
    unixServer = net.createServer();
    await new Promise<void>((resolve) => unixServer.listen(join(dir, 's'), resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => unixServer.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('is built here: the addon sends', () => {
    assert.equal(typeof addon?.send, 'function', 'build/Release/sifu_relay.node has send()');
  });

  it('sends a Buffer and a string as latin1 straight to the kernel, past the stream', async () => {
    for (const make of [tcp, unix]) {
      const { near, collect } = await make();
      const received = collect();
      assert.equal(writeDirect(near, Buffer.from('HTTP/1.1 200 OK\r\n')), true);
      assert.equal(writeDirect(near, 'caf\u00e9 \u00ff\r\n'), true);
      // Node's stream never saw them: they went by send(2).
      assert.equal(near.bytesWritten, 0, 'not written through the stream');
      near.end();
      assert.deepEqual(
        await received,
        Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\n'), Buffer.from('caf\u00e9 \u00ff\r\n', 'latin1')]),
      );
    }
  });

  it('gives what the kernel does not take to the stream, in order, and asks for drain', async () => {
    const { near, collect } = await tcp();
    // Far more than the socket buffers hold while the peer reads nothing: the kernel takes part.
    const big = randomBytes(32 * 1024 * 1024);
    const flushed = writeDirect(near, big);
    assert.equal(flushed, false, 'the rest waits in the stream: wait for drain');
    assert.ok(near.bytesWritten < big.length, 'part of it went past the stream');
    assert.ok(near.writableLength > 0, 'the rest is queued in Node');
    // Queued in Node: a later write waits behind it instead of jumping the queue.
    writeDirect(near, 'after');
    near.end();
    const received = await collect();
    assert.equal(received.length, big.length + 5);
    assert.equal(sha(received.subarray(0, big.length)), sha(big), 'the big write whole and first');
    assert.equal(received.subarray(big.length).toString(), 'after');
  });

  it('waits behind corked writes and a string too long to copy', async () => {
    const { near, collect } = await unix();
    const received = collect();
    near.cork();
    near.write('corked;');
    writeDirect(near, 'direct;');
    near.uncork();
    const long = 'x'.repeat(20 * 1024);
    writeDirect(near, long);
    writeDirect(near, ';end');
    near.end();
    assert.equal((await received).toString(), `corked;direct;${long};end`);
  });

  it('reports a reset peer as Node does: an error event and a destroyed socket, nothing thrown', async () => {
    const { near, far } = await tcp();
    const failed = new Promise<Error>((resolve) => near.once('error', resolve));
    far.resetAndDestroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The first write may still be taken by the kernel before it has seen the reset; the next fail.
    for (let i = 0; i < 20 && !near.destroyed; i++) {
      writeDirect(near, Buffer.alloc(1024));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const error = (await failed) as NodeJS.ErrnoException;
    assert.match(String(error.code), /^(ECONNRESET|EPIPE)$/);
    assert.equal(near.destroyed, true);
  });

  it('leaves an ended or destroyed socket to Node (which refuses the write)', async () => {
    const { near } = await tcp();
    near.end();
    const refused = new Promise<Error>((resolve) => near.once('error', resolve));
    writeDirect(near, 'late');
    assert.equal(((await refused) as NodeJS.ErrnoException).code, 'ERR_STREAM_WRITE_AFTER_END');
    near.destroy();
    assert.doesNotThrow(() => writeDirect(near, 'later'));
  });

  it('refuses what is not a descriptor and data', () => {
    const send = addon?.send as (fd: unknown, data: unknown) => number;
    assert.throws(() => send(-1, Buffer.alloc(1)), { code: 'SIFU_ERR_NATIVE_SEND' });
    assert.throws(() => send('3', Buffer.alloc(1)), { code: 'SIFU_ERR_NATIVE_SEND' });
    assert.throws(() => send(1, 42), { code: 'SIFU_ERR_NATIVE_SEND' });
  });
});

describe('the proxy writes its held responses directly', () => {
  for (const directWrites of [true, false]) {
    it(`answers keep-alive requests whole with directWrites ${directWrites}, past the stream only when on`, async () => {
      const s = await setUp({ directWrites });
      // A learner's server whose small answers have a length: the batch holds them whole (a chunked one
      // is written at once).
      const upstream = http.createServer((_req, res) => res.end('abc'));
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      s.hooks.addRoute('ada', `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, 'ada-secret');
      try {
        const accepted: net.Socket[] = [];
        s.proxy.server.prependListener('connection', (socket: net.Socket) => accepted.push(socket));
        const client = net.connect(s.port, '127.0.0.1');
        let received = '';
        client.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
        });
        const answers = () => [...received.matchAll(/HTTP\/1\.1 200 OK\r\n[\s\S]*?\r\n\r\nabc/g)].length;
        for (let n = 1; n <= 3; n++) {
          client.write(`GET /user/ada/lab HTTP/1.1\r\nHost: x\r\nCookie: ${cookie('ada-session')}\r\n\r\n`);
          for (let i = 0; i < 200 && answers() < n; i++) await new Promise((r) => setTimeout(r, 5));
        }
        assert.equal(answers(), 3, received);
        const [socket] = accepted;
        assert.ok(socket, 'the proxy accepted the connection');
        // The responses were held by the batch; written by send(2) they never pass the socket's stream.
        if (directWrites) assert.equal(socket.bytesWritten, 0, 'written directly');
        else assert.ok(socket.bytesWritten >= received.length, 'written through the stream');
        client.destroy();
      } finally {
        upstream.closeAllConnections();
        await new Promise<void>((resolve) => upstream.close(() => resolve()));
        await s.close();
      }
    });
  }
});
