import type { Scope, Store } from '../store/store.js';
import { hashSecret, isSecretShaped, newSecret } from './secrets.js';
import type { Identity } from './tokens.js';

/**
 * Cookie names without their prefix: where the scheme allows `Secure`, each is `__Host-<name>`, which a
 * browser accepts only as `Secure; Path=/` without `Domain`, so no sibling host (a learner's origin under
 * the same parent domain) can set or shadow it (cookie tossing). See {@link cookieName}.
 */
export const HUB_COOKIE = 'sifu-hub-session';
export const NOTEBOOK_COOKIE = 'sifu-nb-session';
/** The notebook-origin cookie holding a browser's handoff binding (`Path=HANDOFF_PATH` when not prefixed). */
export const HANDOFF_COOKIE = 'sifu-nb-handoff';
/** Where, on the notebook origin, the proxy turns a one-time handoff code into a notebook session. */
export const HANDOFF_PATH = '/hub-handoff';

const HANDOFF_TTL_MS = 60_000;
const VISITOR_CACHE_MS = 5_000;
/**
 * While the store cannot be read (PostgreSQL restarting, failing over), a session seen valid this recently
 * stays valid: learners whose servers run keep working through the outage. Revocations wait for it.
 */
const STALE_IF_ERROR_MS = 5 * 60_000;
const SESSION_SCOPES: readonly Scope[] = ['servers', 'tokens'];

export interface CookieOptions {
  /** `Secure`, and so `__Host-` names: https, or a host browsers trust over http (localhost, loopback). */
  secure: boolean;
  maxAgeSeconds: number;
  /**
   * Embedded mode (the notebook inside the platform's iframe): `SameSite=None; Secure; Partitioned`, so
   * the cookie is sent in a third-party iframe, in a jar of its own per embedding site (CHIPS), even where
   * third-party cookies are otherwise blocked.
   */
  embedded?: boolean;
}

/** Reads one cookie's value from a `Cookie` header; undefined when absent or malformed. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  // Read in place (runs on every proxied request): the first `name=` pair decides, as a split would.
  let at = 0;
  while (at < header.length) {
    let end = header.indexOf(';', at);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', at);
    if (eq !== -1 && eq < end) {
      let from = at;
      let to = eq;
      while (from < to && isTrimmed(header.charCodeAt(from))) from++;
      while (to > from && isTrimmed(header.charCodeAt(to - 1))) to--;
      if (to - from === name.length && header.startsWith(name, from)) {
        from = eq + 1;
        to = end;
        while (from < to && isTrimmed(header.charCodeAt(from))) from++;
        while (to > from && isTrimmed(header.charCodeAt(to - 1))) to--;
        const value = header.slice(from, to);
        return isSecretShaped(value) ? value : undefined;
      }
    }
    at = end + 1;
  }
  return undefined;
}

/** What `String.prototype.trim` removes, among the characters a header value can hold (latin1). */
export const isTrimmed = (code: number): boolean =>
  code === 0x20 || (code >= 0x09 && code <= 0x0d) || code === 0xa0;

/** A cookie's name as set and read: `__Host-<name>` whenever the cookie is `Secure`. */
export function cookieName(name: string, options: Pick<CookieOptions, 'secure' | 'embedded'>): string {
  return options.secure || options.embedded ? `__Host-${name}` : name;
}

/** A `Set-Cookie` value; `name` is the unprefixed name, prefixed here as {@link cookieName} says. */
export function setCookie(name: string, value: string, options: CookieOptions, path = '/'): string {
  const prefixed = cookieName(name, options);
  const parts = [
    `${prefixed}=${value}`,
    `Path=${prefixed === name ? path : '/'}`,
    'HttpOnly',
    `Max-Age=${options.maxAgeSeconds}`,
  ];
  if (options.embedded) parts.push('SameSite=None', 'Secure', 'Partitioned');
  else {
    parts.push('SameSite=Lax');
    if (options.secure) parts.push('Secure');
  }
  return parts.join('; ');
}

export function clearCookie(name: string, options: CookieOptions): string {
  const prefixed = cookieName(name, options);
  return setCookie(name, '', { ...options, maxAgeSeconds: 0 }).replace(
    `${prefixed}=;`,
    `${prefixed}=deleted;`,
  );
}

