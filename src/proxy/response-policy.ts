/**
 * What the proxy lets through on the way back, in one place: which headers of a server's answer reach
 * the browser (hop-by-hop ones and Sifu's own cookie names never do), the CSP each kind of content gets,
 * the headers of the responses the proxy writes itself, and which bodies are scanned for the secret.
 * Pure functions, table-tested; the forwarding code applies them.
 */

import { codeOf, isNamed, LINE, lineEnd, NameSet } from './header-text.js';
import { isSifuCookieName, setCookieName } from './request-policy.js';
import type { ResponseHead } from './response-parser.js';

/** The Content-Security-Policy values; computed once per proxy. */
export interface CspValues {
  /** For notebook pages and API responses: only who may frame them. */
  page: string;
  /** For user-supplied content (files, views, conversions): a sandbox with an opaque origin too. */
  userContent: string;
}

/**
 * `sandbox allow-scripts`, deliberately without `allow-same-origin`: a learner's HTML file may run
 * its scripts (plots exported as HTML keep working) but as an opaque origin, so it can neither read
 * notebook-origin responses nor pass the proxy's Origin check (its requests say `Origin: null`).
 * This is what Jupyter itself sends for `/files/`, and it replaces Jupyter's CSP.
 */
export function cspValues(frameAncestors: readonly string[]): CspValues {
  const ancestors = `frame-ancestors ${frameAncestors.length > 0 ? frameAncestors.join(' ') : "'none'"}`;
  return { page: ancestors, userContent: `sandbox allow-scripts; ${ancestors}` };
}

/** Headers of every response the proxy writes itself (errors, redirects, its own pages): never cached. */
export function ownResponseHeaders(csp: CspValues): string[] {
  return [
    'Cache-Control',
    'no-store',
    'Content-Security-Policy',
    csp.page,
    'X-Content-Type-Options',
    'nosniff',
  ];
}

/** Which CSP a response gets, from the path after `/user/<name>/`. */
export type ContentKind = 'page' | 'user-content' | 'user-content-unless-json';

const USER_CONTENT_PREFIXES = ['files/', 'view/', 'nbconvert/', 'nbextensions/', 'kernelspecs/'];

/**
 * Learner-controlled content is served under these paths (and as non-JSON from the contents API);
 * the first segment is decoded so that `%66iles/` is treated like `files/`.
 */
export function contentKind(rest: string): ContentKind {
  let path = rest;
  while (path.startsWith('/')) path = path.slice(1);
  if (path.includes('%')) {
    const slash = path.indexOf('/');
    try {
      path =
        slash === -1
          ? decodeURIComponent(path)
          : decodeURIComponent(path.slice(0, slash)) + path.slice(slash);
    } catch {
      return 'user-content';
    }
  }
  for (const prefix of USER_CONTENT_PREFIXES) if (path.startsWith(prefix)) return 'user-content';
  return path.startsWith('api/contents') ? 'user-content-unless-json' : 'page';
}

/** Response headers that are hop-by-hop, or that the proxy replaces with its own. */
const DROPPED_RESPONSE_HEADERS = new NameSet([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'content-security-policy',
  'x-frame-options',
  'x-content-type-options',
]);

const CONTENT_LENGTH = codeOf('content-length');
const SET_COOKIE = codeOf('set-cookie');

/**
 * Whether header line `k` of `head` reaches the client: not hop-by-hop or replaced, no Content-Length beside
 * a transfer coding, no Set-Cookie of one of Sifu's names (no session fixation from a learner's server).
 */
function keptLine(head: ResponseHead, k: number): boolean {
  if (DROPPED_RESPONSE_HEADERS.hasLine(head, k)) return false;
  const code = head.lines[LINE * k + 2];
  // The parser refuses a length beside a transfer coding; dropping it here too keeps this function safe alone.
  if (code === CONTENT_LENGTH) return head.framing !== 'chunked';
  if (code === SET_COOKIE) {
    const colon = head.lines[LINE * k + 1] as number;
    return !isSifuCookieName(setCookieName(head.text.slice(colon + 1, lineEnd(head, k))));
  }
  return true;
}

