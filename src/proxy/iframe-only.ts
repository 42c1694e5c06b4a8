import { recordProxyResponse } from '../metrics/metrics.js';
import { html, page } from '../web/layout.js';
import { type CspValues, ownResponseHeaders } from './response-policy.js';
import type { ProxyRequest, ProxyResponse } from './types.js';

/** The query parameter of the "open it here anyway" link (only honoured when the operator allows it). */
export const NEW_TAB_PARAM = 'sifu-new-tab=1';

/**
 * In iframe-only mode, a notebook is shown inside the course page only: a top-level navigation
 * (`Sec-Fetch-Dest: document`) is answered with a friendly page instead. Frames say `iframe`, and
 * fetches, WebSockets and subresources say something else, so they pass.
 */
export function refusesTopLevel(req: ProxyRequest, url: string, allowNewTab: boolean): boolean {
  if (req.headers['sec-fetch-dest'] !== 'document') return false;
  return !(allowNewTab && url.includes(NEW_TAB_PARAM));
}

export function sendIframeOnlyPage(
  res: ProxyResponse,
  csp: CspValues,
  url: string,
  allowNewTab: boolean,
): void {
  const here = url.includes('?') ? `${url}&${NEW_TAB_PARAM}` : `${url}?${NEW_TAB_PARAM}`;
  const body = page(
    'Open this notebook from your course',
    html`<h1>This notebook lives in your course</h1>
<p>Open it from the course page where it appears, so your work stays with the lesson.</p>
${allowNewTab ? html`<p><a class="button" href="${here}">Open it in this tab anyway</a></p>` : ''}
<p class="muted">Error 403 · <code>SIFU_ERR_IFRAME_ONLY</code></p>`,
  );
  res.writeHead(403, undefined, ['Content-Type', 'text/html; charset=utf-8', ...ownResponseHeaders(csp)]);
  res.end(body);
  recordProxyResponse(403);
}
