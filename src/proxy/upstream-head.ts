/**
 * Builds the request head sent to a notebook server from the client's raw headers: hop-by-hop
 * headers dropped, `Host` set to the server, the client's `Authorization` replaced by the server's
 * token, Sifu's cookies removed, `X-Forwarded-*` set; for a server on another host, the relay key
 * added (a client's own `X-Sifu-Relay-Key` is always dropped). Pure; runs once per proxied request.
 */
import { RELAY_KEY_HEADER } from '../routes.js';
import {
  codeOf,
  type HeadLines,
  isNamed,
  KNOWN_NAMES,
  LINE,
  lineEnd,
  linesOf,
  NameSet,
  valueAt,
} from './header-text.js';
import { stripSifuCookies } from './request-policy.js';

export interface UpstreamHeadContext {
  /** `host:port` of the notebook server. */
  upstreamHost: string;
  /** The server's secret; sent as `Authorization: token <secret>`. */
  secret: string;
  /** The client's address, appended to `X-Forwarded-For`. */
  clientAddress: string | undefined;
  /** `http` or `https`: the scheme browsers use for the notebook origin. */
  forwardedProto: string;
  /** Set for a route to a peer's relay (`Route.relayKey`): sent as `X-Sifu-Relay-Key`. */
  relayKey?: string;
}

/** How the request body is framed upstream. */
export type BodyFraming = 'none' | 'length' | 'chunked';

export interface UpstreamHead {
  head: string;
  body: BodyFraming;
}

/** Headers never forwarded as they came: hop-by-hop ones and those the proxy sets itself. */
const DROPPED = new NameSet([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
  'expect',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-for',
  'cookie',
  'content-length',
  // Only the proxy may present the relay key: a browser's own is never forwarded.
  RELAY_KEY_HEADER,
]);

const CONNECTION = codeOf('connection');

/** Connection options that name no header (anything else listed in `Connection` is hop-by-hop). */
const CONNECTION_OPTIONS = new Set(['keep-alive', 'close', 'upgrade']);

/**
 * The upstream request head for `method url`, from the client's headers as pairs (Node's `rawHeaders`)
 * or as the lines received (the raw server's; kept ones are copied as they came). With `websocket`, the head asks for the same upgrade
 * (`Connection: Upgrade` + the client's `Upgrade`), otherwise the connection is kept alive.
 */
export function buildUpstreamHead(
  method: string,
  url: string,
  headers: readonly string[] | HeadLines,
  context: UpstreamHeadContext,
  websocket = false,
): UpstreamHead {
  // Node's server gives pairs; the raw server the lines as received, which are copied as they are.
  const source = isPairs(headers) ? linesOf(headers) : headers;
  const { text, lines } = source;
  let head = `${method} ${url} HTTP/1.1\r\nHost: ${context.upstreamHost}\r\n`;
  let body: BodyFraming = 'none';
  let contentLength: string | undefined;
  let forwardedFor: string | undefined;
  let forwardedHost: string | undefined;
  let upgrade: string | undefined;
  let named: Set<string> | undefined;
  for (let k = 0; LINE * k < lines.length; k++) {
    if (lines[LINE * k + 2] === CONNECTION) {
      named = connectionNamedHeaders(valueAt(text, lines[LINE * k + 1] as number, lineEnd(source, k)), named);
    }
  }
  // Kept lines are copied in runs: [runStart, runEnd) of `text`, adjacent lines together.
  let runStart = -1;
  let runEnd = -1;
  for (let k = 0; LINE * k < lines.length; k++) {
    const start = lines[LINE * k] as number;
    const colon = lines[LINE * k + 1] as number;
    const end = lineEnd(source, k);
    if (!DROPPED.hasLine(source, k)) {
      if (named?.has(text.slice(start, colon).toLowerCase())) continue;
      if (start !== runEnd + 2) {
        if (runStart !== -1) head += `${text.slice(runStart, runEnd)}\r\n`;
        runStart = start;
      }
      runEnd = end;
      continue;
    }
    const value = valueAt(text, colon, end);
    switch (KNOWN_NAMES[lines[LINE * k + 2] as number]) {
      case 'content-length':
        contentLength = value;
        break;
      case 'transfer-encoding':
        body = 'chunked';
        break;
      case 'cookie': {
        // In its place among the others: the run before it goes first.
        if (runStart !== -1) head += `${text.slice(runStart, runEnd)}\r\n`;
        runStart = -1;
        runEnd = -1;
        const kept = stripSifuCookies(value);
        if (kept !== undefined) head += `Cookie: ${kept}\r\n`;
        break;
      }
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case 'host':
        forwardedHost = value;
        break;
      case 'upgrade':
        upgrade = value;
        break;
    }
  }
  if (runStart !== -1) head += `${text.slice(runStart, runEnd)}\r\n`;
  // Node's parser refuses requests with both; were both there, chunked framing would win (RFC 9112).
  if (body === 'chunked') head += 'Transfer-Encoding: chunked\r\n';
  else if (contentLength !== undefined) {
    head += `Content-Length: ${contentLength}\r\n`;
    if (contentLength !== '0') body = 'length';
  }
  if (context.clientAddress !== undefined) {
    forwardedFor =
      forwardedFor === undefined ? context.clientAddress : `${forwardedFor}, ${context.clientAddress}`;
  }
  if (forwardedFor !== undefined) head += `X-Forwarded-For: ${forwardedFor}\r\n`;
  if (forwardedHost !== undefined) head += `X-Forwarded-Host: ${forwardedHost}\r\n`;
  head += `X-Forwarded-Proto: ${context.forwardedProto}\r\nAuthorization: token ${context.secret}\r\n`;
  if (context.relayKey !== undefined) head += `X-Sifu-Relay-Key: ${context.relayKey}\r\n`;
  if (websocket && upgrade !== undefined) head += `Connection: Upgrade\r\nUpgrade: ${upgrade}\r\n\r\n`;
  else head += 'Connection: keep-alive\r\n\r\n';
  return { head, body };
}

