import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { nativePairs, nativeRelayAvailable, relayedBytes, relayNatively } from './native-relay.js';

/**
 * A relayed connection as the proxy has it after a 101: `client` (the browser's end) talks to `clientSide`
 * (the proxy's socket from its server), `server` (the learner's server's end) to `serverSide` (the proxy's
 * socket to it); the proxy's two sockets are handed to the native relay.
 */
interface Relayed {
  client: net.Socket;
  server: net.Socket;
  clientSide: net.Socket;
  serverSide: net.Socket;
}

let listener: net.Server;
let port = 0;
const accepted: net.Socket[] = [];
const waiting: ((socket: net.Socket) => void)[] = [];

before(async () => {
  // Half-open both ways, as a WebSocket's ends may be: an end of input does not end the writing side.
  listener = net.createServer({ allowHalfOpen: true }, (socket) => {
    const next = waiting.shift();
    if (next) next(socket);
    else accepted.push(socket);
  });
  await new Promise<void>((done) => listener.listen(0, '127.0.0.1', done));
  port = (listener.address() as net.AddressInfo).port;
});

after(() => new Promise<void>((done) => listener.close(() => done())));

const nextAccepted = () =>
  new Promise<net.Socket>((done) => {
    const ready = accepted.shift();
    if (ready) done(ready);
    else waiting.push(done);
  });

/** Two connected sockets: the one that connected and the one the listener accepted (one at a time). */
async function connectedPair(): Promise<[net.Socket, net.Socket]> {
  const connecting = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const [theirs] = await Promise.all([
    nextAccepted(),
    new Promise((done) => connecting.once('connect', done)),
  ]);
  return [connecting, theirs];
}

const quiet = { touched() {}, intervalMs: 1000 };

/** A relayed connection; `early` bytes reach each proxy socket's stream before the handover. */
async function relayed(early: { fromClient?: Buffer; fromServer?: Buffer } = {}): Promise<Relayed> {
  const [client, clientSide] = await connectedPair();
  const [serverSide, server] = await connectedPair();
  if (early.fromClient) client.write(early.fromClient);
  if (early.fromServer) server.write(early.fromServer);
  // The proxy's sockets hold what came before the handover in their streams (as after an upgrade's head).
  await Promise.all([
    early.fromClient ? readableSoon(clientSide) : undefined,
    early.fromServer ? readableSoon(serverSide) : undefined,
  ]);
  assert.ok(relayNatively(clientSide, serverSide, quiet), 'handed to the native relay');
  return { client, server, clientSide, serverSide };
}

const readableSoon = (socket: net.Socket) => new Promise((done) => socket.once('readable', done));

/** Everything `socket` receives until it ends, hashed, with its length. */
function received(socket: net.Socket): Promise<{ length: number; sha: string }> {
  const hash = createHash('sha256');
  let length = 0;
  return new Promise((done, fail) => {
    socket.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      length += chunk.length;
    });
    socket.once('end', () => done({ length, sha: hash.digest('hex') }));
    socket.once('error', fail);
  });
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const closedSoon = (socket: net.Socket) =>
  new Promise<void>((done) => (socket.closed ? done() : socket.once('close', () => done())));
/** The end of `socket`'s input (a half-open socket is not closed by it). */
const endedSoon = (socket: net.Socket) =>
  new Promise<void>((done) => (socket.readableEnded ? done() : socket.once('end', () => done())));
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Writes `bytes` in chunks of random sizes, as a peer's frames arrive. */
function writeInPieces(socket: net.Socket, bytes: Buffer): void {
  for (let at = 0; at < bytes.length; ) {
    const size = Math.min(bytes.length - at, 1 + Math.floor(Math.random() * 200_000));
    socket.write(bytes.subarray(at, at + size));
    at += size;
  }
  socket.end();
}

