import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { relaySockets } from './socket-relay.js';

/**
 * A relay as the upgrade makes one: `outer` (a browser) is accepted as `near` by one server, `far` is
 * connected to a second server that accepts it as `inner` (a learner's server); `near` and `far` relayed.
 */
interface Chain {
  outer: net.Socket;
  near: net.Socket;
  far: net.Socket;
  inner: net.Socket;
}

const servers: net.Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

async function accepting(): Promise<{ port: number; next: () => Promise<net.Socket> }> {
  const waiting: ((socket: net.Socket) => void)[] = [];
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => {
    const take = waiting.shift();
    if (take) take(socket);
    else accepted.push(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const next = () =>
    new Promise<net.Socket>((resolve) => {
      const socket = accepted.shift();
      if (socket) resolve(socket);
      else waiting.push(resolve);
    });
  return { port, next };
}

async function chain(): Promise<Chain> {
  const [front, back] = [await accepting(), await accepting()];
  const outer = net.connect(front.port, '127.0.0.1');
  const near = await front.next();
  const far = net.connect(back.port, '127.0.0.1');
  const inner = await back.next();
  await new Promise((resolve) => (far.connecting ? far.once('connect', resolve) : resolve(null)));
  return { outer, near, far, inner };
}

function received(socket: net.Socket, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= bytes) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

const closeAll = (c: Chain) => {
  for (const socket of [c.outer, c.near, c.far, c.inner]) socket.destroy();
};

describe('socket relay', { timeout: 20_000 }, () => {
  it('relays both ways without the sockets emitting data', async () => {
    const c = await chain();
    try {
      assert.equal(relaySockets(c.near, c.far), true);
      c.outer.write('to the server');
      assert.equal(String(await received(c.inner, 13)), 'to the server');
      c.inner.write('to the browser');
      assert.equal(String(await received(c.outer, 14)), 'to the browser');
      // Nothing listens for 'data': the reads go from the handle to the other socket.
      assert.equal(c.near.listenerCount('data') + c.far.listenerCount('data'), 0);
    } finally {
      closeAll(c);
    }
  });

  it('relays first what the stream read before the switch', async () => {
    const c = await chain();
    try {
      c.outer.write('early ');
      while (c.near.readableLength < 6) await new Promise((r) => setTimeout(r, 5));
      assert.equal(relaySockets(c.near, c.far), true);
      c.outer.write('later');
      assert.equal(String(await received(c.inner, 11)), 'early later');
    } finally {
      closeAll(c);
    }
  });

  it('pauses a socket whose peer cannot take more, resumes it on drain, and loses nothing', {
    timeout: 20_000,
  }, async () => {
    const c = await chain();
    try {
      assert.equal(relaySockets(c.near, c.far), true);
      c.inner.pause(); // The server reads nothing for now.
      const payload = Buffer.alloc(32 * 1024 * 1024);
      for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE(i, i);
      c.outer.write(payload);
      const handle = (c.near as unknown as { _handle: { reading: boolean } })._handle;
      while (!c.near.isPaused()) await new Promise((r) => setTimeout(r, 5));
      assert.equal(handle.reading, false, 'the paused socket reads no more');
      assert.ok(c.far.writableNeedDrain, 'paused because its peer has a full write buffer');
      const all = received(c.inner, payload.length);
      c.inner.resume();
      const got = await all;
      assert.equal(got.length, payload.length);
      const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      assert.equal(digest(got), digest(payload));
      assert.equal(c.near.isPaused(), false);
    } finally {
      closeAll(c);
    }
  });

  it("ends the other side's writing when one side ends", async () => {
    const c = await chain();
    try {
      assert.equal(relaySockets(c.near, c.far), true);
      const ended = new Promise((resolve) => c.inner.once('end', resolve));
      const last = received(c.inner, 4);
      c.outer.end('last');
      assert.equal(String(await last), 'last');
      await ended;
    } finally {
      closeAll(c);
    }
  });

  it('changes nothing and says so where a socket cannot read into the shared buffer', async () => {
    const c = await chain();
    try {
      (c.far as unknown as { _handle: { useUserBuffer?: unknown } })._handle.useUserBuffer = undefined;
      const listeners = () => [c.near, c.far].map((s) => s.listenerCount('end') + s.listenerCount('drain'));
      const before = listeners();
      assert.equal(relaySockets(c.near, c.far), false);
      assert.deepEqual(listeners(), before);
      // Still a plain stream: its bytes come as 'data'.
      c.outer.write('plain');
      assert.equal(String(await received(c.near, 5)), 'plain');
    } finally {
      closeAll(c);
    }
  });
});
