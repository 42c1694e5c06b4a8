/**
 * The notebook port's own answers (errors, redirects, refused upgrades), each counted in
 * `sifu_proxy_requests_total` by status class; answers relayed from a server are counted where they are
 * relayed. The relay port answers through `responses.ts` directly: its requests were counted by the
 * replica a learner reached.
 */
import { recordProxyResponse } from '../metrics/metrics.js';
import { sendError as error, sendRedirect as redirect, rejectSocket as reject } from './responses.js';

export const sendError: typeof error = (res, csp, proxyError, html) => {
  const status = error(res, csp, proxyError, html);
  recordProxyResponse(status);
  return status;
};

export const sendRedirect: typeof redirect = (res, csp, location, extra) => {
  const status = redirect(res, csp, location, extra);
  recordProxyResponse(status);
  return status;
};

export const rejectSocket: typeof reject = (socket, proxyError) => {
  const status = reject(socket, proxyError);
  recordProxyResponse(status);
  return status;
};
