/**
 * The sign-in handoff on a notebook origin: `GET /hub-handoff?code=<c>&next=/user/<name>/...`. The hub
 * sends the browser here after sign-in with a one-time code; the code becomes a session cookie of this
 * origin (valid here only), then the browser goes on to `next` (a `/user/` path of the user whose
 * origin this is, never elsewhere).
 */
import { HANDOFF_PATH } from '../auth/sessions.js';
import { parseUserPath } from '../routes.js';
import { sendError, sendRedirect } from './counted-responses.js';
import { safeNextPath } from './request-policy.js';
import type { CspValues } from './response-policy.js';
import type { ProxyHooks, ProxyRequest, ProxyResponse } from './types.js';

const MAX_CODE_LENGTH = 512;

export function isHandoffUrl(url: string): boolean {
  return url === HANDOFF_PATH || url.startsWith(`${HANDOFF_PATH}?`);
}

export function handleHandoff(
  req: ProxyRequest,
  res: ProxyResponse,
  url: string,
  hooks: Pick<ProxyHooks, 'completeHandoff'>,
  /** The origin this request was sent to if it is `userName`'s (see the proxy's `requestOrigin`). */
  originOf: (req: ProxyRequest, userName: string) => string | undefined,
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
  const next = safeNextPath(params.get('next'));
  const path = next === undefined ? undefined : parseUserPath(next);
  const origin = path?.ok ? originOf(req, path.userName) : undefined;
  if (origin === undefined || code === null || code === '' || code.length > MAX_CODE_LENGTH) {
    sendError(res, csp, { code: 'SIFU_ERR_BAD_REQUEST', message: 'Invalid sign-in link.' });
    return;
  }
  // The binding cookie is set by `ProxyHooks.beginHandoff`.
  hooks.completeHandoff(code, req.headers.cookie, origin).then(
    (cookie) => {
      if (cookie === null) {
        sendError(res, csp, { code: 'SIFU_ERR_BAD_REQUEST', message: 'This sign-in link has expired.' });
        return;
      }
      try {
        // The URL carried a code: keep it out of Referer headers of whatever `next` loads.
        sendRedirect(res, csp, next as string, ['Set-Cookie', cookie, 'Referrer-Policy', 'no-referrer']);
      } catch {
        sendError(res, csp, { code: 'SIFU_ERR_INTERNAL' });
      }
    },
    () => sendError(res, csp, { code: 'SIFU_ERR_INTERNAL' }),
  );
}
