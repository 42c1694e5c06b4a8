import * as oauth from 'oauth4webapi';
import { isSifuError, SifuError } from '../../errors.js';

/** What learners read; the specifics go to the log (`logDetail`), never to the page. */
export const MESSAGES = {
  denied:
    'You did not allow Sifu to use your account, so you are not signed in. Sign in again and allow access to use your notebooks.',
  state:
    'This sign-in could not be completed: it expired, was already used, or was started in another browser. Please sign in again.',
  failed:
    'Signing in through your learning platform failed. Please try again; if it keeps failing, tell your course team.',
  down: 'Your learning platform could not be reached to sign you in. Please try again in a few minutes.',
} as const;

/** HTTP statuses that mean "the platform is not there right now" rather than "it said no". */
const UNAVAILABLE = new Set([502, 503, 504]);

const clip = (text: unknown) => String(text).replace(/\s+/g, ' ').slice(0, 200);

/** A failed connection or an expired timeout: the platform did not answer at all. */
export function unreachableReason(err: unknown): string | null {
  if (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return 'no answer before the timeout';
  }
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    return clip(cause?.code ?? cause?.message ?? 'connection failed');
  }
  return null;
}

/** The SifuError for a failed step talking to the platform (`what`: "token endpoint", ...). */
export function platformError(err: unknown, what: string): SifuError {
  if (isSifuError(err)) return err;
  const down = (detail: string) =>
    new SifuError('SIFU_ERR_OAUTH_PROVIDER_DOWN', MESSAGES.down, { logDetail: `${what}: ${detail}` });
  const failed = (detail: string) =>
    new SifuError('SIFU_ERR_OAUTH_FAILED', MESSAGES.failed, { logDetail: `${what}: ${detail}` });

  const unreachable = unreachableReason(err);
  if (unreachable) return down(unreachable);
  if (err instanceof oauth.ResponseBodyError) {
    const detail = `${clip(err.error)} (HTTP ${err.status})${err.error_description ? `: ${clip(err.error_description)}` : ''}`;
    return UNAVAILABLE.has(err.status) ? down(detail) : failed(detail);
  }
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    const challenge = err.cause[0];
    const reason = challenge?.parameters.error ? ` ${clip(challenge.parameters.error)}` : '';
    return failed(`HTTP ${err.status} with a ${clip(challenge?.scheme)} challenge${reason}`);
  }
  if (err instanceof oauth.OperationProcessingError && err.cause instanceof Response) {
    const detail = `${clip(err.message)} (HTTP ${err.cause.status})`;
    return UNAVAILABLE.has(err.cause.status) ? down(detail) : failed(detail);
  }
  if (err instanceof Error) return failed(clip(err.message));
  return failed('unknown failure');
}

/** The SifuError for an error the platform sent back to the callback (`?error=...`). */
export function authorizationError(err: oauth.AuthorizationResponseError): SifuError {
  const detail = `authorization: ${clip(err.error)}${err.error_description ? `: ${clip(err.error_description)}` : ''}`;
  if (err.error === 'access_denied') {
    return new SifuError('SIFU_ERR_OAUTH_DENIED', MESSAGES.denied, { logDetail: detail });
  }
  if (err.error === 'temporarily_unavailable') {
    return new SifuError('SIFU_ERR_OAUTH_PROVIDER_DOWN', MESSAGES.down, { logDetail: detail });
  }
  return new SifuError('SIFU_ERR_OAUTH_FAILED', MESSAGES.failed, { logDetail: detail });
}

export function stateError(detail: string): SifuError {
  return new SifuError('SIFU_ERR_OAUTH_STATE', MESSAGES.state, { logDetail: `callback: ${detail}` });
}
