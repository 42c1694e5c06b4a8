import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decimal,
  endsWithListOption,
  hasControlByte,
  hasListOption,
  isNamed,
  NameSet,
  sameName,
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
});
