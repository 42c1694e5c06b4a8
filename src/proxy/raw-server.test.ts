/**
 * The raw server side (raw-server.ts, request-head.ts) on a real proxy: what it serves itself
 * (pipelining, keep-alive, HTTP/1.0, slow clients, large bodies, the headers timeout) and what it hands
 * to Node's server (upgrades, chunked uploads, 100-continue, malformed input), which must be answered
 * exactly as with the raw server off, and never reach the learner's server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { patternBlock } from './doubles/echo-upstream.js';
import {
  cookie,
  json,
  NOTEBOOK_ORIGIN,
  openWebSocket,
  roundTrip,
  type Setup,
  send,
  sendRaw,
  setUp,
} from './doubles/harness.js';
import { type ResponseHead, ResponseParser } from './response-parser.js';

const ada = { cookie: cookie('ada-session') };
const C = `Cookie: ${ada.cookie}`;

interface Reply {
  status: number;
  headers: string[];
  body: Buffer;
}

/** Splits the bytes of several responses with the proxy's own response parser; `heads` answer HEADs first. */
function replies(data: Buffer, heads = 0): Reply[] {
  const out: Reply[] = [];
  const parser = new ResponseParser();
  let rest = data;
  while (rest.length > 0) {
    parser.reset(out.length < heads);
    let reply: Reply | undefined;
    const chunks: Buffer[] = [];
    const handler = {
      onResponseHead: (head: ResponseHead) => {
        reply = { status: head.status, headers: head.headers, body: Buffer.alloc(0) };
      },
      onResponseBody: (chunk: Buffer) => chunks.push(Buffer.from(chunk)),
      onResponseEnd: () => {},
    };
    const result = parser.feed(rest, handler);
    // The last may be framed by the close (HTTP/1.0), which these bytes end.
    if (reply === undefined || (result !== 'done' && !parser.finish(handler))) {
      throw new Error(`not a whole response: ${rest.toString('latin1').slice(0, 200)}`);
    }
    reply.body = Buffer.concat(chunks);
    out.push(reply);
    rest = parser.leftover ?? Buffer.alloc(0);
  }
  return out;
}

const header = (reply: Reply, name: string) =>
  reply.headers.find((_, i, all) => i % 2 === 1 && (all[i - 1] as string).toLowerCase() === name);

/** Raw bytes on a connection; resolves with everything received once the proxy closes it. */
async function sendRawBytes(port: number, bytes: string | Buffer): Promise<Buffer> {
  return Buffer.from(await sendRaw(port, bytes), 'latin1');
}

/** Writes `bytes` and half-closes; resolves with everything received once the proxy closes. */
function halfClose(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(received));
    socket.end(bytes);
  });
}

/** A connection that collects what it receives, and waits for a number of whole responses. */
function connection(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  let received = Buffer.alloc(0);
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
  });
  const until = async (done: () => boolean, what: string) => {
    for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(done(), what);
  };
  return {
    socket,
    received: () => received,
    closed: () => closed,
    async responses(count: number): Promise<Reply[]> {
      let parsed: Reply[] = [];
      await until(
        () => {
          try {
            parsed = replies(received);
          } catch {
            return false;
          }
          return parsed.length >= count;
        },
        `${count} responses, got ${received.toString('latin1').slice(0, 300)}`,
      );
      return parsed;
    },
    until,
  };
}

/** Counts the requests Node's server side saw (the raw one's never reach its 'request' event). */
function countNodeRequests(s: Setup): { http: number; upgrades: number } {
  const counts = { http: 0, upgrades: 0 };
  s.proxy.server.on('request', () => counts.http++);
  s.proxy.server.on('upgrade', () => counts.upgrades++);
  return counts;
}

/**
 * With SIFU_TEST_RAW_READS=events (raw-server-events.test.ts runs this file so), the first two suites'
 * connections read through 'data' events, as on a Node whose socket fields the raw server cannot find:
 * each accepted socket's handle is denied the user buffer before the raw server sees it.
 */
const readsByEvents = process.env.SIFU_TEST_RAW_READS === 'events';

