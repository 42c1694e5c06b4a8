import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSecretShaped, newSecret } from './secrets.js';

test('a new secret has the shape of one', () => {
  for (let i = 0; i < 50; i++) assert.equal(isSecretShaped(newSecret()), true);
});

test('the shape: 20 to 100 characters of the base64url alphabet, nothing else', () => {
  assert.equal(isSecretShaped('a'.repeat(19)), false);
  assert.equal(isSecretShaped('a'.repeat(20)), true);
  assert.equal(isSecretShaped('Z'.repeat(100)), true);
  assert.equal(isSecretShaped('Z'.repeat(101)), false);
  assert.equal(isSecretShaped(`${'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'}0123456789-_`), true);
  // Each character outside the alphabet refuses the value, wherever it stands.
  const base = 'A'.repeat(30);
  for (const bad of ['+', '/', '=', ' ', '.', '%', ';', '\0', '\n', 'é', 'Ａ', '\u0141', '\ud83d']) {
    assert.equal(isSecretShaped(bad + base), false, JSON.stringify(bad));
    assert.equal(isSecretShaped(base + bad), false, JSON.stringify(bad));
    assert.equal(isSecretShaped(base.slice(0, 10) + bad + base.slice(10)), false, JSON.stringify(bad));
  }
  // The character whose low byte is in the alphabet is still not in it.
  assert.equal(isSecretShaped(`${base}\u0141`), false);
  assert.equal(isSecretShaped(`${base}${String.fromCharCode(0x100 + 0x41)}`), false);
});

test('a value that is not a string is not a secret', () => {
  for (const value of [undefined, null, 42, ['a'.repeat(30)], { length: 30 }]) {
    assert.equal(isSecretShaped(value), false);
  }
});
