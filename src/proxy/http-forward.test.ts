import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nameCodeIn } from './header-text.js';
import { type ResponseHead, ResponseParser } from './response-parser.js';
import {
  type ContentKind,
  type CspValues,
  clientResponseHeaderText,
  contentKind,
  cspValues,
  clientResponseHeaders as pairsOf,
} from './response-policy.js';

/**
 * `clientResponseHeaders`, checked against `clientResponseHeaderText` (the raw server's form): both must
 * give the same headers, the lines as `name: value` pairs joined.
 */
function clientResponseHeaders(head: ResponseHead, kind: ContentKind, csp: CspValues): string[] {
  const pairs = pairsOf(head, kind, csp);
  const lines = clientResponseHeaderText(head, kind, csp);
  let joined = '';
  for (let i = 0; i < pairs.length; i += 2) joined += `${pairs[i]}: ${pairs[i + 1]}\r\n`;
  assert.equal(lines.text, joined);
  assert.equal(
    lines.length,
    pairs.some((v, i) => i % 2 === 0 && v.toLowerCase() === 'content-length'),
  );
  assert.equal(
    lines.date,
    head.headers.some((v, i) => i % 2 === 0 && v.toLowerCase() === 'date'),
  );
  return pairs;
}

/** The head the parser gives for `raw` (a response head without its blank line). */
function parsed(raw: string): ResponseHead {
  const parser = new ResponseParser();
  parser.reset(true);
  let head: ResponseHead | undefined;
  parser.feed(Buffer.from(`${raw}\r\n\r\n`, 'latin1'), {
    onResponseHead: (h) => {
      head = h;
    },
    onResponseBody() {},
    onResponseEnd() {},
  });
  assert.ok(head, parser.error);
  return head;
}

describe('contentKind', () => {
  const table: [string, string][] = [
    ['', 'page'],
    ['tree', 'page'],
    ['notebooks/a.ipynb', 'page'],
    ['api/kernels', 'page'],
    ['files/a.html', 'user-content'],
    ['files', 'page'],
    ['view/a.html', 'user-content'],
    ['nbconvert/html/a.ipynb', 'user-content'],
    ['nbextensions/x/index.html', 'user-content'],
    ['kernelspecs/python3/logo-64x64.png', 'user-content'],
    ['/files/a.html', 'user-content'],
    ['%66iles/a.html', 'user-content'],
    ['%zz/a', 'user-content'],
    ['api/contents/a.ipynb', 'user-content-unless-json'],
    ['api/contents', 'user-content-unless-json'],
  ];
  for (const [rest, expected] of table) {
    it(`${JSON.stringify(rest)} -> ${expected}`, () => assert.equal(contentKind(rest), expected));
  }
});

describe('clientResponseHeaders', () => {
  const csp = cspValues(["'self'", 'https://lms.example.org']);
  const head = (headers: string[], extra: Partial<ResponseHead> = {}): ResponseHead => {
    let text = 'HTTP/1.1 200 OK';
    const lines: number[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      text += '\r\n';
      const name = headers[i] as string;
      lines.push(text.length, text.length + name.length, nameCodeIn(name, 0, name.length));
      text += `${name}: ${headers[i + 1]}`;
    }
    const date = headers.some((v, i) => i % 2 === 0 && v.toLowerCase() === 'date');
    const base = { status: 200, reason: 'OK', framing: 'length' as const, keepAlive: true };
    return { ...base, headers, contentType: undefined, text, lines, date, ...extra };
  };

  it('as lines, copies the kept ones as received, blanks and case kept, in runs', () => {
    const raw = parsed(
      'HTTP/1.1 200 OK\r\nX-A:  spaced \r\nDATE: today\r\nconnection: keep-alive\r\nX-B:\r\nSet-Cookie: __Host-sifu-nb-session=x\r\nSet-Cookie: a=1',
    );
    const out = clientResponseHeaderText(raw, 'page', csp);
    assert.equal(
      out.text,
      "X-A:  spaced \r\nDATE: today\r\nX-B:\r\nSet-Cookie: a=1\r\nContent-Security-Policy: frame-ancestors 'self' https://lms.example.org\r\nX-Content-Type-Options: nosniff\r\n",
    );
    assert.deepEqual([out.length, out.date], [false, true]);
    // The pairs, sliced when asked for, are the trimmed values.
    assert.deepEqual(raw.headers.slice(0, 4), ['X-A', 'spaced', 'DATE', 'today']);
    const bare = clientResponseHeaderText(parsed('HTTP/1.1 204 No Content'), 'user-content', csp);
    assert.equal(bare.text.split('\r\n')[0], `Content-Security-Policy: ${csp.userContent}`);
  });

  it('drops hop-by-hop and replaced headers, keeps the rest, adds CSP and nosniff', () => {
    const out = clientResponseHeaders(
      head([
        'Content-Type',
        'text/html',
        'Content-Length',
        '3',
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'Content-Security-Policy',
        "frame-ancestors 'self'",
        'X-Frame-Options',
        'DENY',
        'Set-Cookie',
        '_xsrf=1',
        'Set-Cookie',
        'sifu-session=planted',
        'set-cookie',
        '__Host-sifu=x',
        'X-Content-Type-Options',
        'nosniff',
        'ETag',
        '"e"',
      ]),
      'page',
      csp,
    );
    assert.deepEqual(out, [
      'Content-Type',
      'text/html',
      'Content-Length',
      '3',
      'Set-Cookie',
      '_xsrf=1',
      'ETag',
      '"e"',
      'Content-Security-Policy',
      "frame-ancestors 'self' https://lms.example.org",
      'X-Content-Type-Options',
      'nosniff',
    ]);
  });

  it('drops Content-Length when the body is re-chunked', () => {
    const out = clientResponseHeaders(
      head(['Content-Length', '3', 'Transfer-Encoding', 'chunked'], { framing: 'chunked' }),
      'page',
      csp,
    );
    assert.deepEqual(out.slice(0, -4), []);
  });

  it('sandboxes user content, and contents-API answers unless they are JSON', () => {
    const sandbox = "sandbox allow-scripts; frame-ancestors 'self' https://lms.example.org";
    const cspOf = (kind: Parameters<typeof clientResponseHeaders>[1], contentType?: string) =>
      clientResponseHeaders(head([], { contentType }), kind, csp)[1];
    assert.equal(cspOf('user-content', 'application/json'), sandbox);
    assert.equal(cspOf('user-content-unless-json', 'text/html'), sandbox);
    assert.equal(cspOf('user-content-unless-json', undefined), sandbox);
    assert.equal(
      cspOf('user-content-unless-json', 'application/json; charset=UTF-8'),
      "frame-ancestors 'self' https://lms.example.org",
    );
  });

  it("defaults to frame-ancestors 'none' when nothing may frame", () => {
    assert.deepEqual(cspValues([]), {
      page: "frame-ancestors 'none'",
      userContent: "sandbox allow-scripts; frame-ancestors 'none'",
    });
  });
});
