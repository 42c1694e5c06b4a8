/**
 * The sign-in handoff on the notebook origin: `GET /hub-handoff?code=<c>&next=/user/...`. The hub
 * sends the browser here after sign-in with a one-time code; the code becomes a notebook-origin
 * session cookie, then the browser goes on to `next` (a `/user/` path on this origin, never elsewhere).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { safeNextPath } from './request-policy.js';
import { type CspValues, sendError, sendRedirect } from './responses.js';
import type { ProxyHooks } from './types.js';

export const HANDOFF_PATH = '/hub-handoff';

const MAX_CODE_LENGTH = 512;

/** The cookie holding this browser's handoff binding (see `ProxyHooks.beginHandoff`). */
export const HANDOFF_COOKIE = 'sifu-nb-handoff';

function readHandoffBinding(cookie: string | undefined): string | undefined {
  if (!cookie) return undefined;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === HANDOFF_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function isHandoffUrl(url: string): boolean {
  return url === HANDOFF_PATH || url.startsWith(`${HANDOFF_PATH}?`);
}

export function handleHandoff(
  req: IncomingMessage,
  res: ServerResponse,
  url: string,
  hooks: Pick<ProxyHooks, 'completeHandoff'>,
  notebookOrigin: string,
  csp: CspValues,
): void {
  // GET only: a HEAD (link checkers, prefetchers) must not spend the one-time code.
  if (req.method !== 'GET') {
    sendError(res, csp, { code: 'SIFU_ERR_BAD_REQUEST', message: 'The sign-in handoff takes GET.' });
    return;
  }
  const params = new URLSearchParams(url.slice(HANDOFF_PATH.length + 1));
  const code = params.get('code');
  // `next` is checked before the code is spent, so a bad link cannot burn a good code.
  const next = safeNextPath(params.get('next'), notebookOrigin);
  if (next === undefined || code === null || code === '' || code.length > MAX_CODE_LENGTH) {
    sendError(res, csp, { code: 'SIFU_ERR_BAD_REQUEST', message: 'Invalid sign-in link.' });
    return;
  }
  hooks.completeHandoff(code, readHandoffBinding(req.headers.cookie)).then(
    (cookie) => {
      if (cookie === null) {
        sendError(res, csp, { code: 'SIFU_ERR_BAD_REQUEST', message: 'This sign-in link has expired.' });
        return;
      }
      try {
        // The URL carried a code: keep it out of Referer headers of whatever `next` loads.
        sendRedirect(res, csp, next, ['Set-Cookie', cookie, 'Referrer-Policy', 'no-referrer']);
      } catch {
        sendError(res, csp, { code: 'SIFU_ERR_INTERNAL' });
      }
    },
    () => sendError(res, csp, { code: 'SIFU_ERR_INTERNAL' }),
  );
}
