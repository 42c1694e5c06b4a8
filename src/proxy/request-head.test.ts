import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pairsOf } from './header-text.js';
import { MAX_RAW_HEAD_BYTES, parseRequestHead, type RequestHead } from './request-head.js';

const parse = (text: string) => parseRequestHead(Buffer.from(text, 'latin1'));
const head = (text: string) => {
  const result = parse(text);
  assert.equal(typeof result, 'object', JSON.stringify(text));
  return result as RequestHead;
};

describe('parseRequestHead', () => {
  it('reads an ordinary request: method, target, headers as Node gives them, framing, keep-alive', () => {
    const text =
      'POST /user/ada/api/contents?x=1 HTTP/1.1\r\nHost: ada.nb\r\nContent-Length:  12 \r\nX-A:\tb c\t\r\n\r\n';
    const h = head(`${text}body`);
    assert.equal(h.method, 'POST');
    assert.equal(h.url, '/user/ada/api/contents?x=1');
    assert.equal(h.http10, false);
    assert.deepEqual(pairsOf(h), ['Host', 'ada.nb', 'Content-Length', '12', 'X-A', 'b c']);
    assert.deepEqual({ ...h.headers }, { host: 'ada.nb', 'content-length': '12', 'x-a': 'b c' });
    assert.equal(h.bodyLength, 12);
    assert.equal(h.keepAlive, true);
    assert.equal(h.length, Buffer.byteLength(text));
  });

  it('keeps HTTP/1.0 alive only when asked, and closes when a request says close', () => {
    assert.equal(head('GET /user/a/ HTTP/1.0\r\n\r\n').keepAlive, false);
    assert.equal(head('GET /user/a/ HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n').keepAlive, true);
    assert.equal(head('GET /user/a/ HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n').keepAlive, false);
  });

  it('asks for more until the blank line, whatever the split', () => {
    const text = 'GET /user/ada/ HTTP/1.1\r\nHost: h\r\n\r\n';
    for (let cut = 0; cut < text.length; cut++) assert.equal(parse(text.slice(0, cut)), 'more', String(cut));
    const whole = Buffer.from(text, 'latin1');
    assert.equal((parseRequestHead(whole, whole.length - 2) as RequestHead).url, '/user/ada/');
  });

  it("leaves to Node's server everything it does not serve itself", () => {
    const unhandled = [
      // framing Node decides: chunked, two lengths, a bad length, 100-continue
      'POST /user/a/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n',
      'POST /user/a/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
      'POST /user/a/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n',
      'POST /user/a/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n',
      'POST /user/a/ HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n',
      'POST /user/a/ HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n',
      'POST /user/a/ HTTP/1.1\r\nHost: h\r\nContent-Length: 1234567890123456\r\n\r\n',
      'POST /user/a/ HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\n',
      'POST /user/a/ HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n',
      // upgrades
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade\r\n\r\n',
      // odd lines and bytes
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n',
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\n\tX-A: a\r\n\r\n',
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n',
      'GET /user/a/ HTTP/1.1\r\nHost: h\nX-A: a\r\n\r\n',
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n',
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\nX-A: caf\xe9\r\n\r\n',
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\nX-A: a\x7f\r\n\r\n',
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\nBad Header: a\r\n\r\n',
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\n: a\r\n\r\n',
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n',
      'GET /user/a/ HTTP/1.1\r\nHost: h\r\nHost: i\r\n\r\n',
      // request lines
      'GET /user/a/ HTTP/1.1\r\n\r\n',
      'GARBAGE\r\n\r\n',
      '\r\nGET /user/a/ HTTP/1.1\r\nHost: h\r\n\r\n',
      'get /user/a/ HTTP/1.1\r\nHost: h\r\n\r\n',
      'CONNECT /user/a/ HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET  /user/a/ HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET /user/a/ b HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET /user/a/\x00 HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET /user/a/"<x> HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET /user/a/ HTTP/1.2\r\nHost: h\r\n\r\n',
      'GET /user/a/ HTTP/1.1 \r\nHost: h\r\n\r\n',
      'GET /user/a/ http/1.1\r\nHost: h\r\n\r\n',
      'GET http://h/user/a/ HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET * HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET /hub-handoff?code=c HTTP/1.1\r\nHost: h\r\n\r\n',
      'GET /user HTTP/1.1\r\nHost: h\r\n\r\n',
      // limits
      `GET /user/a/${'x'.repeat(MAX_RAW_HEAD_BYTES)} HTTP/1.1\r\nHost: h\r\n\r\n`,
      `GET /user/a/ HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(MAX_RAW_HEAD_BYTES)}`,
      `GET /user/a/ HTTP/1.1\r\nHost: h\r\n${Array.from({ length: 120 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`,
    ];
    for (const text of unhandled) assert.equal(parse(text), 'unhandled', JSON.stringify(text));
  });
});

describe('parseRequestHead on a head under way', () => {
  it("gives up as soon as the bytes show it will not serve the head, so Node's answer is not delayed", () => {
    for (const partial of [
      'GARBAGE',
      'GETS',
      'GET /user/a/ HTTP/1.1\nHost',
      'GET /user/a/ HTTP/1.1\r\nHost: h\rx',
      'GET /user/a/ HTTP/1.1\r\nX: \x00',
      'GET /user/a/ HTTP/1.1\r\nX: caf\xe9',
      'GET /hub-handoff HTTP/1.1\r\nHost',
      'GET /user/a/ HTTP/2.0\r\n',
    ]) {
      assert.equal(parse(partial), 'unhandled', JSON.stringify(partial));
    }
    for (const partial of ['G', 'PAT', 'GET /user/a/ HTTP/1.1\r', 'GET /user/a/ HTTP/1.1\r\nX: a\r']) {
      assert.equal(parse(partial), 'more', JSON.stringify(partial));
    }
  });
});
