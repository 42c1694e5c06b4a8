import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes, URL-safe: used for API tokens, session ids, server secrets and handoff codes. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Whether `value` has the shape of a secret from `newSecret` (URL-safe characters, with slack on the
 * length): checked before a cookie, code or binding is looked up, so junk never reaches the store.
 */
export function isSecretShaped(value: unknown): value is string {
  if (typeof value !== 'string' || value.length < 20 || value.length > 100) return false;
  // A table, not a regular expression: the proxy checks a cookie with this on every request.
  for (let i = 0; i < value.length; i++) if (SECRET_CHARS[value.charCodeAt(i)] !== 1) return false;
  return true;
}

/** 1 at the char codes of the base64url alphabet (`A-Z a-z 0-9 - _`), read by {@link isSecretShaped}. */
const SECRET_CHARS = new Uint8Array(65536);
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') {
  SECRET_CHARS[char.charCodeAt(0)] = 1;
}

/**
 * The stored form of a high-entropy secret. A plain SHA-256 is enough: these are not passwords. One-shot
 * `crypto.hash` (no Hash object): the proxy derives a session's key with it on every request.
 */
export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

export function secretsEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
