import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeUsername } from '../names.js';
import { readCookie } from './sessions.js';
import { hasScope, type Identity, mayActOn, parseScopes } from './tokens.js';

test('user names are normalised or refused with a stable code', () => {
  assert.equal(normalizeUsername('Ada'), 'ada');
  assert.equal(normalizeUsername('ada.lovelace_1-x'), 'ada.lovelace_1-x');
  for (const bad of [
    '',
    '..',
    '.hidden',
    'a/b',
    '%2f',
    'a%2fb',
    'ädä',
    '\u212Aate',
    'Ad\u0130',
    '\u00a0ada',
    '名前',
    'a'.repeat(300),
    'a..b',
    ' ',
    'a b',
    null,
    42,
  ]) {
    assert.throws(() => normalizeUsername(bad), { code: 'SIFU_ERR_INVALID_USERNAME' }, String(bad));
  }
});

test('scopes parse from lists and strings, unknown ones are refused', () => {
  assert.deepEqual(parseScopes('servers, tokens'), ['servers', 'tokens']);
  assert.deepEqual(parseScopes(['launch', 'launch']), ['launch']);
  assert.throws(() => parseScopes(['root']), { code: 'SIFU_ERR_INVALID_SCOPE' });
  assert.throws(() => parseScopes([1]), { code: 'SIFU_ERR_INVALID_SCOPE' });
});

test('admin implies every scope on every user; other scopes only on oneself', () => {
  const admin: Identity = { userName: 'root', admin: true, scopes: new Set(['admin']), via: 'token' };
  const ada: Identity = { userName: 'ada', admin: false, scopes: new Set(['servers']), via: 'token' };
  assert.ok(hasScope(admin, 'launch'));
  assert.ok(mayActOn(admin, 'ada', 'servers'));
  assert.ok(mayActOn(ada, 'ada', 'servers'));
  assert.ok(!mayActOn(ada, 'bob', 'servers'));
  assert.ok(!mayActOn(ada, 'ada', 'tokens'));
});

test('cookies are read by exact name and malformed values are ignored', () => {
  const value = 'A'.repeat(43);
  assert.equal(readCookie(`x=1; sifu-hub-session=${value}`, 'sifu-hub-session'), value);
  assert.equal(readCookie(`xsifu-hub-session=${value}`, 'sifu-hub-session'), undefined);
  assert.equal(readCookie('sifu-hub-session=short', 'sifu-hub-session'), undefined);
  assert.equal(readCookie('sifu-hub-session=<script>aaaaaaaaaaaaaaaaaaaaaaa', 'sifu-hub-session'), undefined);
  assert.equal(readCookie(undefined, 'sifu-hub-session'), undefined);
});

test('a cookie is read in place as splitting the header at ; and trimming would read it', () => {
  const byParts = (header: string, name: string): string | undefined => {
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq >= 0 && part.slice(0, eq).trim() === name) {
        const value = part.slice(eq + 1).trim();
        return /^[A-Za-z0-9_-]{20,100}$/.test(value) ? value : undefined;
      }
    }
    return undefined;
  };
  const secret = 'b'.repeat(30);
  const pieces = [
    's',
    's=',
    `s=${secret}`,
    ` s = ${secret} `,
    `\ts=${secret}\xa0`,
    'x=1',
    ';',
    ' ',
    '=',
    `s=${secret};`,
    'ss=1',
    `s=short`,
  ];
  let state = 7;
  let compared = 0;
  for (let n = 0; n < 20_000; n++) {
    let header = '';
    const count = n % 6;
    for (let i = 0; i < count; i++) {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      header += pieces[state % pieces.length];
    }
    assert.equal(
      readCookie(header, 's'),
      header === '' ? undefined : byParts(header, 's'),
      JSON.stringify(header),
    );
    compared++;
  }
  assert.equal(compared, 20_000);
});