/** The proxy of the first two suites; `node` counts what its Node server side saw, from the start. */
let s: Setup;
let node: { http: number; upgrades: number };
/** The server side of the latest connection. */
let latestServerSide: net.Socket | undefined;
before(async () => {
  s = await setUp({ rawServer: true });
  node = countNodeRequests(s);
  s.proxy.server.prependListener('connection', (socket: net.Socket) => {
    latestServerSide = socket;
    if (readsByEvents)
      (socket as unknown as { _handle: { useUserBuffer?: unknown } })._handle.useUserBuffer = undefined;
  });
});
after(() => s.close());

describe('raw server: what it serves itself', () => {
  it(`reads a connection ${readsByEvents ? "through 'data' events" : 'into the shared buffer'}`, async () => {
    const client = connection(s.port);
    client.socket.write(`GET /user/ada/echo HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\n`);
    const [answer] = await client.responses(1);
    assert.equal(answer?.status, 200);
    // A socket read into the shared buffer has no 'data' listener: its reads never become events.
    assert.equal(latestServerSide?.listenerCount('data'), readsByEvents ? 1 : 0);
    client.socket.destroy();
  });

  it('answers pipelined requests in order, bodies included, then honours Connection: close', async () => {
    const upload = Buffer.alloc(300_000, 'u');
    const bytes = Buffer.concat([
      Buffer.from(`GET /user/ada/echo?n=1 HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\n`),
      Buffer.from(
        `POST /user/ada/upload?n=2 HTTP/1.1\r\nHost: x\r\n${C}\r\nContent-Length: ${upload.length}\r\n\r\n`,
      ),
      upload,
      Buffer.from(`GET /user/ada/echo?n=3 HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\n`),
      Buffer.from(`DELETE /user/ada/echo?n=4 HTTP/1.1\r\nHost: x\r\n${C}\r\nContent-Length: 0\r\n\r\n`),
      Buffer.from(`GET /user/ada/echo?n=5 HTTP/1.1\r\nHost: x\r\n${C}\r\nConnection: close\r\n\r\n`),
    ]);
    const seenBefore = s.upstream.seen.length;
    const answers = replies(await sendRawBytes(s.port, bytes));
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 200],
    );
    const bodies = answers.map(
      (a) => JSON.parse(a.body.toString()) as { url?: string; bytes?: number; sha256?: string },
    );
    assert.equal(bodies[0]?.url, '/user/ada/echo?n=1');
    assert.equal(bodies[1]?.bytes, upload.length);
    assert.equal(bodies[1]?.sha256, createHash('sha256').update(upload).digest('hex'));
    assert.equal(bodies[2]?.url, '/user/ada/echo?n=3');
    assert.equal(bodies[3]?.url, '/user/ada/echo?n=4');
    assert.equal(bodies[4]?.url, '/user/ada/echo?n=5');
    assert.deepEqual(
      s.upstream.seen.slice(seenBefore).map((r) => r.url),
      [
        '/user/ada/echo?n=1',
        '/user/ada/upload?n=2',
        '/user/ada/echo?n=3',
        '/user/ada/echo?n=4',
        '/user/ada/echo?n=5',
      ],
    );
    assert.equal(header(answers[0] as Reply, 'connection'), 'keep-alive');
    assert.equal(header(answers[4] as Reply, 'connection'), 'close');
    assert.equal(node.http, 0, "none reached Node's server side");
  });

  it('answers HEAD with the head alone, so that the next answer on the connection is read right', async () => {
    const answers = replies(
      await sendRawBytes(
        s.port,
        `HEAD /user/ada/download?mb=1&length=1 HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\nHEAD /user/bob/ HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\nGET /user/ada/echo?after HTTP/1.1\r\nHost: x\r\n${C}\r\nConnection: close\r\n\r\n`,
      ),
      2,
    );
    assert.deepEqual(
      answers.map((a) => [a.status, a.body.length]),
      [
        [200, 0],
        [403, 0],
        [200, answers[2]?.body.length],
      ],
    );
    assert.equal(header(answers[0] as Reply, 'content-length'), String(1024 * 1024));
    assert.equal(JSON.parse(answers[2]?.body.toString() ?? '').url, '/user/ada/echo?after');
  });

  it('keeps HTTP/1.0 connections only when asked, and answers them without chunking', async () => {
    const plain = replies(await sendRawBytes(s.port, `GET /user/ada/echo HTTP/1.0\r\n${C}\r\n\r\n`));
    assert.equal(plain.length, 1);
    assert.equal(plain[0]?.status, 200);
    assert.equal(header(plain[0] as Reply, 'transfer-encoding'), undefined);
    assert.equal(header(plain[0] as Reply, 'connection'), 'close');

    // The gate's own answers have a length, so an HTTP/1.0 connection that asks may carry another.
    const client = connection(s.port);
    client.socket.write(`GET /user/bob/ HTTP/1.0\r\nConnection: keep-alive\r\n${C}\r\n\r\n`);
    const [first] = await client.responses(1);
    assert.equal(first?.status, 403);
    assert.equal(header(first as Reply, 'connection'), 'keep-alive');
    client.socket.write(`GET /user/ada/echo?again HTTP/1.0\r\n${C}\r\n\r\n`);
    await client.until(client.closed, 'closed after the second, which did not ask to keep it');
    assert.equal(replies(client.received())[1]?.status, 200);
    assert.equal(node.http, 0);
  });

  it("answers the gate's refusals itself, and a refused upload closes its connection", async () => {
    const answers = replies(
      await sendRawBytes(
        s.port,
        `GET /user/bob/ HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\nPOST /user/ada/upload HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.test\r\n${C}\r\nContent-Length: 100\r\n\r\nabc`,
      ),
    );
    assert.deepEqual(
      answers.map((a) => [a.status, JSON.parse(a.body.toString()).code]),
      [
        [403, 'SIFU_ERR_FORBIDDEN'],
        [403, 'SIFU_ERR_BAD_ORIGIN'],
      ],
    );
    assert.equal(header(answers[1] as Reply, 'connection'), 'close');
    assert.equal(node.http, 0);
  });

  it('streams a multi-megabyte upload (Content-Length) through', { timeout: 30_000 }, async () => {
    const size = 24 * 1024 * 1024;
    const hash = createHash('sha256');
    async function* pieces() {
      for (let sent = 0; sent < size; sent += 1024 * 1024) {
        const piece = patternBlock(sent, 1024 * 1024);
        hash.update(piece);
        yield piece;
      }
    }
    const { Readable } = await import('node:stream');
    const answer = await send(s.port, {
      method: 'PUT',
      path: '/user/ada/api/contents/big',
      headers: { ...ada, 'content-length': String(size) },
      body: Readable.from(pieces()),
    });
    assert.equal(answer.status, 200);
    assert.equal(json(answer).bytes, size);
    assert.equal(json(answer).sha256, hash.digest('hex'));
    assert.equal(node.http, 0);
  });

  it('holds a client that does not read: memory bounded, the server paused, nothing lost', {
    timeout: 30_000,
  }, async () => {
    let serverSide: net.Socket | undefined;
    const grab = (socket: net.Socket) => {
      serverSide = socket;
    };
    s.proxy.server.prependListener('connection', grab);
    const mb = 48;
    const client = net.connect({ host: '127.0.0.1', port: s.port });
    client.on('error', () => {});
    client.pause();
    const before = process.memoryUsage().arrayBuffers;
    client.write(
      `GET /user/ada/download?mb=${mb}&length=1 HTTP/1.1\r\nHost: x\r\n${C}\r\nConnection: close\r\n\r\n`,
    );
    await new Promise((r) => setTimeout(r, 1_500));
    s.proxy.server.removeListener('connection', grab);
    assert.ok(serverSide !== undefined);
    assert.ok(
      serverSide.writableLength < 1024 * 1024,
      `buffered for the client: ${serverSide.writableLength}`,
    );
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 16 * 1024 * 1024, `memory grew by ${grown} bytes for a ${mb} MiB download`);
    const chunks: Buffer[] = [];
    client.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.resume();
    await new Promise((resolve) => client.on('close', resolve));
    const [reply] = replies(Buffer.concat(chunks));
    assert.equal(reply?.status, 200);
    assert.equal(reply?.body.length, mb * 1024 * 1024);
    assert.ok(
      reply?.body.equals(patternBlock(0, mb * 1024 * 1024)),
      'the download arrived whole and in order',
    );
  });

  it('answers 408 to a head that does not arrive in time, first or later on a connection', {
    timeout: 20_000,
  }, async () => {
    const t = await setUp({ rawServer: true, headersTimeoutMs: 300 });
    try {
      const fresh = connection(t.port);
      fresh.socket.write('GET /user/ada/echo HTTP/1.1\r\nHo');
      await fresh.until(fresh.closed, 'closed');
      assert.match(fresh.received().toString('latin1'), /^HTTP\/1\.1 408 /);

      const later = connection(t.port);
      later.socket.write(`GET /user/ada/echo HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\n`);
      await later.responses(1);
      // Idle between requests is the idle timeout's business, not the headers timeout's.
      await new Promise((r) => setTimeout(r, 1_500));
      assert.equal(later.closed(), false, 'an idle kept-alive connection stays');
      later.socket.write('GET /user/ada/echo HTTP/1.1\r\nHost: x\r\n');
      await later.until(later.closed, 'closed');
      assert.match(later.received().toString('latin1'), /HTTP\/1\.1 408 Request Timeout\r\n/);
      assert.equal(t.upstream.seen.length, 1);
    } finally {
      await t.close();
    }
  });
});

