import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ResponseHead } from './response-parser.js';
import { clientResponseHeaders, contentKind, cspValues } from './response-policy.js';

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
  const head = (headers: string[], extra: Partial<ResponseHead> = {}): ResponseHead => ({
    status: 200,
    reason: 'OK',
    headers,
    framing: 'length',
    keepAlive: true,
    contentType: undefined,
    ...extra,
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
