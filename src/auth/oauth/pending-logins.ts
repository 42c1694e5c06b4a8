import type { Store } from '../../store/store.js';
import { hashSecret, newSecret } from '../secrets.js';

/** What Sifu remembers between sending a browser to the platform and its return to the callback. */
export interface PendingLogin {
  state: string;
  codeVerifier: string;
  /** OpenID Connect only. */
  nonce: string | null;
  /** Where to land after sign-in, already checked by `safeNext`. */
  next: string | null;
}

export interface PendingLogins {
  /** Remembers a login; returns the random id the browser's cookie will hold. */
  put(login: PendingLogin): Promise<string>;
  /** Returns the login and forgets it (single use); undefined when unknown or expired. */
  take(id: string): Promise<PendingLogin | undefined>;
}

const KIND = 'oauth-login';

/**
 * Pending logins as one-time tickets in the store, each for `ttlMs`: the callback may reach another
 * replica than the one that began the login, and a login is redeemed at most once even then (the store
 * takes a ticket atomically). Only the hash of the cookie's id is stored.
 */
export function storePendingLogins(
  store: Pick<Store, 'createTicket' | 'consumeTicket'>,
  ttlMs: number,
  now: () => number = Date.now,
): PendingLogins {
  return {
    async put(login) {
      const id = newSecret();
      await store.createTicket(hashSecret(id), {
        kind: KIND,
        userName: null,
        data: { ...login },
        expiresAt: new Date(now() + ttlMs),
      });
      return id;
    },
    async take(id) {
      const ticket = await store.consumeTicket(hashSecret(id), KIND, new Date(now()));
      if (!ticket) return undefined;
      const { state, codeVerifier, nonce, next } = ticket.data as Partial<PendingLogin>;
      if (typeof state !== 'string' || typeof codeVerifier !== 'string') return undefined;
      return { state, codeVerifier, nonce: nonce ?? null, next: next ?? null };
    },
  };
}
