import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  allowedOriginSet,
  isPageRequest,
  isSifuCookieName,
  type OriginHeaders,
  originAllowed,
  prefersHtml,
  safeNextPath,
  setCookieName,
  stripSifuCookies,
} from './request-policy.js';

const NOTEBOOK = 'https://notebooks.example.org';
const allowed = allowedOriginSet(`${NOTEBOOK}/`, ['https://LMS.example.org:443', 'http://localhost:8000']);

describe('allowedOriginSet', () => {
  it('normalizes origins (trailing slash, case, default port)', () => {
    assert.deepEqual([...allowed], [NOTEBOOK, 'https://lms.example.org', 'http://localhost:8000']);
  });
});

describe('originAllowed', () => {
  const table: [string, OriginHeaders, boolean, boolean][] = [
    ['GET', { origin: 'https://evil.example' }, false, true],
    ['HEAD', { origin: 'https://evil.example' }, false, true],
    ['OPTIONS', { origin: 'https://evil.example' }, false, true],
    ['POST', { origin: NOTEBOOK }, false, true],
    ['POST', { origin: 'https://lms.example.org' }, false, true],
    ['POST', { origin: 'http://localhost:8000' }, false, true],
    ['POST', { origin: 'https://evil.example' }, false, false],
    ['POST', { origin: 'http://notebooks.example.org' }, false, false],
    ['POST', { origin: 'null' }, false, false],
    ['DELETE', { origin: 'https://evil.example' }, false, false],
    ['POST', {}, false, true],
    ['POST', { 'sec-fetch-site': 'same-origin' }, false, true],
    ['POST', { 'sec-fetch-site': 'none' }, false, true],
    ['POST', { 'sec-fetch-site': 'cross-site' }, false, false],
    ['POST', { 'sec-fetch-site': 'same-site' }, false, false],
    ['POST', { referer: `${NOTEBOOK}/user/ada/tree` }, false, true],
    ['POST', { referer: 'https://evil.example/x' }, false, false],
    ['POST', { referer: 'not a url' }, false, false],
    ['POST', { origin: NOTEBOOK, 'sec-fetch-site': 'cross-site' }, false, true],
    ['GET', { origin: NOTEBOOK }, true, true],
    ['GET', { origin: 'https://lms.example.org' }, true, true],
    ['GET', { origin: 'https://evil.example' }, true, false],
    ['GET', {}, true, false],
    ['GET', { 'sec-fetch-site': 'same-origin', referer: `${NOTEBOOK}/` }, true, false],
  ];
  for (const [method, headers, websocket, expected] of table) {
    it(`${websocket ? 'upgrade' : method} ${JSON.stringify(headers)} -> ${expected}`, () => {
      assert.equal(originAllowed(method, headers, allowed, websocket), expected);
    });
  }
});

describe('prefersHtml / isPageRequest', () => {
  it('reads Accept', () => {
    assert.equal(prefersHtml(undefined), false);
    assert.equal(prefersHtml('*/*'), false);
    assert.equal(prefersHtml('text/html,application/xhtml+xml'), true);
    assert.equal(prefersHtml('application/json, text/html'), false);
    assert.equal(prefersHtml('text/html, application/json'), true);
  });
  const table: [string, string, Record<string, string>, boolean][] = [
    ['GET', 'tree', { accept: 'text/html' }, true],
    ['HEAD', 'tree', { accept: 'text/html' }, true],
    ['GET', 'tree', {}, false],
    ['GET', 'tree', { accept: 'application/json' }, false],
    ['GET', 'api/contents', { accept: 'text/html' }, false],
    ['GET', 'api/contents', { 'sec-fetch-mode': 'navigate' }, true],
    ['GET', 'tree', { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' }, false],
    ['POST', 'tree', { accept: 'text/html', 'sec-fetch-mode': 'navigate' }, false],
  ];
  for (const [method, rest, headers, expected] of table) {
    it(`${method} ${rest} ${JSON.stringify(headers)} -> ${expected}`, () => {
      assert.equal(isPageRequest(method, rest, headers), expected);
    });
  }
});

describe('safeNextPath', () => {
  const table: [string | null, string | undefined][] = [
    ['/user/ada/', '/user/ada/'],
    ['/user/ada/notebooks/a%20b.ipynb?kernel=1#x', '/user/ada/notebooks/a%20b.ipynb?kernel=1#x'],
    ['/user/ada', '/user/ada'],
    [null, undefined],
    ['', undefined],
    ['//evil.example', undefined],
    ['//evil.example/user/ada/', undefined],
    ['https://evil', undefined],
    ['https://notebooks.example.org/user/ada/', undefined],
    ['/hub/..', undefined],
    ['/hub/login', undefined],
    ['/user/../hub', undefined],
    ['/user/ada/../../hub', undefined],
    ['/user/ada/%2e%2e/x', undefined],
    ['/\\evil.example', undefined],
    ['/user/ada/\\evil', undefined],
    ['/user/ada/ x', undefined],
    ['/user/ada/\r\nSet-Cookie: x', undefined],
    ['/user/ada/é', undefined],
    ['/user/Ada/', undefined],
    [`/user/ada/${'a'.repeat(5000)}`, undefined],
  ];
  for (const [next, expected] of table) {
    it(`${JSON.stringify(next?.slice(0, 50))} -> ${expected ?? 'refused'}`, () => {
      assert.equal(safeNextPath(next), expected);
    });
  }
});

describe('Sifu cookies', () => {
  it('recognizes Sifu cookie names', () => {
    for (const name of [
      'sifu',
      'sifu-session',
      'sifu_hub',
      'SIFU-X',
      '__Host-sifu-session',
      '__Secure-sifu',
    ]) {
      assert.equal(isSifuCookieName(name), true, name);
    }
    for (const name of ['_xsrf', 'session', 'my-sifu', '__Host-other', 'username-127-0-0-1-8888']) {
      assert.equal(isSifuCookieName(name), false, name);
    }
  });
  const table: [string, string | undefined][] = [
    ['_xsrf=1; theme=dark', '_xsrf=1; theme=dark'],
    ['sifu-session=abc', undefined],
    ['sifu-session=abc; _xsrf=1', '_xsrf=1'],
    ['_xsrf=1;sifu-session=abc;  theme=dark', '_xsrf=1; theme=dark'],
    ['__Host-sifu-session=abc; a=sifu', 'a=sifu'],
    ['notsifu=1; sifu=2', 'notsifu=1'],
    [';;', ';;'],
    ['sifu;x=1', 'x=1'],
    ['\t__SECURE-Sifu=1 ;x = 2 ', 'x = 2'],
    ['__host-x=1; sifu =2', '__host-x=1'],
    ['__Host-=1; __Secure-sif=2', '__Host-=1; __Secure-sif=2'],
    // Nothing of Sifu's: the value as it came.
    ['a=1 ;  b=sifu', 'a=1 ;  b=sifu'],
  ];
  for (const [header, expected] of table) {
    it(`strips ${JSON.stringify(header)} -> ${JSON.stringify(expected)}`, () => {
      assert.equal(stripSifuCookies(header), expected);
    });
  }
  it('reads the name of a Set-Cookie value', () => {
    assert.equal(setCookieName('sifu-session=x; Path=/'), 'sifu-session');
    assert.equal(setCookieName(' a =b'), 'a');
  });
});
