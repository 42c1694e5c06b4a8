/**
 * A learner's server is hostile: whatever bytes it answers with, the proxy relays nothing that would let
 * it split a header, set Sifu's cookies or make the client and the proxy disagree on framing.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { cookie, NOTEBOOK_ORIGIN, type Setup, sendRaw, setUp } from './doubles/harness.js';

describe('notebook proxy: a hostile server', () => {
  let s: Setup;
  let server: net.Server;
  let answer = '';
  before(async () => {
    s = await setUp();
    // Reads one request head and writes `answer`, as it is, then closes.
    server = net.createServer((socket) => {
      let head = '';
      socket.on('data', (d) => {
        head += d.toString('latin1');
        if (head.includes('\r\n\r\n')) socket.end(answer);
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    s.hooks.addRoute('ada', `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, 'ada-secret');
  });
  after(async () => {
    await s.close();
    server.close();
  });

  const upgrade =
    'GET /user/ada/api/kernels/k/channels HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: ${NOTEBOOK_ORIGIN}\r\n` +
    `Cookie: ${cookie('ada-session')}\r\n\r\n`;

  it('refuses an upgrade answer whose header hides a Set-Cookie behind a bare LF', async () => {
    answer =
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'X-Note: a\nSet-Cookie: sifu-nb-session=planted; Path=/\r\n\r\n';
    const reply = await sendRaw(s.port, upgrade);
    assert.doesNotMatch(reply, /planted/);
    assert.match(reply, /^HTTP\/1\.1 502 /);
  });

  it('refuses a response framed both by Transfer-Encoding and Content-Length', async () => {
    answer =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n';
    const reply = await sendRaw(
      s.port,
      `GET /user/ada/x HTTP/1.1\r\nHost: x\r\nCookie: ${cookie('ada-session')}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 502 /);
    assert.doesNotMatch(reply, /\r\nContent-Length: 2\r\n/i);
  });

  it('refuses a reason phrase or header value with control characters', async () => {
    for (const bad of [
      'HTTP/1.1 200 OK\rSet-Cookie: sifu-hub-session=x\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX-A: 1\rSet-Cookie: sifu-hub-session=x\r\nContent-Length: 0\r\n\r\n',
    ]) {
      answer = bad;
      const reply = await sendRaw(
        s.port,
        `GET /user/ada/x HTTP/1.1\r\nHost: x\r\nCookie: ${cookie('ada-session')}\r\nConnection: close\r\n\r\n`,
      );
      assert.match(reply, /^HTTP\/1\.1 502 /, JSON.stringify(bad));
      assert.doesNotMatch(reply, /sifu-hub-session/);
    }
  });
});