/**
 * The stored hash of a notebook session: of the id and the origin it was minted for, so that the
 * session is valid on that origin only (a cookie carried to another learner's origin finds nothing).
 */
export function originBoundHash(origin: string, id: string): string {
  return hashSecret(`${origin}\n${id}`);
}

interface CachedVisitor {
  identity: Identity | null;
  until: number;
}

/**
 * Server-side sessions. The hub origin and each notebook origin have their own cookie: a notebook
 * session is derived from a hub session through a one-time handoff code, is bound to the one origin it
 * was minted for, and signing out of the hub ends it too. `notebookCookie` defaults to `cookie`.
 */
export function createSessionService(store: Store, cookie: CookieOptions, notebookCookie = cookie) {
  const hubName = cookieName(HUB_COOKIE, cookie);
  const notebookName = cookieName(NOTEBOOK_COOKIE, notebookCookie);
  const handoffName = cookieName(HANDOFF_COOKIE, notebookCookie);
  const visitorCache = new Map<string, CachedVisitor>();
  /**
   * The proxy's per-request lookup, by cookie value (with the origin it was answered for): a hit answers
   * synchronously, with no hash computed (the hash is what the store is keyed by, so that a leaked table
   * opens nothing; this process holds the cookie values it is sent anyway). Keyed by the value alone, so
   * that no key is built per request; a value sent to another origin is looked up again and replaces the
   * entry. Same lifetime as `visitorCache`, cleared with it.
   */
  const notebookCache = new Map<string, CachedVisitor & { origin: string }>();

  /** The identity of a session, at once while cached (the proxy asks on every request), else from the store. */
  function identityFor(hash: string): Identity | null | Promise<Identity | null> {
    const now = Date.now();
    const cached = visitorCache.get(hash);
    if (cached && cached.until > now) return cached.identity;
    return loadIdentity(hash, cached, now);
  }

  async function loadIdentity(
    hash: string,
    cached: CachedVisitor | undefined,
    now: number,
  ): Promise<Identity | null> {
    let session: Awaited<ReturnType<typeof store.getSession>>;
    let user: Awaited<ReturnType<typeof store.getUser>>;
    try {
      session = await store.getSession(hash);
      user = session ? await store.getUser(session.userName) : null;
    } catch (err) {
      if (cached?.identity && now - cached.until < STALE_IF_ERROR_MS) return cached.identity;
      throw err;
    }
    const identity: Identity | null = user
      ? {
          userName: user.name,
          admin: user.admin,
          scopes: new Set<Scope>(user.admin ? ['admin', ...SESSION_SCOPES] : SESSION_SCOPES),
          via: 'session',
        }
      : null;
    if (visitorCache.size > 10_000) visitorCache.clear();
    visitorCache.set(hash, { identity, until: now + VISITOR_CACHE_MS });
    return identity;
  }

  /** A new session; a notebook session (with `origin`) is stored under its origin-bound hash. */
  async function newSession(
    userName: string,
    parentHash: string | null,
    origin?: string,
  ): Promise<{ id: string; hash: string }> {
    const id = newSecret();
    const hash = origin === undefined ? hashSecret(id) : originBoundHash(origin, id);
    const now = new Date();
    await store.createSession(hash, {
      userName,
      createdAt: now,
      expiresAt: new Date(now.getTime() + cookie.maxAgeSeconds * 1000),
      parentHash,
    });
    return { id, hash };
  }

  return {
    /** Signs `userName` in, ending the session the browser had (session ids rotate at sign-in). */
    async signIn(
      userName: string,
      cookieHeader: string | undefined,
      via = 'dev',
    ): Promise<{ setCookie: string; hash: string }> {
      const previous = readCookie(cookieHeader, hubName);
      if (previous) await this.forget(hashSecret(previous));
      const { id, hash } = await newSession(userName, null);
      await store.addEvent('user.signin', userName, { via });
      return { setCookie: setCookie(HUB_COOKIE, id, cookie), hash };
    },

    async signOut(cookieHeader: string | undefined): Promise<{ setCookie: string; userName: string | null }> {
      const id = readCookie(cookieHeader, hubName);
      let userName: string | null = null;
      if (id) {
        const hash = hashSecret(id);
        userName = (await store.getSession(hash))?.userName ?? null;
        await this.forget(hash);
        if (userName) await store.addEvent('user.signout', userName, {});
      }
      return { setCookie: clearCookie(HUB_COOKIE, cookie), userName };
    },

    async forget(hash: string): Promise<void> {
      await store.deleteSession(hash);
      // Derived notebook sessions are deleted by the store; drop every cached visitor to be sure.
      visitorCache.clear();
      notebookCache.clear();
    },

    /** The identity behind the hub cookie, with the session's hash (for handoffs). */
    async hubIdentity(
      cookieHeader: string | undefined,
    ): Promise<{ identity: Identity; hash: string } | null> {
      const id = readCookie(cookieHeader, hubName);
      if (!id) return null;
      const hash = hashSecret(id);
      const identity = await identityFor(hash);
      return identity ? { identity, hash } : null;
    },

    /** The cookie names in use: prefixed with `__Host-` where the scheme allows (see `cookieName`). */
    cookieNames: { hub: hubName, notebook: notebookName, handoff: handoffName },

    /**
     * The identity behind a notebook-origin cookie on `origin` (the request's own, as the proxy derived it
     * from `Host`); null when the session was minted for another origin. Cached for a few seconds.
     */
    notebookIdentity(
      cookieHeader: string | undefined,
      origin: string,
    ): Identity | null | Promise<Identity | null> {
      const id = readCookie(cookieHeader, notebookName);
      if (!id) return null;
      const cached = notebookCache.get(id);
      if (cached !== undefined && cached.origin === origin && cached.until > Date.now())
        return cached.identity;
      const remember = (identity: Identity | null) => {
        if (notebookCache.size > 10_000) notebookCache.clear();
        notebookCache.set(id, { identity, until: Date.now() + VISITOR_CACHE_MS, origin });
        return identity;
      };
      const identity = identityFor(originBoundHash(origin, id));
      return identity instanceof Promise ? identity.then(remember) : remember(identity);
    },

    /** A browser-bound binding for a handoff, and the notebook-origin cookie that keeps it (10 min). */
    beginHandoff(): { binding: string; setCookie: string } {
      const binding = newSecret();
      const attributes = { ...notebookCookie, maxAgeSeconds: HANDOFF_TTL_MS / 100 };
      return { binding, setCookie: setCookie(HANDOFF_COOKIE, binding, attributes, HANDOFF_PATH) };
    },

    /**
     * A one-time code the notebook origin `origin` exchanges for its own session cookie, bound to the
     * binding that origin gave this browser (`beginHandoff`): only that browser, on that origin, can spend it.
     */
    async mintHandoff(hubHash: string, userName: string, binding: string, origin: string): Promise<string> {
      const code = newSecret();
      // A store ticket, not process memory: the hub that mints and the proxy that redeems may be
      // different replicas.
      await store.createTicket(hashSecret(code), {
        kind: 'handoff',
        userName,
        data: { hubHash, binding, origin },
        expiresAt: new Date(Date.now() + HANDOFF_TTL_MS),
      });
      return code;
    },

    /** Spends a handoff code on `origin` with the binding cookie in `cookieHeader`; the session's cookie. */
    async completeHandoff(
      code: string,
      cookieHeader: string | undefined,
      origin: string,
    ): Promise<string | null> {
      const binding = readCookie(cookieHeader, handoffName);
      // Taken once, atomically: a code is burnt by any attempt, even from the wrong browser.
      const ticket = await store.consumeTicket(hashSecret(code), 'handoff', new Date());
      if (!ticket?.userName) return null;
      const entry = {
        userName: ticket.userName,
        hubHash: String(ticket.data.hubHash),
        binding: ticket.data.binding,
      };
      if (binding === undefined || binding !== entry.binding) return null;
      if (ticket.data.origin !== origin) return null;
      if (!(await store.getSession(entry.hubHash))) return null;
      const { id } = await newSession(entry.userName, entry.hubHash, origin);
      return setCookie(NOTEBOOK_COOKIE, id, notebookCookie);
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
