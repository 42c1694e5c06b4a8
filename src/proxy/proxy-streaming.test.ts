import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { patternBlock } from './doubles/echo-upstream.js';
import {
  type Answer,
  cookie,
  json,
  NOTEBOOK_ORIGIN,
  type Setup,
  send,
  sendRaw,
  setUp,
} from './doubles/harness.js';

const MiB = 1024 * 1024;
const SIZE = 20 * MiB;

function patternStream(total: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(256 * 1024, total - sent);
      this.push(patternBlock(sent, size));
      sent += size;
    },
  });
}

function patternHash(total: number): string {
  const hash = createHash('sha256');
  for (let at = 0; at < total; at += MiB) hash.update(patternBlock(at, Math.min(MiB, total - at)));
  return hash.digest('hex');
}

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const ada = { cookie: cookie('ada-session'), origin: NOTEBOOK_ORIGIN };

describe('notebook proxy: streaming', () => {
  let s: Setup;
  const expected = patternHash(SIZE);
  before(async () => {
    s = await setUp();
  });
  after(async () => {
    await s.close();
  });

  it('streams a 20 MiB upload with Content-Length intact', { timeout: 20_000 }, async () => {
    const answer = await send(s.port, {
      method: 'PUT',
      path: '/user/ada/api/contents/big.bin',
      headers: { ...ada, 'content-length': String(SIZE) },
      body: patternStream(SIZE),
    });
    assert.equal(answer.status, 200);
    assert.equal(json(answer).bytes, SIZE);
    assert.equal(json(answer).sha256, expected);
  });

  it('streams a 20 MiB chunked upload intact', { timeout: 20_000 }, async () => {
    const answer = await send(s.port, {
      method: 'POST',
      path: '/user/ada/upload',
      headers: { ...ada, 'transfer-encoding': 'chunked' },
      body: patternStream(SIZE),
    });
    assert.equal(answer.status, 200);
    const body = json(answer);
    assert.equal(body.bytes, SIZE);
    assert.equal(body.sha256, expected);
    assert.equal((body.headers as Record<string, string>)['transfer-encoding'], 'chunked');
  });

  for (const framing of ['chunked', 'length']) {
    it(`streams a 20 MiB download (${framing}) intact`, { timeout: 20_000 }, async () => {
      const query = framing === 'length' ? '&length=1' : '';
      const answer = await send(s.port, { path: `/user/ada/download?mb=20${query}`, headers: ada });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.length, SIZE);
      assert.equal(createHash('sha256').update(answer.body).digest('hex'), expected);
    });
  }

  it('keeps concurrent downloads intact while a slow client lets writes queue', {
    timeout: 30_000,
  }, async () => {
    // Every pooled upstream connection reads into one shared buffer (upstream-pool.ts): a response
    // whose writes to a slow client are still queued must not see the bytes of later reads.
    const slowly = new Promise<{ status: number; hash: string; bytes: number }>((done, fail) => {
      http
        .get(
          { port: s.port, path: '/user/ada/download?mb=8&length=1', headers: ada, agent: false },
          (res) => {
            const hash = createHash('sha256');
            let bytes = 0;
            res.on('data', (chunk: Buffer) => {
              hash.update(chunk);
              bytes += chunk.length;
              // Pauses often, so that the proxy's writes to this client queue behind its socket.
              res.pause();
              setTimeout(() => res.resume(), 2);
            });
            res.on('end', () => done({ status: res.statusCode ?? 0, hash: hash.digest('hex'), bytes }));
            res.on('error', fail);
          },
        )
        .on('error', fail);
    });
    const small = (async () => {
      const answers: Answer[] = [];
      for (let i = 0; i < 200; i++) {
        answers.push(await send(s.port, { path: `/user/ada/echo?i=${i}`, headers: ada }));
      }
      return answers;
    })();
    const [slow, fast, smalls] = await Promise.all([
      slowly,
      send(s.port, { path: '/user/ada/download?mb=8', headers: ada }),
      small,
    ]);
    const eight = patternHash(8 * MiB);
    assert.deepEqual(slow, { status: 200, hash: eight, bytes: 8 * MiB });
    assert.equal(fast.status, 200);
    assert.equal(createHash('sha256').update(fast.body).digest('hex'), eight);
    for (const [i, answer] of smalls.entries()) {
      assert.equal(answer.status, 200);
      assert.equal((json(answer).url as string).endsWith(`?i=${i}`), true, `answer ${i} is its own`);
    }
  });

  it('keeps serving after a client aborts an upload midway', { timeout: 20_000 }, async () => {
    await new Promise<void>((resolve) => {
      const req = http.request({
        host: '127.0.0.1',
        port: s.port,
        method: 'POST',
        path: '/user/ada/upload',
        headers: { ...ada, 'content-length': String(SIZE) },
        agent: false,
      });
      req.on('error', () => resolve());
      req.write(patternBlock(0, MiB), () => {
        req.destroy();
        resolve();
      });
    });
    const answer = await send(s.port, { path: '/user/ada/echo', headers: ada });
    assert.equal(answer.status, 200);
  });

  it('cuts the client off when the server dies mid-response', { timeout: 20_000 }, async () => {
    await assert.rejects(send(s.port, { path: '/user/ada/half', headers: ada }));
    assert.equal((await send(s.port, { path: '/user/ada/echo', headers: ada })).status, 200);
  });

  it('answers 503 SIFU_ERR_UPSTREAM_UNREACHABLE when the server is down', { timeout: 20_000 }, async () => {
    s.hooks.addRoute('dan', `http://127.0.0.1:${await closedPort()}`, 'dan-secret');
    s.hooks.addSession('dan-session', { userName: 'dan', admin: false });
    const answer = await send(s.port, {
      path: '/user/dan/api/status',
      headers: { cookie: cookie('dan-session') },
    });
    assert.equal(answer.status, 503);
    assert.equal(json(answer).code, 'SIFU_ERR_UPSTREAM_UNREACHABLE');
  });
});