const isPairs = (headers: readonly string[] | HeadLines): headers is readonly string[] =>
  Array.isArray(headers);

/** The headers a `Connection` value names (hop-by-hop for that message), added to `into`. */
export function connectionNamedHeaders(
  value: string,
  into: Set<string> | undefined,
): Set<string> | undefined {
  let named = into;
  for (const token of value.split(',')) {
    const option = token.trim().toLowerCase();
    if (option !== '' && !CONNECTION_OPTIONS.has(option)) {
      named ??= new Set();
      named.add(option);
    }
  }
  return named;
}

/** Headers a relay does not pass on as they came: hop-by-hop ones, the framing it redoes, and the key. */
const RELAY_DROPPED = new NameSet([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  // Node's server answered `100 Continue` already.
  'expect',
  'content-length',
  RELAY_KEY_HEADER,
]);

/**
 * The head a relay sends to a server of its own host: the calling replica's request as it came (its
 * token, `X-Forwarded-*` and cookies were set by that replica's proxy), except `Host`, the relay key and
 * hop-by-hop headers. Framing and the upgrade as in {@link buildUpstreamHead}.
 */
export function buildRelayedHead(
  method: string,
  url: string,
  rawHeaders: readonly string[],
  upstreamHost: string,
  websocket = false,
): UpstreamHead {
  let head = `${method} ${url} HTTP/1.1\r\nHost: ${upstreamHost}\r\n`;
  let body: BodyFraming = 'none';
  let contentLength: string | undefined;
  let upgrade: string | undefined;
  let named: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (isNamed(rawHeaders[i] as string, 'connection')) {
      named = connectionNamedHeaders(rawHeaders[i + 1] as string, named);
    }
  }
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    const lower = RELAY_DROPPED.match(name);
    if (lower === undefined) {
      if (named === undefined || !named.has(name.toLowerCase())) head += `${name}: ${value}\r\n`;
    } else if (lower === 'content-length') contentLength = value;
    else if (lower === 'transfer-encoding') body = 'chunked';
    else if (lower === 'upgrade') upgrade = value;
  }
  if (body === 'chunked') head += 'Transfer-Encoding: chunked\r\n';
  else if (contentLength !== undefined) {
    head += `Content-Length: ${contentLength}\r\n`;
    if (contentLength !== '0') body = 'length';
  }
  if (websocket && upgrade !== undefined) head += `Connection: Upgrade\r\nUpgrade: ${upgrade}\r\n\r\n`;
  else head += 'Connection: keep-alive\r\n\r\n';
  return { head, body };
}
