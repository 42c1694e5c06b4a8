import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 32 random bytes, URL-safe: used for API tokens, session ids, server secrets and handoff codes. */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The stored form of a high-entropy secret. A plain SHA-256 is enough: these are not passwords. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretsEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
