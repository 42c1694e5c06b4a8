import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BAD_NAME,
  BAD_VALUE,
  codeOf,
  decimal,
  endsWithListOption,
  hasControlByte,
  hasListOption,
  isNamed,
  KNOWN_NAMES,
  LINE,
  lineEnd,
  linesOf,
  NameSet,
  nameCodeAt,
  nameCodeIn,
  pairsOf,
  sameName,
  scanHeaderLine,
} from './header-text.js';

/** Characters a header value may hold once controls are refused, and a few that matter here. */
const ALPHABET = [
  ' ',
  '\t',
  ',',
  '\xa0',
  'c',
  'C',
  'l',
  'L',
  'o',
  's',
  'S',
  'e',
  'E',
  'k',
  'p',
  'a',
  'i',
  'v',
  '-',
  'x',
];

/** Deterministic pseudo-random strings (a linear congruential generator, seeded). */
function* strings(count: number, seed: number): Generator<string> {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state;
  };
  for (let n = 0; n < count; n++) {
    const length = next() % 16;
    let text = '';
    for (let i = 0; i < length; i++) text += ALPHABET[next() % ALPHABET.length];
    yield text;
  }
}

describe('header-text', () => {
  it('matches names in any case, letters only against their capitals', () => {
    assert.equal(isNamed('Content-Length', 'content-length'), true);
    assert.equal(isNamed('CONTENT-LENGTH', 'content-length'), true);
    assert.equal(isNamed('content-lengthx', 'content-length'), false);
    assert.equal(isNamed('content_length', 'content-length'), false);
    // CR is '-' without the 0x20 bit, and 0x10 is '0' without it: neither may pass for them.
    assert.equal(isNamed('content\rlength', 'content-length'), false);
    assert.equal(isNamed('x\x10', 'x0'), false);
    assert.equal(sameName('Connection: close', 0, 'connection'), true);
    assert.equal(sameName('conn', 0, 'connection'), false);
  });

  it('finds list options exactly as the regular expressions they replace', () => {
    let cases = 0;
    for (const option of ['close', 'keep-alive', 'chunked']) {
      const element = new RegExp(`(?:^|,)\\s*${option}\\s*(?:,|$)`, 'i');
      const last = new RegExp(`(?:^|,)\\s*${option}\\s*$`, 'i');
      const samples = [...strings(4000, option.length)].flatMap((noise) => [
        noise,
        `${noise}${option}`,
        `${option}${noise}`,
        `${noise},${option.toUpperCase()} ${noise}`,
        `${noise}, ${option}\xa0`,
      ]);
      for (const value of samples) {
        assert.equal(
          hasListOption(value, option),
          element.test(value),
          `${option} in ${JSON.stringify(value)}`,
        );
        assert.equal(
          endsWithListOption(value, option),
          last.test(value),
          `${option} last in ${JSON.stringify(value)}`,
        );
        cases++;
      }
    }
    assert.ok(cases > 50_000);
  });

  it('reads decimals as /^\\d{1,15}$/ and Number do, and refuses the rest', () => {
    for (const text of ['0', '42', '000123', '999999999999999']) assert.equal(decimal(text), Number(text));
    for (const text of ['', ' 1', '1 ', '+1', '-1', '1e3', '0x10', '1.5', '1234567890123456', '١']) {
      assert.equal(decimal(text), -1, JSON.stringify(text));
    }
  });

  it('finds control bytes in a range only', () => {
    assert.equal(hasControlByte('a\tb'), false);
    assert.equal(hasControlByte('a\x7fb'), true);
    assert.equal(hasControlByte('ab\r\n', 0, 2), false);
    assert.equal(hasControlByte('ab\x0b', 0, 3), true);
  });

  it('gives the set spelling of a name in the set, in any case', () => {
    const set = new NameSet(['Cookie', 'origin', 'x-sifu-relay-key', 'expect']);
    assert.equal(set.match('COOKIE'), 'cookie');
    assert.equal(set.match('Origin'), 'origin');
    assert.equal(set.match('X-Sifu-Relay-Key'), 'x-sifu-relay-key');
    assert.equal(set.match('Cookies'), undefined);
    assert.equal(set.match('pragma'), undefined);
    assert.equal(set.has('EXPECT'), true);
  });

  it('checks a header line in one pass: token name, colon, value without controls, CRLF or the end', () => {
    const table: [string, boolean, number | 'ok'][] = [
      ['Host: a\r\nX: y', false, 'ok'],
      ['Host: a', false, 'ok'],
      ['X-Empty:', false, 'ok'],
      ['X: tab\tok', true, 'ok'],
      [': no name', false, BAD_NAME],
      ['No colon', false, BAD_NAME],
      ['No colon\r\nX: y', false, BAD_NAME],
      ['Sp ace: x', false, BAD_NAME],
      ['Bad\nName: x', false, BAD_NAME],
      ['X: bare\nLF', false, BAD_VALUE],
      ['X: bare\rCR', false, BAD_VALUE],
      ['X: cr at end\r', false, BAD_VALUE],
      ['X: nul\0', false, BAD_VALUE],
      ['X: del\x7f', false, BAD_VALUE],
      ['X: obs-text \xe9', false, 'ok'],
      ['X: obs-text \xe9', true, BAD_VALUE],
      ['N\xe9: x', false, BAD_NAME],
    ];
    for (const [text, plain, want] of table) {
      // The line as the parsers see it: in the middle of their buffer, a byte of another kind either side.
      const bytes = Buffer.from(`\0${text}\r`, 'latin1');
      const lines: number[] = [];
      const end = scanHeaderLine(bytes, 1, 0, text.length, lines, plain);
      if (want === 'ok') {
        const crlf = text.indexOf('\r\n');
        assert.equal(end, crlf === -1 ? text.length : crlf, JSON.stringify(text));
        const colon = text.indexOf(':');
        assert.deepEqual(lines, [0, colon, nameCodeIn(text, 0, colon)], JSON.stringify(text));
      } else {
        assert.equal(end, want, JSON.stringify(text));
        assert.deepEqual(lines, [], 'nothing pushed for a refused line');
      }
    }
  });

  it('finds the code of a known name in any case, from bytes or a string, and 0 for any other', () => {
    assert.equal(KNOWN_NAMES[0], '');
    assert.equal(new Set(KNOWN_NAMES).size, KNOWN_NAMES.length, 'each name once');
    for (const name of KNOWN_NAMES) assert.equal(name, name.toLowerCase());
    for (let code = 1; code < KNOWN_NAMES.length; code++) {
      const name = KNOWN_NAMES[code] as string;
      const upper = name.toUpperCase();
      const mixed = name.replace(/(^|-)(.)/g, (m) => m.toUpperCase());
      for (const spelling of [name, upper, mixed]) {
        const bytes = Buffer.from(`x${spelling}:`, 'latin1');
        assert.equal(nameCodeAt(bytes, 1, 1 + spelling.length), code, spelling);
        assert.equal(nameCodeIn(`x${spelling}:`, 1, 1 + spelling.length), code, spelling);
      }
      assert.equal(codeOf(name), code);
    }
    // Token names of the same length that differ by one character, or by the 0x20 bit where a known
    // name has no letter, are other names.
    for (const other of [
      'content-lengtx',
      'content_length',
      'hosts',
      'hos',
      'x-sifu-relay-kez',
      'cookie2',
      'te~',
    ]) {
      assert.equal(nameCodeAt(Buffer.from(other, 'latin1'), 0, other.length), 0, other);
      assert.equal(nameCodeIn(other, 0, other.length), 0, other);
    }
    assert.equal(nameCodeAt(Buffer.from('Content^Length'), 0, 14), 0, "'^' is not '~' nor '-'");
    assert.throws(() => codeOf('x-unknown'), /not one of the known header names/);
  });

  it('looks a line up in a name set by its code, or by its text for a name not known', () => {
    const head = linesOf(['Cookie', 'a=1', 'X-Other', '2', 'ETag', '"x"', 'X-Custom', 'y']);
    assert.equal(head.lines.length, 4 * LINE);
    const known = new NameSet(['cookie', 'etag']);
    const mixed = new NameSet(['cookie', 'x-custom']);
    assert.deepEqual(
      [0, 1, 2, 3].map((k) => known.hasLine(head, k)),
      [true, false, true, false],
    );
    assert.deepEqual(
      [0, 1, 2, 3].map((k) => mixed.hasLine(head, k)),
      [true, false, false, true],
    );
  });

  it('turns pairs into lines and back', () => {
    const pairs = ['Host', 'a', 'X-Empty', '', 'Cookie', 'c=1; d=2'];
    const head = linesOf(pairs);
    assert.equal(head.text, 'Host: a\r\nX-Empty: \r\nCookie: c=1; d=2');
    assert.deepEqual(pairsOf(head), pairs);
    assert.equal(lineEnd(head, 0), 7);
    assert.equal(lineEnd(head, 2), head.text.length);
  });
});
