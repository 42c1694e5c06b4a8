import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  hasDotSegment,
  hostHeaderOf,
  hostOfRequest,
  isDnsHost,
  notebookUrl,
  notebookUrlOwner,
  type ParsedUserPath,
  parseUserPath,
  RESERVED_SERVER_NAMES,
  resolveNamedServer,
  targetAddress,
  userOrigin,
} from './routes.js';

const user = (userName: string, rest: string, missingSlash = false): ParsedUserPath => ({
  ok: true,
  userName,
  serverName: '',
  rest,
  missingSlash,
});
const refused = (reason: string): ParsedUserPath => ({ ok: false, reason }) as ParsedUserPath;

describe('parseUserPath', () => {
  const table: [string, ParsedUserPath][] = [
    ['/user/ada/', user('ada', '')],
    ['/user/ada/tree', user('ada', 'tree')],
    ['/user/ada/api/contents/a%20b.ipynb?content=1', user('ada', 'api/contents/a%20b.ipynb')],
    ['/user/ada?next=/x', user('ada', '', true)],
    ['/user/ada', user('ada', '', true)],
    ['/user/a.b-c_d9/', user('a.b-c_d9', '')],
    ['/user/9lives/', user('9lives', '')],
    ['/user/%61da/x', user('ada', 'x')],
    [`/user/${'a'.repeat(64)}/`, user('a'.repeat(64), '')],
    ['/user/ada//double', user('ada', '/double')],
    ['/user/ada/file..name', user('ada', 'file..name')],
    ['/user/ada/tree?path=../../etc', user('ada', 'tree')],
    ['/', refused('not-user-path')],
    ['/hub/login', refused('not-user-path')],
    ['/users/ada/', refused('not-user-path')],
    ['/user', refused('not-user-path')],
    ['http://evil.example/user/ada/', refused('not-user-path')],
    ['/user/', refused('bad-name')],
    ['/user//x', refused('bad-name')],
    ['/user/../x', refused('bad-name')],
    ['/user/a..b/', refused('bad-name')],
    ['/user/%2e%2e/x', refused('bad-name')],
    ['/user/.hidden/', refused('bad-name')],
    ['/user/-ada/', refused('bad-name')],
    ['/user/Ada/', refused('bad-name')],
    ['/user/ada%2fbob/', refused('bad-encoding')],
    ['/user/ada%2Fbob/', refused('bad-encoding')],
    ['/user/ada%5cbob/', refused('bad-encoding')],
    ['/user/%zz/', refused('bad-encoding')],
    ['/user/%C3%A9/', refused('bad-name')],
    ['/user/é/', refused('bad-name')],
    ['/user/ada%00/', refused('bad-name')],
    ['/user/ada bob/', refused('bad-name')],
    [`/user/${'a'.repeat(65)}/`, refused('bad-name')],
    [`/user/${'a'.repeat(300)}/`, refused('bad-name')],
    ['/user/ada/../bob/', refused('dot-segment')],
    ['/user/ada/..', refused('dot-segment')],
    ['/user/ada/%2e%2e/bob/', refused('dot-segment')],
    ['/user/ada/%2E./bob/', refused('dot-segment')],
    ['/user/ada/a%2f..%2fb', refused('dot-segment')],
    ['/user/ada/..%5cb', refused('dot-segment')],
  ];
  for (const [url, expected] of table) {
    it(`${url.length > 60 ? `${url.slice(0, 57)}...` : url} -> ${expected.ok ? expected.userName : expected.reason}`, () => {
      assert.deepEqual(parseUserPath(url), expected);
    });
  }
});

describe('hasDotSegment', () => {
  const table: [string, boolean][] = [
    ['', false],
    ['a/b/c', false],
    ['a.b/c..d/...', false],
    ['..', true],
    ['a/../b', true],
    ['a/%2e%2E/b', true],
    ['a/%2e%2e%2fb', true],
    ['a/%zz/..', true],
    ['a/%zz/b', false],
  ];
  for (const [path, expected] of table) {
    it(`${JSON.stringify(path)} -> ${expected}`, () => assert.equal(hasDotSegment(path), expected));
  }
});

describe('route targets', () => {
  it('are an http origin or a unix socket path, nothing else', () => {
    const table: [string, ReturnType<typeof targetAddress>][] = [
      ['http://127.0.0.1:45678', { host: '127.0.0.1', port: 45678 }],
      ['http://[::1]:8888', { host: '::1', port: 8888 }],
      ['unix:/srv/sifu/run/ada/jupyter.sock', { path: '/srv/sifu/run/ada/jupyter.sock' }],
      ['unix:relative.sock', undefined],
      ['unix:/a/../b.sock', undefined],
      ['https://127.0.0.1:1', undefined],
      ['http://user:pw@127.0.0.1:1', undefined],
      ['http://127.0.0.1:1/path', undefined],
      ['not a target', undefined],
    ];
    for (const [target, expected] of table) assert.deepEqual(targetAddress(target), expected, target);
    assert.equal(hostHeaderOf('unix:/x.sock'), 'localhost');
    assert.equal(hostHeaderOf('http://127.0.0.1:45678'), '127.0.0.1:45678');
  });
});

