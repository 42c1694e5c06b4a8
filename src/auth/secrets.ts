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
  return typeof value === 'string' && /^[A-Za-z0-9_-]{20,100}$/.test(value);
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