describe('raw server: the idle bound', () => {
  it('closes a connection without a byte either way for the idle timeout, and keeps one in use', {
    timeout: 20_000,
  }, async () => {
    const t = await setUp({ rawServer: true, clientIdleTimeoutMs: 400 });
    const nodeSide = countNodeRequests(t);
    try {
      const request = `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\n`;
      const idle = connection(t.port);
      idle.socket.write(request);
      await idle.responses(1);
      const busy = connection(t.port);
      // A request every 150 ms for 1.5 s: never 400 ms without a byte.
      for (let i = 1; i <= 10; i++) {
        busy.socket.write(request);
        await busy.responses(i);
        await new Promise((r) => setTimeout(r, 150));
        assert.equal(busy.closed(), false, `a connection in use stays (request ${i})`);
      }
      assert.equal(idle.closed(), true, 'a connection idle for 1.5 s is closed');
      assert.equal(t.upstream.seen.length, 11, 'both connections were served by the raw server');
      assert.equal(nodeSide.http, 0);
    } finally {
      await t.close();
    }
  });
});

describe("raw server: what it hands to Node's server", () => {
  it('WebSockets work, on a fresh connection and after requests on a kept-alive one', async () => {
    const outcome = await openWebSocket(s.port, '/user/ada/api/kernels/k/channels', {
      cookie: ada.cookie,
      origin: NOTEBOOK_ORIGIN,
    });
    assert.ok('open' in outcome, JSON.stringify(outcome));
    assert.equal(await roundTrip(outcome.open, 'ping?'), 'ping?');
    outcome.open.close();

    const client = connection(s.port);
    client.socket.write(`GET /user/ada/echo HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\n`);
    await client.responses(1);
    const served = node.http;
    client.socket.write(
      `GET /user/ada/api/kernels/k/channels HTTP/1.1\r\nHost: x\r\n${C}\r\nOrigin: ${NOTEBOOK_ORIGIN}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
    await client.until(() => client.received().includes('HTTP/1.1 101 '), 'switched protocols');
    assert.equal(node.upgrades, 2);
    assert.equal(node.http, served);
    client.socket.destroy();
  });

  it('a chunked upload and an Expect: 100-continue upload go through', async () => {
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: s.port,
          method: 'POST',
          path: '/user/ada/upload',
          headers: ada,
          agent: false,
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('abc');
      setTimeout(() => req.end('defg'), 20);
    });
    assert.equal(chunked.status, 200);
    assert.equal(JSON.parse(chunked.body).bytes, 7);

    const continued = await new Promise<{ status: number; body: string; continued: boolean }>(
      (resolve, reject) => {
        let sawContinue = false;
        const req = http.request({
          host: '127.0.0.1',
          port: s.port,
          method: 'PUT',
          path: '/user/ada/upload',
          headers: { ...ada, expect: '100-continue', 'content-length': '5' },
          agent: false,
        });
        req.on('continue', () => {
          sawContinue = true;
          req.end('hello');
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, continued: sawContinue }));
        });
        req.on('error', reject);
      },
    );
    assert.equal(continued.status, 200);
    assert.equal(continued.continued, true);
    assert.equal(JSON.parse(continued.body).bytes, 5);
    assert.equal(node.http, 2, "both were Node's server's");
  });

  it('the handoff page and other paths stay with Node', async () => {
    assert.equal((await send(s.port, { path: '/hub-handoff?code=x' })).status, 400);
    assert.equal((await send(s.port, { path: '/elsewhere' })).status, 404);
    assert.equal(node.http, 4);
  });
});

describe('raw server: malformed and ambiguous requests', () => {
  let raw: Setup;
  let nodeOnly: Setup;
  before(async () => {
    raw = await setUp({ rawServer: true });
    nodeOnly = await setUp({ rawServer: false });
  });
  after(async () => {
    await raw.close();
    await nodeOnly.close();
  });

  const smuggled = `GET /user/ada/smuggled HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\n`;
  /** Input, and the status the proxy answers (Node's answer before the raw server, kept). */
  const cases: [string, string, number][] = [
    ['bare CR in a value', `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n${C}\r\n\r\n`, 400],
    ['bare LF ending a line', `GET /user/ada/echo HTTP/1.1\r\nHost: x\n${C}\r\n\r\n`, 400],
    ['LF-only lines', `GET /user/ada/echo HTTP/1.1\nHost: x\n${C}\n\n`, 400],
    ['NUL in a value', `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n${C}\r\n\r\n`, 400],
    [
      'a control byte in a value',
      `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n${C}\r\n\r\n`,
      400,
    ],
    ['DEL in a value', `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n${C}\r\n\r\n`, 400],
    ['obs-fold', `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n${C}\r\n\r\n`, 400],
    ['a space in a name', `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nBad Header: a\r\n${C}\r\n\r\n`, 400],
    [
      'a space before the colon',
      `POST /user/ada/echo HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n${C}\r\n\r\nabc`,
      400,
    ],
    [
      'two different lengths',
      `POST /user/ada/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n${C}\r\n\r\nabc${smuggled}`,
      400,
    ],
    [
      'the same length twice',
      `POST /user/ada/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n${C}\r\n\r\nabc${smuggled}`,
      400,
    ],
    [
      'a length list',
      `POST /user/ada/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n${C}\r\n\r\nabc${smuggled}`,
      400,
    ],
    [
      'a signed length',
      `POST /user/ada/echo HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n${C}\r\n\r\nabc${smuggled}`,
      400,
    ],
    [
      'a length and a transfer coding (CL.TE)',
      `POST /user/ada/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n${C}\r\n\r\n0\r\n\r\n${smuggled}`,
      400,
    ],
    [
      'a length and a transfer coding (TE.CL)',
      `POST /user/ada/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n${C}\r\n\r\n5c\r\n${smuggled}\r\n0\r\n\r\n`,
      400,
    ],
    [
      'a transfer coding other than chunked last',
      `POST /user/ada/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n${C}\r\n\r\n0\r\n\r\n${smuggled}`,
      400,
    ],
    ['no Host on HTTP/1.1', `GET /user/ada/echo HTTP/1.1\r\n${C}\r\n\r\n`, 400],
    ['an unknown version', `GET /user/ada/echo HTTP/1.2\r\nHost: x\r\n${C}\r\n\r\n`, 400],
    ['a lower-case method', `get /user/ada/echo HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\n`, 400],
    ['a space in the target', `GET /user/ada/ec ho HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\n`, 400],
    ['an oversized URL', `GET /user/ada/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\n`, 431],
    [
      'an oversized header section',
      `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\n${C}\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`,
      431,
    ],
  ];

  for (const [name, input, status] of cases) {
    it(`${name}: ${status}, as before, and nothing reaches the server`, async () => {
      const rawSeen = raw.upstream.seen.length;
      const nodeSeen = nodeOnly.upstream.seen.length;
      const [rawAnswer, nodeAnswer] = [await sendRaw(raw.port, input), await sendRaw(nodeOnly.port, input)];
      assert.match(rawAnswer, new RegExp(`^HTTP/1\\.1 ${status} `));
      assert.equal(rawAnswer, nodeAnswer);
      assert.equal(raw.upstream.seen.length, rawSeen, 'the server saw nothing');
      assert.equal(nodeOnly.upstream.seen.length, nodeSeen);
    });
  }

  it("a client that stops sending mid-head or mid-body gets 400, as from Node's server", async () => {
    const cut = [
      'GET /user/ada/echo HTTP/1.1\r\nHo',
      `POST /user/ada/upload HTTP/1.1\r\nHost: x\r\n${C}\r\nContent-Length: 10\r\n\r\nabc`,
    ];
    for (const input of cut) {
      const [rawAnswer, nodeAnswer] = [
        await halfClose(raw.port, input),
        await halfClose(nodeOnly.port, input),
      ];
      assert.match(rawAnswer, /^HTTP\/1\.1 400 /, JSON.stringify(input));
      assert.equal(rawAnswer, nodeAnswer);
    }
    // Unlike Node's server, which drops a whole request when its client half-closes, the raw side answers it.
    const after = await halfClose(raw.port, `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\nGET /u`);
    assert.deepEqual(
      [...after.matchAll(/HTTP\/1\.1 (\d+) /g)].map((m) => m[1]),
      ['200', '400'],
    );
  });

  it('a request hidden in a body is body, never a second request to the server', async () => {
    const seen = raw.upstream.seen.length;
    const inner = `GET /user/ada/smuggled HTTP/1.1\r\nHost: x\r\n${C}\r\n\r\n`;
    const answers = replies(
      await sendRawBytes(
        raw.port,
        `POST /user/ada/upload HTTP/1.1\r\nHost: x\r\n${C}\r\nContent-Length: ${inner.length}\r\n\r\n${inner}GET /user/ada/echo?after HTTP/1.1\r\nHost: x\r\n${C}\r\nConnection: close\r\n\r\n`,
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200],
    );
    assert.equal(JSON.parse(answers[0]?.body.toString() ?? '').bytes, inner.length);
    assert.deepEqual(
      raw.upstream.seen.slice(seen).map((r) => r.url),
      ['/user/ada/upload', '/user/ada/echo?after'],
    );
  });

  it('odd but valid requests are forwarded as Node forwards them', async () => {
    const odd: [string, string][] = [
      [
        'obs-text in a value',
        `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nX-A: caf\xe9\r\n${C}\r\nConnection: close\r\n\r\n`,
      ],
      [
        'a Host twice',
        `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nHost: y\r\n${C}\r\nConnection: close\r\n\r\n`,
      ],
      [
        'a quote in the target',
        `GET /user/ada/echo?"q" HTTP/1.1\r\nHost: x\r\n${C}\r\nConnection: close\r\n\r\n`,
      ],
      [
        'a blank line first',
        `\r\nGET /user/ada/echo HTTP/1.1\r\nHost: x\r\n${C}\r\nConnection: close\r\n\r\n`,
      ],
      [
        'a thousand headers',
        `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\n${C}\r\n${Array.from({ length: 1000 }, (_, i) => `X-${i}: v\r\n`).join('')}Connection: close\r\n\r\n`,
      ],
    ];
    for (const [name, input] of odd) {
      const [rawAnswer] = replies(await sendRawBytes(raw.port, input));
      const [nodeAnswer] = replies(await sendRawBytes(nodeOnly.port, input));
      assert.equal(rawAnswer?.status, 200, name);
      assert.equal(nodeAnswer?.status, 200, name);
      const [rawEcho, nodeEcho] = [rawAnswer, nodeAnswer].map((a) => JSON.parse(a?.body.toString() ?? ''));
      // Each setup has its own server, so the Host each is sent differs.
      delete rawEcho.headers.host;
      delete nodeEcho.headers.host;
      assert.deepEqual(rawEcho.headers, nodeEcho.headers, name);
      assert.equal(rawEcho.url, nodeEcho.url, name);
    }
  });
});
