import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecretScrubber } from './secret-scrubber.js';

const SECRET = 'Zq3-secret_token-0123456789';

function scrubInPieces(text: string, cut: number[]): string {
  const scrubber = new SecretScrubber(SECRET);
  const bytes = Buffer.from(text, 'latin1');
  const out: Buffer[] = [];
  let from = 0;
  for (const to of [...cut, bytes.length]) {
    out.push(scrubber.push(bytes.subarray(from, to), to === bytes.length));
    from = to;
  }
  return Buffer.concat(out).toString('latin1');
}

describe('SecretScrubber', () => {
  const page = `<body data-jupyter-api-token="${SECRET}"><a href="/tree?token=${SECRET}">x</a>${SECRET}`;

  it('masks every occurrence, keeping the length, at every split point', () => {
    const masked = page.replaceAll(SECRET, 'x'.repeat(SECRET.length));
    for (let a = 0; a <= page.length; a++) {
      assert.equal(scrubInPieces(page, a === 0 ? [] : [a]), masked, `split at ${a}`);
    }
    for (let a = 1; a < page.length; a += 7) {
      for (let b = a; b < page.length; b += 11) assert.equal(scrubInPieces(page, [a, b]), masked);
    }
  });

  it('leaves bodies without the secret byte for byte, and gives back what it held at the end', () => {
    const text = `${SECRET.slice(0, -1)}!`;
    assert.equal(scrubInPieces(text, [3, 10]), text);
    assert.equal(scrubInPieces('', []), '');
  });
});
