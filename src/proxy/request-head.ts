/**
 * The request heads the raw server side (raw-server.ts) serves itself, recognised strictly: an ordinary
 * `/user/` request that Node's own parser (llhttp) would read the same way. Anything else is
 * `'unhandled'`, and the connection goes to Node's server, which answers it as it always has (400, 431,
 * 100-continue, chunked bodies, upgrades). So the fast path never decides a malformed or ambiguous
 * request: it accepts a subset of what Node accepts, frames it as Node would, and leaves the rest.
 *
 * Accepted: `<method> /user/<...> HTTP/1.1|HTTP/1.0` with GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS;
 * a target of RFC 3986 characters; header lines `name: value` with a token name and a value of visible
 * ASCII, space and tab; no header twice; no body, or one of exactly `Content-Length` digits; a `Host` on
 * HTTP/1.1; at most {@link MAX_RAW_HEAD_BYTES} bytes and {@link MAX_RAW_HEADERS} headers.
 * Unhandled: `Transfer-Encoding`, `Expect`, `Upgrade` or `Connection: upgrade`, obs-fold, bare CR or
 * LF, NUL and other controls, obs-text, duplicates (Content-Length twice among them), absolute-form,
 * `*`, every other path, other methods and versions, and heads over the limits. Pure.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  allOf,
  charTable,
  decimal,
  type HeadLines,
  hasListOption,
  KNOWN_NAMES,
  LINE,
  scanHeaderLine,
  valueAt,
} from './header-text.js';

export interface RequestHead extends HeadLines {
  method: string;
  url: string;
  http10: boolean;
  /** The head as received (latin1), request line first, without the blank line; `lines` its header lines. */
  readonly text: string;
  /** By lower-case name (as `IncomingMessage.headers`, which with no header twice are these values). */
  headers: IncomingHttpHeaders;
  /** Body bytes announced by `Content-Length`; 0 without one. */
  bodyLength: number;
  /** Whether the client lets the connection carry another request (HTTP/1.0: only if it asks). */
  keepAlive: boolean;
  /** Bytes of the head, its closing blank line included. */
  length: number;
}

export type HeadResult = RequestHead | 'more' | 'unhandled';

/** Half of Node's default `maxHeaderSize` (16 KiB): a head this long or more is Node's to answer. */
export const MAX_RAW_HEAD_BYTES = 8 * 1024;
export const MAX_RAW_HEADERS = 100;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const TARGET_PREFIX = '/user/';

/** unreserved, reserved and `%` (RFC 3986): what a request target may hold here. */
const TARGET_CHARS = charTable(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%",
);

/**
 * Reads the head at the start of `data`. `scanned` bytes of it were searched for the blank line
 * already (by an earlier call on a shorter prefix). `'more'` until the head is complete.
 */
export function parseRequestHead(data: Buffer, scanned = 0): HeadResult {
  const end = data.indexOf('\r\n\r\n', Math.max(0, scanned - 3), 'latin1');
  if (end === -1) {
    if (data.length >= MAX_RAW_HEAD_BYTES || neverHandled(data, scanned)) return 'unhandled';
    return 'more';
  }
  if (end + 4 > MAX_RAW_HEAD_BYTES) return 'unhandled';
  return readHead(data, data.toString('latin1', 0, end), end + 4);
}

/**
 * Whether a head still incomplete shows already that it will not be served here (a byte no handled
 * head has, a CR or LF alone, a method or request line of another kind), so that Node answers it at
 * once, as it would have, rather than at the headers timeout.
 */
function neverHandled(data: Buffer, scanned: number): boolean {
  for (let i = Math.max(0, scanned - 1); i < data.length; i++) {
    const byte = data[i] as number;
    if (byte === 0x0a) {
      if (data[i - 1] !== 0x0d) return true;
    } else if (byte === 0x0d) {
      if (i + 1 < data.length && data[i + 1] !== 0x0a) return true;
    } else if ((byte < 0x20 && byte !== 0x09) || byte >= 0x7f) return true;
  }
  const lineEnd = data.indexOf('\r\n', 0, 'latin1');
  if (lineEnd !== -1)
    return readRequestLine(data, data.toString('latin1', 0, lineEnd), lineEnd) === undefined;
  const space = data.indexOf(0x20);
  const method = data.toString('latin1', 0, space === -1 ? Math.min(data.length, 8) : space);
  for (const known of METHODS) if (space === -1 ? known.startsWith(method) : known === method) return false;
  return true;
}

interface RequestLine {
  method: string;
  url: string;
  http10: boolean;
}

/** `text[0, lineEnd)` (decoded from `bytes`) as a request line served here, if it is one. */
function readRequestLine(bytes: Uint8Array, text: string, lineEnd: number): RequestLine | undefined {
  const space = text.indexOf(' ');
  if (space === -1 || space > lineEnd) return undefined;
  const method = text.slice(0, space);
  if (!METHODS.has(method)) return undefined;
  const versionAt = lineEnd - 9;
  if (versionAt <= space || text.charCodeAt(versionAt) !== 0x20) return undefined;
  const version = text.slice(versionAt + 1, lineEnd);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return undefined;
  if (!text.startsWith(TARGET_PREFIX, space + 1) || !allOf(TARGET_CHARS, bytes, space + 1, versionAt)) {
    return undefined;
  }
  return { method, url: text.slice(space + 1, versionAt), http10: version === 'HTTP/1.0' };
}

/** The head `text`, decoded from `bytes` (which it starts), `length` bytes with its blank line. */
function readHead(bytes: Uint8Array, text: string, length: number): HeadResult {
  const lineEnd = text.indexOf('\r\n');
  const requestLineEnd = lineEnd === -1 ? text.length : lineEnd;
  const line = readRequestLine(bytes, text, requestLineEnd);
  if (line === undefined) return 'unhandled';
  const { http10 } = line;
  const lines: number[] = [];
  const headers: IncomingHttpHeaders = Object.create(null);
  let bodyLength = 0;
  let close = false;
  let keepAliveAsked = false;
  let at = requestLineEnd + 2;
  while (at < text.length) {
    // A line starting with blanks would be obs-fold; a colon first, an empty name.
    const next = scanHeaderLine(bytes, 0, at, text.length, lines, true);
    if (next < 0) return 'unhandled';
    const colon = lines[lines.length - 2] as number;
    const code = lines[lines.length - 1] as number;
    const value = valueAt(text, colon, next);
    // A known name is keyed by its registered spelling: no lower-cased copy made and hashed.
    const lower = code !== 0 ? (KNOWN_NAMES[code] as string) : text.slice(at, colon).toLowerCase();
    if (headers[lower] !== undefined || lines.length > MAX_RAW_HEADERS * LINE) return 'unhandled';
    switch (lower) {
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
        return 'unhandled';
      case 'content-length':
        bodyLength = decimal(value);
        if (bodyLength === -1) return 'unhandled';
        break;
      case 'connection':
        if (hasListOption(value, 'upgrade')) return 'unhandled';
        close = hasListOption(value, 'close');
        keepAliveAsked = hasListOption(value, 'keep-alive');
        break;
    }
    headers[lower] = lower === 'set-cookie' ? [value] : value;
    at = next + 2;
  }
  if (!http10 && headers.host === undefined) return 'unhandled';
  return {
    method: line.method,
    url: line.url,
    http10,
    text,
    lines,
    headers,
    bodyLength,
    keepAlive: !close && (!http10 || keepAliveAsked),
    length,
  };
}