describe('native WebSocket relay', () => {
  it('is built on this machine (what `make run` ships)', () => {
    assert.equal(nativeRelayAvailable, true);
  });

  it('moves bytes both ways at once, in order, the ones read before the handover first', {
    timeout: 30_000,
  }, async () => {
    const earlyUp = Buffer.from('GET /upgrade-leftover');
    const earlyDown = Buffer.from('frames sent with the 101');
    const r = await relayed({ fromClient: earlyUp, fromServer: earlyDown });
    const up = randomBytes(8 * 1024 * 1024);
    const down = randomBytes(8 * 1024 * 1024);
    const atServer = received(r.server);
    const atClient = received(r.client);
    writeInPieces(r.client, up);
    writeInPieces(r.server, down);
    const [server, client] = await Promise.all([atServer, atClient]);
    assert.deepEqual(server, { length: earlyUp.length + up.length, sha: sha(Buffer.concat([earlyUp, up])) });
    assert.deepEqual(client, {
      length: earlyDown.length + down.length,
      sha: sha(Buffer.concat([earlyDown, down])),
    });
    // Both ends of input reached: the pair ends and the proxy's sockets are destroyed.
    await Promise.all([closedSoon(r.clientSide), closedSoon(r.serverSide)]);
    assert.equal(relayedBytes(r.clientSide), up.length + down.length);
    // Nothing went through the proxy's streams.
    assert.ok(r.clientSide.bytesRead <= earlyUp.length, `bytesRead ${r.clientSide.bytesRead}`);
  });

  it('stops reading a flooding server while the browser reads nothing, and loses no byte', {
    timeout: 30_000,
  }, async () => {
    const r = await relayed();
    const flood = randomBytes(64 * 1024 * 1024);
    r.client.pause();
    r.server.write(flood);
    r.server.end();
    await sleep(1000);
    // What the relay took: the kernel's buffers of the two connections and at most one held read (64 KiB).
    const moved = relayedBytes(r.clientSide);
    assert.ok(moved < 24 * 1024 * 1024, `moved ${moved} bytes while the browser read nothing`);
    await sleep(300);
    assert.equal(relayedBytes(r.clientSide), moved, 'no more is taken while the browser reads nothing');
    const atClient = received(r.client);
    r.client.resume();
    assert.deepEqual(await atClient, { length: flood.length, sha: sha(flood) });
    r.client.end();
    await closedSoon(r.serverSide);
  });

  it("passes an end of input on as the other side's end, and ends the pair when both have ended", {
    timeout: 20_000,
  }, async () => {
    const r = await relayed();
    const serverEnded = new Promise((done) => r.server.once('end', done));
    r.client.end('last words');
    let atServer = '';
    r.server.on('data', (chunk: Buffer) => {
      atServer += chunk.toString();
    });
    await serverEnded;
    assert.equal(atServer, 'last words');
    // Half closed: the server may still answer.
    const atClient = received(r.client);
    r.server.end('goodbye');
    assert.equal((await atClient).length, 'goodbye'.length);
    await Promise.all([closedSoon(r.clientSide), closedSoon(r.serverSide)]);
    await until(() => !r.client.readable && !r.server.readable, 'both ends closed');
  });

  it('closes both connections when the proxy destroys one of its sockets', { timeout: 20_000 }, async () => {
    const r = await relayed();
    const before = nativePairs();
    r.client.resume();
    r.server.resume();
    const clientClosed = endedSoon(r.client);
    const serverClosed = endedSoon(r.server);
    // The idle sweep and the proxy's shutdown do this: the relay's own descriptors must close too.
    r.clientSide.destroy();
    await Promise.all([clientClosed, serverClosed]);
    await until(() => nativePairs() === before - 1, 'the pair to end');
    assert.ok(r.serverSide.destroyed);
  });

  it('closes the browser when the server resets its connection', { timeout: 20_000 }, async () => {
    const r = await relayed();
    r.client.resume();
    const clientClosed = endedSoon(r.client);
    r.client.on('error', () => {});
    r.server.resetAndDestroy();
    await clientClosed;
    await Promise.all([closedSoon(r.clientSide), closedSoon(r.serverSide)]);
  });

  it("never writes an ended pair's bytes into a later connection (descriptor numbers are reused)", {
    timeout: 20_000,
  }, async () => {
    const old = await relayed();
    old.client.on('error', () => {});
    old.server.on('error', () => {});
    // A hostile server keeps sending while the proxy ends the pair.
    const stale = Buffer.from('STALE'.repeat(1000));
    const sender = setInterval(() => {
      if (!old.server.destroyed) old.server.write(stale);
    }, 1);
    try {
      old.clientSide.destroy();
      old.serverSide.destroy();
      // New connections take the closed descriptors' numbers.
      const fresh = [await relayed(), await relayed(), await relayed()];
      await sleep(300);
      for (const r of fresh) {
        const atClient = received(r.client);
        const atServer = received(r.server);
        r.client.end('mine');
        r.server.end('yours');
        const [client, server] = await Promise.all([atClient, atServer]);
        assert.deepEqual(client, { length: 5, sha: sha(Buffer.from('yours')) });
        assert.deepEqual(server, { length: 4, sha: sha(Buffer.from('mine')) });
      }
    } finally {
      clearInterval(sender);
      old.server.destroy();
    }
  });

  it('counts as activity the chunks that are not only pings and pongs', { timeout: 20_000 }, async () => {
    const [client, clientSide] = await connectedPair();
    const [serverSide, server] = await connectedPair();
    let touches = 0;
    assert.ok(relayNatively(clientSide, serverSide, { touched: () => touches++, intervalMs: 50 }));
    server.resume();
    // A masked ping from the browser and an unmasked pong from the server: not activity.
    client.write(Buffer.from([0x89, 0x80, 1, 2, 3, 4]));
    await sleep(100);
    server.write(Buffer.from([0x8a, 0x00]));
    await sleep(200);
    assert.equal(touches, 0);
    // A text frame is.
    client.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
    await until(() => touches === 1, 'the activity to be reported');
    client.destroy();
    server.destroy();
    await Promise.all([closedSoon(clientSide), closedSoon(serverSide)]);
  });

  it('leaves sockets it cannot take to the caller (bytes still queued to write)', async () => {
    const [client, clientSide] = await connectedPair();
    const [serverSide, server] = await connectedPair();
    client.pause();
    // More than the kernel takes at once: some stays queued in the stream.
    clientSide.write(randomBytes(32 * 1024 * 1024));
    assert.ok(clientSide.writableLength > 0);
    assert.equal(relayNatively(clientSide, serverSide, quiet), false);
    for (const socket of [client, clientSide, serverSide, server]) socket.destroy();
  });

  it('gives the bytes back to the streams when it cannot duplicate a descriptor (the process limit reached)', {
    timeout: 10_000,
  }, async () => {
    // The relay's thread running already (as after any earlier WebSocket): this is add()'s failure.
    const warm = await relayed();
    for (const socket of [warm.client, warm.server]) socket.destroy();
    await Promise.all([closedSoon(warm.clientSide), closedSoon(warm.serverSide)]);
    const [client, clientSide] = await connectedPair();
    const [serverSide, server] = await connectedPair();
    const early = Buffer.from('read before the handover');
    client.write(early);
    await readableSoon(clientSide);
    // The soft descriptor limit lowered to a little above what is open, then every free number taken,
    // all while nothing else runs (spawning prlimit again needs descriptors of its own).
    const highest = Math.max(...readdirSync('/proc/self/fd').map(Number));
    const [soft, hard] = execFileSync(
      'prlimit',
      ['--pid', String(process.pid), '--nofile', '--raw', '--noheadings'],
      {
        encoding: 'utf8',
      },
    )
      .trim()
      .split(/\s+/)
      .slice(-3, -1);
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${highest + 16}:${hard}`]);
    const fillers: number[] = [];
    let handed: boolean;
    try {
      try {
        for (;;) fillers.push(openSync('/dev/null', 'r'));
      } catch (error) {
        assert.equal((error as NodeJS.ErrnoException).code, 'EMFILE');
      }
      handed = relayNatively(clientSide, serverSide, quiet);
    } finally {
      for (const fd of fillers) closeSync(fd);
      execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${hard}`]);
    }
    assert.equal(handed, false, 'left to the event loop');
    assert.equal(nativePairs(), 0);
    // The event loop relays from here: what was read before comes first, then what follows.
    clientSide.pipe(serverSide);
    const atServer = received(server);
    client.end('and after it');
    const got = await atServer;
    const whole = Buffer.concat([early, Buffer.from('and after it')]);
    assert.deepEqual(got, { length: whole.length, sha: sha(whole) });
    for (const socket of [client, clientSide, serverSide, server]) socket.destroy();
  });
});
