import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pairsOf } from './header-text.js';
import { parseRequestHead } from './request-head.js';
import { buildUpstreamHead, type UpstreamHeadContext } from './upstream-head.js';

const context: UpstreamHeadContext = {
  upstreamHost: '127.0.0.1:40001',
  secret: 's3cret',
  clientAddress: '192.0.2.1',
  forwardedProto: 'https',
};

function lines(head: string): string[] {
  assert.ok(head.endsWith('\r\n\r\n'));
  return head.slice(0, -4).split('\r\n');
}

describe('buildUpstreamHead', () => {
  it('rewrites a plain GET', () => {
    const { head, body } = buildUpstreamHead(
      'GET',
      '/user/ada/tree?x=1',
      [
        'Host',
        'notebooks.example.org',
        'Accept',
        'text/html',
        'Authorization',
        'token client',
        'Cookie',
        'sifu-session=a; _xsrf=b',
      ],
      context,
    );
    assert.equal(body, 'none');
    assert.deepEqual(lines(head), [
      'GET /user/ada/tree?x=1 HTTP/1.1',
      'Host: 127.0.0.1:40001',
      'Accept: text/html',
      'Cookie: _xsrf=b',
      'X-Forwarded-For: 192.0.2.1',
      'X-Forwarded-Host: notebooks.example.org',
      'X-Forwarded-Proto: https',
      'Authorization: token s3cret',
      'Connection: keep-alive',
    ]);
  });

  it('drops hop-by-hop headers, including those named by Connection', () => {
    const { head } = buildUpstreamHead(
      'GET',
      '/',
      [
        'Keep-Alive',
        'timeout=5',
        'X-Hop',
        '1',
        'connection',
        'keep-alive, X-Hop, close',
        'TE',
        'trailers',
        'Trailer',
        'X',
        'Proxy-Authorization',
        'Basic x',
        'Proxy-Connection',
        'keep-alive',
        'Upgrade',
        'h2c',
        'Expect',
        '100-continue',
        'X-Forwarded-Proto',
        'http',
        'X-Forwarded-Host',
        'evil',
        'X-Kept',
        'k',
      ],
      { ...context, clientAddress: undefined },
    );
    assert.deepEqual(lines(head), [
      'GET / HTTP/1.1',
      'Host: 127.0.0.1:40001',
      'X-Kept: k',
      'X-Forwarded-Proto: https',
      'Authorization: token s3cret',
      'Connection: keep-alive',
    ]);
  });

  it('appends the client to X-Forwarded-For and keeps other cookies', () => {
    const { head } = buildUpstreamHead(
      'GET',
      '/',
      [
        'X-Forwarded-For',
        '203.0.113.9',
        'Cookie',
        'a=1',
        'Cookie',
        'sifu=2',
        'x-forwarded-for',
        '198.51.100.2',
      ],
      context,
    );
    const all = lines(head);
    assert.ok(all.includes('X-Forwarded-For: 203.0.113.9, 198.51.100.2, 192.0.2.1'));
    assert.deepEqual(
      all.filter((line) => line.startsWith('Cookie')),
      ['Cookie: a=1'],
    );
  });

  it('describes the body framing', () => {
    const length = buildUpstreamHead('POST', '/', ['Content-Length', '12'], context);
    assert.equal(length.body, 'length');
    assert.ok(lines(length.head).includes('Content-Length: 12'));
    const empty = buildUpstreamHead('POST', '/', ['Content-Length', '0'], context);
    assert.equal(empty.body, 'none');
    assert.ok(lines(empty.head).includes('Content-Length: 0'));
    const chunked = buildUpstreamHead(
      'POST',
      '/',
      ['Transfer-Encoding', 'chunked', 'Content-Length', '5'],
      context,
    );
    assert.equal(chunked.body, 'chunked');
    assert.ok(lines(chunked.head).includes('Transfer-Encoding: chunked'));
    assert.ok(!lines(chunked.head).some((line) => line.startsWith('Content-Length')));
  });

  it('asks for the same upgrade for WebSockets', () => {
    const { head, body } = buildUpstreamHead(
      'GET',
      '/user/ada/api/kernels/k/channels',
      [
        'Connection',
        'Upgrade',
        'Upgrade',
        'websocket',
        'Sec-WebSocket-Key',
        'k==',
        'Sec-WebSocket-Version',
        '13',
        'Origin',
        'https://n',
      ],
      context,
      true,
    );
    assert.equal(body, 'none');
    const all = lines(head);
    assert.ok(all.includes('Sec-WebSocket-Key: k=='));
    assert.ok(all.includes('Origin: https://n'));
    assert.deepEqual(all.slice(-2), ['Connection: Upgrade', 'Upgrade: websocket']);
  });

  it('copies the lines of a head as received, in runs, the stripped Cookie in its place', () => {
    const raw =
      'GET /user/ada/ HTTP/1.1\r\nHost: n.example\r\nX-A:  spaced \r\nx-b:1\r\nConnection: x-b, keep-alive\r\n' +
      'Cookie: sifu-session=a; _xsrf=b\r\nAccept: */*\r\nX-Sifu-Relay-Key: planted\r\nAccept-Language: en\r\n\r\n';
    const parsed = parseRequestHead(Buffer.from(raw, 'latin1'));
    assert.ok(typeof parsed === 'object');
    const fromLines = buildUpstreamHead('GET', '/user/ada/', parsed, context);
    assert.deepEqual(lines(fromLines.head), [
      'GET /user/ada/ HTTP/1.1',
      'Host: 127.0.0.1:40001',
      'X-A:  spaced ',
      'Cookie: _xsrf=b',
      'Accept: */*',
      'Accept-Language: en',
      'X-Forwarded-For: 192.0.2.1',
      'X-Forwarded-Host: n.example',
      'X-Forwarded-Proto: https',
      'Authorization: token s3cret',
      'Connection: keep-alive',
    ]);
    // The same headers as from Node's pairs, values apart from their blanks.
    const fromPairs = buildUpstreamHead('GET', '/user/ada/', pairsOf(parsed), context);
    assert.equal(fromLines.head.replace('X-A:  spaced ', 'X-A: spaced'), fromPairs.head);
  });
});
