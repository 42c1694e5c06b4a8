/**
 * Pure request policy of the notebook proxy: CSRF/Origin checks, how a refused request is answered
 * (page vs API), where the sign-in handoff may send the browser, and which cookies belong to Sifu.
 * Header values come in as `req.headers` gives them; nothing here does I/O.
 */
import { isTrimmed } from '../auth/sessions.js';
import { parseUserPath } from '../routes.js';
import { sameName } from './header-text.js';

type HeaderValue = string | string[] | undefined;

/** Origins (the notebook's own, `proxy.allowedOrigins`) as `Origin` headers carry them, normalized. */
export function allowedOriginSet(...lists: (string | readonly string[])[]): Set<string> {
  const set = new Set<string>();
  for (const origin of lists.flat()) set.add(normalizeOrigin(origin));
  return set;
}

function normalizeOrigin(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin.toLowerCase();
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface OriginHeaders {
  origin?: HeaderValue;
  'sec-fetch-site'?: HeaderValue;
  referer?: HeaderValue;
}

/**
 * Whether a request may proceed as far as Origin is concerned (the server's own XSRF check is off
 * because forwarded requests carry its token, so this is the CSRF defence).
 * - GET/HEAD/OPTIONS pass (they must not change state);
 * - an `Origin` header must be the notebook origin or an allowed one (`null` never is);
 * - WebSocket upgrades without `Origin` are refused: browsers always send it;
 * - otherwise without `Origin`: refuse `Sec-Fetch-Site` other than same-origin/none, then check the
 *   `Referer`'s origin; with neither, pass (not a browser, or one that already sends `Origin`).
 */
export function originAllowed(
  method: string,
  headers: OriginHeaders,
  allowed: Pick<ReadonlySet<string>, 'has'>,
  websocket: boolean,
): boolean {
  if (!websocket && SAFE_METHODS.has(method)) return true;
  const origin = single(headers.origin);
  if (origin !== undefined) return allowed.has(origin) || allowed.has(origin.toLowerCase());
  if (websocket) return false;
  const site = single(headers['sec-fetch-site']);
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const referer = single(headers.referer);
  if (referer !== undefined) {
    try {
      return allowed.has(new URL(referer).origin);
    } catch {
      return false;
    }
  }
  return true;
}

function single(value: HeaderValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** True when an `Accept` header ranks text/html above application/json (or has html and no json). */
export function prefersHtml(accept: HeaderValue): boolean {
  const value = single(accept);
  if (value === undefined) return false;
  const html = value.indexOf('text/html');
  if (html === -1) return false;
  const json = value.indexOf('application/json');
  return json === -1 || html < json;
}

export interface PageHeaders {
  accept?: HeaderValue;
  'sec-fetch-mode'?: HeaderValue;
  'x-requested-with'?: HeaderValue;
}

/**
 * Whether a refused request is a browser loading a page (answered with a redirect) rather than
 * an API call or XHR (answered with JSON). `rest` is the path after `/user/<name>/`.
 */
export function isPageRequest(method: string, rest: string, headers: PageHeaders): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (headers['x-requested-with'] !== undefined) return false;
  if (single(headers['sec-fetch-mode']) === 'navigate') return true;
  if (rest.startsWith('api/')) return false;
  return prefersHtml(headers.accept);
}

/**
 * The handoff's `next`, if it is safe to redirect to: a relative path on the notebook origin that
 * parses as a `/user/<name>/...` path, printable ASCII only (already percent-encoded), no
 * backslash, no dot segments. Anything else (`//evil`, `https://evil`, `/hub/..`) is undefined.
 */
export function safeNextPath(next: string | null): string | undefined {
  if (next === null || next.length > 4096) return undefined;
  if (!/^\/user\/[\x21-\x7e]*$/.test(next) || next.includes('\\')) return undefined;
  if (!parseUserPath(next).ok) return undefined;
  try {
    // Resolved against a placeholder: a relative path must stay a path on whatever origin it is sent to.
    const base = new URL('http://notebooks.invalid');
    const resolved = new URL(next, base);
    if (resolved.origin !== base.origin || !resolved.pathname.startsWith('/user/')) return undefined;
  } catch {
    return undefined;
  }
  return next;
}

/** Sifu's own cookies: `sifu...`, also behind the `__Host-` / `__Secure-` prefixes. */
export function isSifuCookieName(name: string): boolean {
  return isSifuCookieNameAt(name, 0, name.length);
}

/** {@link isSifuCookieName} for `text[from, to)`, read in place (runs on every proxied request). */
function isSifuCookieNameAt(text: string, from: number, to: number): boolean {
  let at = from;
  if (to - at >= 7 && sameName(text, at, '__host-')) at += 7;
  else if (to - at >= 9 && sameName(text, at, '__secure-')) at += 9;
  return to - at >= 4 && sameName(text, at, 'sifu');
}

/**
 * A `Cookie` header value without Sifu's cookies, so the server never sees the session;
 * undefined when nothing is left. Without a cookie of Sifu's, the value as it came; else the pairs kept,
 * trimmed, joined by `; `. Read in place: pairs are sliced only when something was dropped.
 */
export function stripSifuCookies(cookieHeader: string): string | undefined {
  let kept: string | undefined;
  let dropped = false;
  let at = 0;
  while (at <= cookieHeader.length) {
    let end = cookieHeader.indexOf(';', at);
    if (end === -1) end = cookieHeader.length;
    let from = at;
    let to = end;
    at = end + 1;
    while (from < to && isTrimmed(cookieHeader.charCodeAt(from))) from++;
    while (to > from && isTrimmed(cookieHeader.charCodeAt(to - 1))) to--;
    if (from === to) continue;
    const eq = cookieHeader.indexOf('=', from);
    let nameEnd = eq === -1 || eq > to ? to : eq;
    while (nameEnd > from && isTrimmed(cookieHeader.charCodeAt(nameEnd - 1))) nameEnd--;
    if (isSifuCookieNameAt(cookieHeader, from, nameEnd)) {
      dropped = true;
      continue;
    }
    const pair = cookieHeader.slice(from, to);
    kept = kept === undefined ? pair : `${kept}; ${pair}`;
  }
  return dropped ? kept : cookieHeader;
}

/** The name of the cookie a `Set-Cookie` value sets. */
export function setCookieName(setCookie: string): string {
  const eq = setCookie.indexOf('=');
  return (eq === -1 ? setCookie : setCookie.slice(0, eq)).trim();
}
