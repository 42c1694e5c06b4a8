/**
 * Builds the request head sent to a notebook server from the client's raw headers: hop-by-hop
 * headers dropped, `Host` set to the server, the client's `Authorization` replaced by the server's
 * token, Sifu's cookies removed, `X-Forwarded-*` set. Pure; runs once per proxied request.
 */
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
}

/** How the request body is framed upstream. */
export type BodyFraming = 'none' | 'length' | 'chunked';

export interface UpstreamHead {
  head: string;
  body: BodyFraming;
}

/** Headers never forwarded as they came: hop-by-hop ones and those the proxy sets itself. */
const DROPPED = new Set([
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
]);

/** Connection options that name no header (anything else listed in `Connection` is hop-by-hop). */
const CONNECTION_OPTIONS = new Set(['keep-alive', 'close', 'upgrade']);

/**
 * The upstream request head for `method url`. With `websocket`, the head asks for the same upgrade
 * (`Connection: Upgrade` + the client's `Upgrade`), otherwise the connection is kept alive.
 */
export function buildUpstreamHead(
  method: string,
  url: string,
  rawHeaders: readonly string[],
  context: UpstreamHeadContext,
  websocket = false,
): UpstreamHead {
  let head = `${method} ${url} HTTP/1.1\r\nHost: ${context.upstreamHost}\r\n`;
  let body: BodyFraming = 'none';
  let contentLength: string | undefined;
  let forwardedFor: string | undefined;
  let forwardedHost: string | undefined;
  let upgrade: string | undefined;
  let named: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).length === 10 && (rawHeaders[i] as string).toLowerCase() === 'connection') {
      named = connectionNamedHeaders(rawHeaders[i + 1] as string, named);
    }
  }
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const value = rawHeaders[i + 1] as string;
    const lower = name.toLowerCase();
    if (!DROPPED.has(lower)) {
      if (named === undefined || !named.has(lower)) head += `${name}: ${value}\r\n`;
      continue;
    }
    switch (lower) {
      case 'content-length':
        contentLength = value;
        break;
      case 'transfer-encoding':
        body = 'chunked';
        break;
      case 'cookie': {
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
  if (websocket && upgrade !== undefined) head += `Connection: Upgrade\r\nUpgrade: ${upgrade}\r\n\r\n`;
  else head += 'Connection: keep-alive\r\n\r\n';
  return { head, body };
}

function connectionNamedHeaders(value: string, into: Set<string> | undefined): Set<string> | undefined {
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
