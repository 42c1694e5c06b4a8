import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FeedResult, type ResponseHead, ResponseParser } from './response-parser.js';

interface Outcome {
  head?: Omit<ResponseHead, 'headers'> & { headers: string[] };
  body: string;
  ends: number;
  /** Body pieces flagged as completing a Content-Length body. */
  lasts: number;
  result: FeedResult;
  /** Input not consumed by the message: leftover plus what was not fed. */
  after: string;
}

/** Feeds `input` cut into `pieces`, then (if the message is close-delimited) signals the close. */
function run(pieces: Buffer[], noBody = false, closeAtEnd = false): Outcome {
  const parser = new ResponseParser();
  parser.reset(noBody);
  const outcome: Outcome = { body: '', ends: 0, lasts: 0, result: 'more', after: '' };
  const handler = {
    onResponseHead: (head: ResponseHead) => {
      outcome.head = head;
    },
    onResponseBody: (chunk: Buffer, last: boolean) => {
      assert.equal(outcome.lasts, 0, 'body after the last piece');
      outcome.body += chunk.toString('latin1');
      if (last) outcome.lasts++;
    },
    onResponseEnd: () => {
      outcome.ends++;
    },
  };
  for (let i = 0; i < pieces.length; i++) {
    outcome.result = parser.feed(pieces[i] as Buffer, handler);
    if (outcome.result !== 'more') {
      outcome.after =
        (parser.leftover?.toString('latin1') ?? '') + Buffer.concat(pieces.slice(i + 1)).toString('latin1');
      break;
    }
  }
  if (closeAtEnd && outcome.result === 'more' && parser.finish(handler)) outcome.result = 'done';
  return outcome;
}

function everySplit(input: string, noBody: boolean, closeAtEnd: boolean): Outcome[] {
  const bytes = Buffer.from(input, 'latin1');
  const outcomes = [run([bytes], noBody, closeAtEnd)];
  for (let at = 1; at < bytes.length; at++) {
    outcomes.push(run([bytes.subarray(0, at), bytes.subarray(at)], noBody, closeAtEnd));
  }
  const single: Buffer[] = [];
  for (let at = 0; at < bytes.length; at++) single.push(bytes.subarray(at, at + 1));
  outcomes.push(run(single, noBody, closeAtEnd));
  return outcomes;
}

interface Case {
  name: string;
  input: string;
  noBody?: boolean;
  closeAtEnd?: boolean;
  expect: Partial<Outcome> & { status?: number; framing?: string; keepAlive?: boolean; headers?: string[] };
}

const cases: Case[] = [
  {
    name: 'Content-Length',
    input: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello',
    expect: {
      status: 200,
      framing: 'length',
      keepAlive: true,
      body: 'hello',
      ends: 1,
      lasts: 1,
      result: 'done',
      headers: ['Content-Type', 'text/plain', 'Content-Length', '5'],
    },
  },
  {
    name: 'chunked with extensions and trailers',
    input:
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n',
    expect: {
      status: 200,
      framing: 'chunked',
      keepAlive: true,
      body: 'hello world0123456789',
      ends: 1,
      lasts: 0,
      result: 'done',
    },
  },
  {
    name: 'gzip then chunked',
    input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n',
    expect: { framing: 'chunked', body: 'ab', ends: 1, result: 'done' },
  },
  {
    name: '204 has no body',
    input: 'HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n',
    expect: { status: 204, framing: 'none', body: '', ends: 1, result: 'done' },
  },
  {
    name: '304 has no body',
    input: 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
    expect: { status: 304, framing: 'none', ends: 1, result: 'done', keepAlive: true },
  },
  {
    name: 'HEAD answers have no body',
    input: 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n',
    noBody: true,
    expect: { framing: 'none', body: '', ends: 1, result: 'done', headers: ['Content-Length', '100'] },
  },
  {
    name: 'Content-Length: 0',
    input: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
    expect: { framing: 'length', body: '', ends: 1, result: 'done' },
  },
  {
    name: 'close-delimited HTTP/1.0',
    input: 'HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end',
    closeAtEnd: true,
    expect: { framing: 'close', keepAlive: false, body: 'until the end', ends: 1, lasts: 0, result: 'done' },
  },
  {
    name: 'unknown transfer coding is close-delimited',
    input: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz',
    closeAtEnd: true,
    expect: { framing: 'close', keepAlive: false, body: 'zz', result: 'done' },
  },
  {
    name: 'HTTP/1.0 keep-alive',
    input: 'HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok',
    expect: { keepAlive: true, body: 'ok', result: 'done' },
  },
  {
    name: 'Connection: close',
    input: 'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok',
    expect: { keepAlive: false, body: 'ok', result: 'done' },
  },
  {
    name: '100 Continue and 103 Early Hints are skipped',
    input:
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx',
    expect: { status: 201, body: 'x', ends: 1, result: 'done', headers: ['Content-Length', '1'] },
  },
  {
    name: '101 hands over the bytes after the head',
    input: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi',
    expect: { status: 101, ends: 0, result: 'upgrade', after: '\x81\x02hi' },
  },
  {
    name: 'bytes after a complete response are left over',
    input: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA',
    expect: { body: 'ok', ends: 1, result: 'done', after: 'EXTRA' },
  },
  {
    name: 'header values are trimmed, empty reason allowed',
    input: 'HTTP/1.1 200\r\nX-A:   spaced  \r\nX-B:\r\nContent-Length: 0\r\n\r\n',
    expect: { status: 200, headers: ['X-A', 'spaced', 'X-B', '', 'Content-Length', '0'], result: 'done' },
  },
];

