import { newSecret } from '../secrets.js';

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
  put(login: PendingLogin): string;
  /** Returns the login and forgets it (single use); undefined when unknown or expired. */
  take(id: string): PendingLogin | undefined;
  readonly size: number;
}

export interface PendingLoginOptions {
  ttlMs: number;
  /** Bound on memory: past it the oldest pending logins are dropped. */
  max: number;
  now?: () => number;
}

/**
 * Pending logins in this process's memory, each for `ttlMs`.
 *
 * One process is enough for a single gateway. With several replicas the callback may reach another
 * replica than the one that began the login, which then answers SIFU_ERR_OAUTH_STATE: either make
 * the load balancer sticky for `/hub/login` and `/hub/oauth_callback`, or move these to the store.
 */
export function createPendingLogins(options: PendingLoginOptions): PendingLogins {
  const now = options.now ?? Date.now;
  const logins = new Map<string, PendingLogin & { expires: number }>();

  const dropExpired = (at: number) => {
    // Insertion order is expiry order (one TTL for all), so the scan stops at the first live entry.
    for (const [id, login] of logins) {
      if (login.expires > at) break;
      logins.delete(id);
    }
  };

  return {
    put(login) {
      const at = now();
      dropExpired(at);
      while (logins.size >= options.max) {
        const oldest = logins.keys().next().value as string;
        logins.delete(oldest);
      }
      const id = newSecret();
      logins.set(id, { ...login, expires: at + options.ttlMs });
      return id;
    },
    take(id) {
      const login = logins.get(id);
      if (!login) return undefined;
      logins.delete(id);
      if (login.expires <= now()) return undefined;
      const { expires: _expires, ...rest } = login;
      return rest;
    },
    get size() {
      return logins.size;
    },
  };
}
