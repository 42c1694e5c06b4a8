import { isSifuError, SifuError } from '../errors.js';

/**
 * The error a spawn step rejects with when its `AbortSignal` fires. The core aborts with a `SifuError`
 * (e.g. `SIFU_ERR_SPAWN_TIMEOUT`) when it knows why; that reason is kept so the learner sees the real
 * cause, and anything else becomes a plain cancellation.
 */
export function cancelledError(signal: AbortSignal): SifuError {
  if (isSifuError(signal.reason)) return signal.reason;
  return new SifuError('SIFU_ERR_SPAWN_FAILED', 'Starting your server was cancelled.', {
    logDetail: `start aborted: ${String(signal.reason)}`,
    cause: signal.reason,
  });
}

/** Resolves after `ms`, or rejects with `cancelledError` as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(cancelledError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelledError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
