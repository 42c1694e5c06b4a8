/**
 * Responses the proxy writes itself (errors, redirects), on an http.ServerResponse or on a raw
 * socket (refused WebSocket upgrades); their headers come from response-policy.ts.
 */
import type http from 'node:http';
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type ErrorCode, errorCatalogue } from '../errors.js';
import { type CspValues, ownResponseHeaders } from './response-policy.js';
import type { ProxyResponse } from './types.js';

const messages: Partial<Record<ErrorCode, string>> = {
  SIFU_ERR_NOT_FOUND: 'Not found.',
  SIFU_ERR_UNAUTHENTICATED: 'Sign in to open this notebook.',
  SIFU_ERR_FORBIDDEN: 'You do not have access to this notebook server.',
  SIFU_ERR_BAD_ORIGIN: 'Cross-origin request refused.',
  SIFU_ERR_TOKEN_REFUSED: 'The API token is invalid or expired.',
  SIFU_ERR_MISSING_SCOPE: "The API token may not enter notebook servers (it needs the 'servers' scope).",
  SIFU_ERR_ADMIN_ACCESS_OFF:
    "Admins do not enter learners' notebook servers here; the operator can turn it on (proxy.adminAccess).",
  SIFU_ERR_WRONG_ORIGIN: "This notebook is not served from this address; open it from its owner's address.",
  SIFU_ERR_BAD_REQUEST: 'Bad request.',
  SIFU_ERR_SERVER_NOT_RUNNING: 'This notebook server is not running.',
  SIFU_ERR_UPSTREAM_UNREACHABLE: 'The notebook server cannot be reached right now.',
  SIFU_ERR_UPSTREAM_TIMEOUT: 'The notebook server did not answer in time.',
  SIFU_ERR_INTERNAL: 'Internal error.',
};

export interface ProxyError {
  code: ErrorCode;
  /** Defaults to the catalogue's status (502 is used for a broken upstream response). */
  status?: number;
  message?: string;
}

function jsonBody(error: ProxyError): { status: number; body: string } {
  const status = error.status ?? errorCatalogue[error.code];
  const message = error.message ?? messages[error.code] ?? 'Error.';
  return { status, body: JSON.stringify({ status, code: error.code, message }) };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Sends a JSON error (or a small HTML page when `html`), unless the response is already under way.
 * Returns the status sent, 0 when none was (so callers can count what they answered).
 */
export function sendError(res: ProxyResponse, csp: CspValues, error: ProxyError, html = false): number {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return 0;
  }
  const { status, body } = jsonBody(error);
  let payload = body;
  let type = 'application/json; charset=utf-8';
  if (html) {
    const message = escapeHtml(error.message ?? messages[error.code] ?? 'Error.');
    payload = `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${STATUS_CODES[status] ?? ''}</title></head><body><h1>${message}</h1><p>${error.code}</p></body></html>`;
    type = 'text/html; charset=utf-8';
  }
  res.writeHead(status, undefined, [
    'Content-Type',
    type,
    'Content-Length',
    String(Buffer.byteLength(payload)),
    ...ownResponseHeaders(csp),
    ...closeIfBodyUnread(res),
  ]);
  res.end(payload);
  return status;
}

/**
 * A refused request whose body was not read ends its connection: reading on would let a client keep a
 * refused upload (and the descriptor) going for as long as it likes, and skipping it would desynchronise.
 */
function closeIfBodyUnread(res: ProxyResponse): string[] {
  const req = res.req;
  if (!req || req.complete) return [];
  const { 'content-length': length, 'transfer-encoding': encoding } = req.headers;
  return encoding !== undefined || (length !== undefined && length !== '0') ? ['Connection', 'close'] : [];
}

/** A 302 with `Cache-Control: no-store`; `extra` are more header name/value pairs. Returns 302, or 0. */
export function sendRedirect(
  res: ProxyResponse,
  csp: CspValues,
  location: string,
  extra: string[] = [],
): number {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return 0;
  }
  res.writeHead(302, undefined, [
    'Location',
    location,
    'Content-Length',
    '0',
    ...ownResponseHeaders(csp),
    ...extra,
    ...closeIfBodyUnread(res),
  ]);
  res.end();
  return 302;
}

/** Answers a refused upgrade with an HTTP error on the raw socket, then closes it. Returns the status, or 0. */
export function rejectSocket(socket: Duplex, error: ProxyError): number {
  if (socket.destroyed) return 0;
  if (!socket.writable) {
    socket.destroy();
    return 0;
  }
  const { status, body } = jsonBody(error);
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Cache-Control: no-store\r\nConnection: close\r\n\r\n';
  socket.end(head + body, () => socket.destroy());
  return status;
}

/**
 * Answers a client whose request Node's parser refused (malformed, headers too large, too slow) with a
 * bare status and closes; a reset, or a response already under way, just ends the socket.
 */
export function answerClientErrors(server: http.Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const status =
      error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    answerBareStatus(socket, status);
  });
}

/** A bare status (no body) for a client whose request was refused before it was read, then the close. */
export function answerBareStatus(socket: Duplex, status: number): void {
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    () => socket.destroy(),
  );
}