describe('per-user origins', () => {
  const on = { notebookOrigin: 'https://notebooks.example.org', userOrigins: true };
  const off = { notebookOrigin: 'http://127.0.0.1:3335', userOrigins: false };
  it('give each user an origin under the notebook host, and a notebook URL on it', () => {
    assert.equal(userOrigin(on, 'ada'), 'https://ada.notebooks.example.org');
    assert.equal(
      userOrigin({ notebookOrigin: 'http://localhost:3335', userOrigins: true }, 'ada'),
      'http://ada.localhost:3335',
    );
    assert.match(userOrigin(on, 'a.b'), /^https:\/\/u--[0-9a-f]{32}\.notebooks\.example\.org$/);
    assert.equal(notebookUrl(on, 'ada', 'tree'), 'https://ada.notebooks.example.org/user/ada/tree');
    assert.equal(notebookUrl(off, 'ada'), 'http://127.0.0.1:3335/user/ada/');
  });
  it('name the user a Host belongs to, ports aside', () => {
    const table: [string | undefined, ReturnType<typeof hostOfRequest>][] = [
      ['ada.notebooks.example.org', { kind: 'user', label: 'ada' }],
      ['ADA.notebooks.example.org:443', { kind: 'user', label: 'ada' }],
      ['notebooks.example.org', { kind: 'bare' }],
      ['x.ada.notebooks.example.org', { kind: 'other' }],
      ['ada.notebooks.example.org.evil', { kind: 'other' }],
      ['adanotebooks.example.org', { kind: 'other' }],
      ['ada.notebooks.example.org/x', { kind: 'other' }],
      ['', { kind: 'other' }],
      [undefined, { kind: 'other' }],
    ];
    for (const [host, expected] of table) assert.deepEqual(hostOfRequest(on, host), expected, String(host));
    assert.deepEqual(hostOfRequest(off, 'ada.127.0.0.1'), { kind: 'other' });
  });
  it("own a notebook URL only on its user's origin", () => {
    assert.equal(notebookUrlOwner(on, new URL('https://ada.notebooks.example.org/user/ada/x')), 'ada');
    assert.equal(notebookUrlOwner(on, new URL('https://bob.notebooks.example.org/user/ada/x')), null);
    assert.equal(notebookUrlOwner(on, new URL('https://notebooks.example.org/user/ada/x')), null);
    assert.equal(notebookUrlOwner(off, new URL('http://127.0.0.1:3335/user/ada/x')), 'ada');
    assert.equal(notebookUrlOwner(off, new URL('http://127.0.0.1:3335/hub/x')), null);
  });
  it('are possible for DNS names, not IP literals', () => {
    for (const origin of ['http://localhost:3335', 'https://notebooks.example.org'])
      assert.equal(isDnsHost(origin), true, origin);
    for (const origin of ['http://127.0.0.1:3335', 'http://[::1]:3335', 'http://10.0.0.1'])
      assert.equal(isDnsHost(origin), false, origin);
  });
});

it('a named server is the first segment after the user only when it is one of theirs', () => {
  const isServer = (user: string, server: string) => user === 'ada' && server === 'gpu';
  const resolve = (url: string) => resolveNamedServer(parseUserPath(url), isServer);
  assert.deepEqual(resolve('/user/ada/gpu/api/kernels?x=1'), {
    ok: true,
    userName: 'ada',
    serverName: 'gpu',
    rest: 'api/kernels',
    missingSlash: false,
  });
  assert.deepEqual(resolve('/user/ada/gpu'), {
    ok: true,
    userName: 'ada',
    serverName: 'gpu',
    rest: '',
    missingSlash: true,
  });
  // Not ada's server, or not a server at all: the default server's path, unchanged.
  assert.equal((resolve('/user/bob/gpu/tree') as { serverName: string }).serverName, '');
  assert.deepEqual(resolve('/user/ada/tree/gpu'), parseUserPath('/user/ada/tree/gpu'));
  assert.deepEqual(resolve('/user/ada/'), parseUserPath('/user/ada/'));
  assert.deepEqual(resolve('/user/../gpu/'), parseUserPath('/user/../gpu/'));
  for (const reserved of ['api', 'tree', 'lab', 'files']) assert.ok(RESERVED_SERVER_NAMES.has(reserved));
});