/** The CSP a response gets: the sandbox for user content (and non-JSON contents-API answers). */
function cspOf(head: ResponseHead, kind: ContentKind, csp: CspValues): string {
  const sandboxed =
    kind === 'user-content' ||
    (kind === 'user-content-unless-json' && !(head.contentType ?? '').startsWith('application/json'));
  return sandboxed ? csp.userContent : csp.page;
}

/** The client's response headers ({@link keptLine}), then CSP and nosniff, as name/value pairs. */
export function clientResponseHeaders(head: ResponseHead, kind: ContentKind, csp: CspValues): string[] {
  const { headers } = head;
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (keptLine(head, i / 2)) out.push(headers[i] as string, headers[i + 1] as string);
  }
  out.push('Content-Security-Policy', cspOf(head, kind, csp), 'X-Content-Type-Options', 'nosniff');
  return out;
}

/** {@link clientResponseHeaderText}'s answer: the lines, and what a writer must know of them. */
export interface ClientHeaderText {
  /** Header lines, each ending in CRLF. */
  text: string;
  /** Whether a `Content-Length` is among them. */
  length: boolean;
  /** Whether a `Date` is among them. */
  date: boolean;
}

/** The CSP and nosniff lines a proxied response ends with, made once per CSP value. */
const cspLines = new Map<string, string>();
function cspLine(value: string): string {
  let line = cspLines.get(value);
  if (line === undefined) {
    line = `Content-Security-Policy: ${value}\r\nX-Content-Type-Options: nosniff\r\n`;
    if (cspLines.size < 64) cspLines.set(value, line);
  }
  return line;
}

/**
 * {@link clientResponseHeaders} as header lines: the same headers, in the same order, with the same
 * values, but the lines kept are copied from the head as received (runs of adjacent ones in one slice)
 * instead of split into names and values and joined again. A value keeps its blanks around it; the
 * client reads the same value (RFC 9110 5.5: they are not part of it).
 */
export function clientResponseHeaderText(
  head: ResponseHead,
  kind: ContentKind,
  csp: CspValues,
): ClientHeaderText {
  const { text, lines } = head;
  let out = '';
  let runStart = -1;
  let runEnd = -1;
  let length = false;
  for (let k = 0; LINE * k < lines.length; k++) {
    if (!keptLine(head, k)) continue;
    const start = lines[LINE * k] as number;
    length ||= lines[LINE * k + 2] === CONTENT_LENGTH;
    if (start !== runEnd + 2) {
      if (runStart !== -1) out += `${text.slice(runStart, runEnd)}\r\n`;
      runStart = start;
    }
    runEnd = lineEnd(head, k);
  }
  if (runStart !== -1) out += `${text.slice(runStart, runEnd)}\r\n`;
  out += cspLine(cspOf(head, kind, csp));
  return { text: out, length, date: head.date };
}

/**
 * The headers of a 101 answer as the client gets them: everything the server sent (the WebSocket
 * handshake needs its Upgrade, Connection and Sec-WebSocket-* headers) except Sifu's cookie names.
 */
export function upgradeResponseHeaders(head: ResponseHead): string[] {
  const out: string[] = [];
  for (let i = 0; i < head.headers.length; i += 2) {
    const name = head.headers[i] as string;
    const value = head.headers[i + 1] as string;
    if (isNamed(name, 'set-cookie') && isSifuCookieName(setCookieName(value))) continue;
    out.push(name, value);
  }
  return out;
}

/** Whether a response's body is scrubbed: HTML, as Jupyter's pages are. */
export const needsScrubbing = (contentType: string | undefined): boolean =>
  (contentType ?? '').toLowerCase().startsWith('text/html');