/**
 * A server that answers the first request on each connection and closes the connection when a
 * second one arrives: the race where a kept-alive socket is closed just as the proxy reuses it.
 */
async function startClosingUpstream() {
  const counts = { connections: 0, requests: 0 };
  const server = net.createServer((socket) => {
    counts.connections++;
    let served = 0;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (!chunk.includes('\r\n\r\n')) return;
      counts.requests++;
      served++;
      if (served === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, counts, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('notebook proxy: stale kept-alive connections', () => {
  it('replays a bodiless request on a fresh connection, never a request with a body', {
    timeout: 20_000,
  }, async () => {
    const s = await setUp();
    const flaky = await startClosingUpstream();
    try {
      s.hooks.addRoute('ada', flaky.origin, 'ada-secret');
      assert.equal((await send(s.port, { path: '/user/ada/a', headers: ada })).status, 200);
      const replayed = await send(s.port, { path: '/user/ada/b', headers: ada });
      assert.equal(replayed.status, 200);
      assert.equal(replayed.body.toString(), 'ok');
      assert.deepEqual(flaky.counts, { connections: 2, requests: 3 });
      const post = await send(s.port, { method: 'POST', path: '/user/ada/c', headers: ada, body: 'x' });
      assert.equal(post.status, 502);
      assert.equal(json(post).code, 'SIFU_ERR_UPSTREAM_UNREACHABLE');
      assert.deepEqual(flaky.counts, { connections: 2, requests: 4 });
    } finally {
      await s.close();
      await flaky.close();
    }
  });
});

describe('notebook proxy: timeouts', () => {
  let s: Setup;
  before(async () => {
    s = await setUp({ upstreamIdleTimeoutMs: 200, clientIdleTimeoutMs: 400 });
  });
  after(async () => {
    await s.close();
  });

  it('answers 504 SIFU_ERR_UPSTREAM_TIMEOUT when the server goes silent', { timeout: 20_000 }, async () => {
    const answer = await send(s.port, { path: '/user/ada/hang', headers: ada });
    assert.equal(answer.status, 504);
    assert.equal(json(answer).code, 'SIFU_ERR_UPSTREAM_TIMEOUT');
  });

  it('closes a pooled server connection idle for the upstream timeout, and reuses a fresh one', {
    timeout: 20_000,
  }, async () => {
    const echo = () => send(s.port, { path: '/user/ada/echo', headers: ada });
    assert.equal((await echo()).status, 200);
    const opened = s.upstream.connections;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await echo()).status, 200);
    assert.equal(s.upstream.connections, opened, 'a connection idle for 50 ms is reused');
    await new Promise((r) => setTimeout(r, 700));
    assert.equal((await echo()).status, 200);
    assert.equal(s.upstream.connections, opened + 1, 'one idle for 700 ms (timeout 200 ms) was closed');
  });

  it('closes an idle client connection', { timeout: 20_000 }, async () => {
    const socket = net.connect({ host: '127.0.0.1', port: s.port });
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    assert.equal(socket.destroyed, true);
  });

  it('closes an idle kept-alive connection after a request', { timeout: 20_000 }, async () => {
    const socket = net.connect({ host: '127.0.0.1', port: s.port });
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    socket.write(`GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nCookie: ${ada.cookie}\r\n\r\n`);
    await new Promise<void>((resolve) => socket.on('close', () => resolve()));
    assert.match(received, /^HTTP\/1\.1 200 OK/);
  });
});

describe('notebook proxy: malformed input', () => {
  let s: Setup;
  before(async () => {
    s = await setUp();
  });
  after(async () => {
    await s.close();
  });

  it('answers garbage with 400 and keeps serving', { timeout: 20_000 }, async () => {
    const inputs = [
      'GARBAGE\r\n\r\n',
      '\x00\x01\x02\xff\xfe\r\n\r\n',
      'GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
      'GET /user/ada/echo HTTP/9.9\r\n\r\n',
      'POST /user/ada/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET /user/ada/ec ho HTTP/1.1\r\nHost: x\r\n\r\n',
    ];
    for (const input of inputs) {
      const answer = await sendRaw(s.port, input);
      assert.match(answer, /^HTTP\/1\.1 400 /, JSON.stringify(input));
    }
    const huge = await sendRaw(
      s.port,
      `GET /user/ada/echo HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n\r\n`,
    );
    assert.match(huge, /^HTTP\/1\.1 431 /);
    assert.equal((await send(s.port, { path: '/user/ada/echo', headers: ada })).status, 200);
  });

  it('answers odd but parseable requests with 404', { timeout: 20_000 }, async () => {
    for (const target of ['http://evil.example/user/ada/echo', '*', '/user/ada%00/echo']) {
      const answer = await sendRaw(s.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(answer, /^HTTP\/1\.1 404 /, target);
    }
  });

  it('survives clients that disconnect at every stage', { timeout: 20_000 }, async () => {
    const stages = [
      'GET /user/ada/echo HTTP/1.1\r\nHo',
      `GET /user/ada/hang HTTP/1.1\r\nHost: x\r\nCookie: ${ada.cookie}\r\n\r\n`,
      `POST /user/ada/upload HTTP/1.1\r\nHost: x\r\nOrigin: ${NOTEBOOK_ORIGIN}\r\nCookie: ${ada.cookie}\r\nContent-Length: 100\r\n\r\nabc`,
      `GET /user/ada/download?mb=5 HTTP/1.1\r\nHost: x\r\nCookie: ${ada.cookie}\r\n\r\n`,
    ];
    for (const stage of stages) {
      await new Promise<void>((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port: s.port }, () => {
          socket.write(stage, () => setImmediate(() => socket.destroy()));
        });
        socket.on('error', () => {});
        socket.on('close', () => resolve());
      });
    }
    assert.equal((await send(s.port, { path: '/user/ada/echo', headers: ada })).status, 200);
  });
});

describe('notebook proxy: the secret stays out of pages', () => {
  let s: Setup;
  before(async () => {
    s = await setUp();
  });
  after(() => s.close());

  it("masks the server's token where Jupyter writes it into a page", async () => {
    const answer = await send(s.port, {
      path: '/user/ada/page-with-token',
      headers: { cookie: cookie('ada-session') },
    });
    assert.equal(answer.status, 200);
    const body = answer.body.toString();
    assert.ok(!body.includes('ada-secret'), body);
    assert.match(body, /data-jupyter-api-token="x{10}"/);
    assert.match(body, /\?token=x{10}"/);
  });

  it('refuses a compressed page, which it could not check', async () => {
    const answer = await send(s.port, {
      path: '/user/ada/compressed-page',
      headers: { cookie: cookie('ada-session') },
    });
    assert.equal(answer.status, 502);
  });
});