const failures: [string, string][] = [
  ['not HTTP/1.x', 'HTTP/2 200 OK\r\n\r\n'],
  ['bad status', 'HTTP/1.1 2x0 OK\r\n\r\n'],
  ['four-digit status', 'HTTP/1.1 2000 OK\r\n\r\n'],
  ['header without colon', 'HTTP/1.1 200 OK\r\nBad Header\r\n\r\n'],
  ['obsolete line folding', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n'],
  ['space before colon', 'HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n'],
  ['conflicting Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
  ['non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
  ['bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
  [
    'chunk longer than its size',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n',
  ],
  ['bare LF in a chunk line', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n'],
  ['oversized head', `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`],
  [
    'Transfer-Encoding with Content-Length',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 2\r\n\r\nokEXTRA',
  ],
  [
    'chunked with Content-Length',
    'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  ],
  [
    'a bare LF inside a header value',
    'HTTP/1.1 200 OK\r\nX-A: a\nSet-Cookie: s=1\r\nContent-Length: 0\r\n\r\n',
  ],
  [
    'a bare CR inside a header value',
    'HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: s=1\r\nContent-Length: 0\r\n\r\n',
  ],
  ['a NUL in a header value', 'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n'],
  [
    'a bare LF in an upgrade answer',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\nSet-Cookie: x=1\r\n\r\n',
  ],
  ['a control character in the reason phrase', 'HTTP/1.1 200 O\x0bK\r\nContent-Length: 0\r\n\r\n'],
  // Where trimming could remove it (the end of a value), a control byte is refused all the same.
  ['a control character ending a header value', 'HTTP/1.1 200 OK\r\nX-A: a\x0b\r\nContent-Length: 0\r\n\r\n'],
  ['a CR ending a header value', 'HTTP/1.1 200 OK\r\nX-A: a\r\r\nContent-Length: 0\r\n\r\n'],
  ['a status in exponent form', 'HTTP/1.1 2e2 OK\r\nContent-Length: 0\r\n\r\n'],
];

describe('ResponseParser', () => {
  for (const c of cases) {
    it(`${c.name}, at every split point`, () => {
      for (const outcome of everySplit(c.input, c.noBody ?? false, c.closeAtEnd ?? false)) {
        const { status, framing, keepAlive, headers, ...rest } = c.expect;
        if (status !== undefined) assert.equal(outcome.head?.status, status);
        if (framing !== undefined) assert.equal(outcome.head?.framing, framing);
        if (keepAlive !== undefined) assert.equal(outcome.head?.keepAlive, keepAlive);
        if (headers !== undefined) assert.deepEqual(outcome.head?.headers, headers);
        for (const [key, value] of Object.entries(rest))
          assert.deepEqual(outcome[key as keyof Outcome], value, key);
      }
    });
  }

  for (const [name, input] of failures) {
    it(`refuses ${name}`, () => {
      const outcomes =
        input.length > 1000 ? [run([Buffer.from(input, 'latin1')])] : everySplit(input, false, false);
      for (const outcome of outcomes) {
        assert.equal(outcome.result, 'error');
        assert.equal(outcome.ends, 0);
      }
    });
  }

  it('reads the content type and the reason phrase', () => {
    const outcome = run([
      Buffer.from(
        'HTTP/1.1 404 Not Found Here\r\ncontent-type: application/json\r\nContent-Length: 0\r\n\r\n',
      ),
    ]);
    assert.equal(outcome.head?.reason, 'Not Found Here');
    assert.equal(outcome.head?.contentType, 'application/json');
  });

  it('reports a truncated body as incomplete on close', () => {
    const parser = new ResponseParser();
    parser.reset(false);
    const handler = { onResponseHead() {}, onResponseBody() {}, onResponseEnd() {} };
    assert.equal(
      parser.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'), handler),
      'more',
    );
    assert.equal(parser.headSeen, true);
    assert.equal(parser.finish(handler), false);
  });

  it('stops when the handler aborts', () => {
    const parser = new ResponseParser();
    parser.reset(false);
    let bodies = 0;
    const handler = {
      onResponseHead: () => parser.abort('no thanks'),
      onResponseBody: () => {
        bodies++;
      },
      onResponseEnd() {},
    };
    assert.equal(
      parser.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), handler),
      'error',
    );
    assert.equal(bodies, 0);
    assert.equal(parser.error, 'no thanks');
  });

  it('can be reused after reset', () => {
    const parser = new ResponseParser();
    const handler = { onResponseHead() {}, onResponseBody() {}, onResponseEnd() {} };
    for (let i = 0; i < 3; i++) {
      parser.reset(false);
      assert.equal(
        parser.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx'), handler),
        'done',
      );
    }
  });
});
