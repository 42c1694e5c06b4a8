import { request } from 'node:http';
import { SifuError } from '../errors.js';
import { hostHeaderOf, httpAddressOf } from '../routes.js';
import { cancelledError, sleep } from './cancelled.js';
import type { PollResult, ProgressEvent } from './spawner.js';

export interface WaitUntilReadyOptions {
  /** Where the server listens, as returned by `Spawner.start`: `http://127.0.0.1:45678` or `unix:<path>`. */
  url: string;
  /** The server's base URL, starting and ending with '/'. */
  baseUrl: string;
  secret: string;
  /** Bound on the whole wait (`spawner.startTimeout`); then `SIFU_ERR_SPAWN_TIMEOUT`. */
  timeoutMs: number;
  /** Aborting rejects at once with the signal's reason (see `cancelledError`). */
  signal?: AbortSignal;
  /** The backend's `poll` for this server, to notice a crash without waiting for the timeout. */
  poll: () => Promise<PollResult>;
  progress?: (event: ProgressEvent) => void;
  /**
   * Where the reported progress starts (default 50): the backend's own `start` reports below it.
   * It then creeps towards 95 with elapsed time and ends at 100 when ready.
   */
  progressFrom?: number;
  /**
   * Least time between two `poll` calls (default 200 ms). Polling may cost an engine round trip
   * (Docker, Swarm), while an HTTP attempt on a refused port costs nothing, so they run at different rates.
   */
  pollIntervalMs?: number;
}

export interface ReadyResult {
  /** HTTP attempts made, the last one being the successful one. */
  attempts: number;
  elapsedMs: number;
}

/**
 * First delay between attempts: a cold Jupyter answers within about a second, so waiting long
 * between early attempts would be most of the learner's wait.
 */
const FIRST_DELAY_MS = 20;
const MAX_DELAY_MS = 250;
/** A server that accepts a connection but does not answer within this is not ready yet. */
const REQUEST_TIMEOUT_MS = 2_000;
/** Even the last attempt before the deadline gets this long, so that it can still tell something. */
const MIN_REQUEST_TIMEOUT_MS = 100;
const MAX_PROGRESS_WHILE_WAITING = 95;
/** What a poll may take at the deadline: the one poll that may outlast `timeoutMs`. */
const FINAL_POLL_MS = 1_000;

/**
 * Waits until the server answers `GET <url><baseUrl>api` with `Authorization: token <secret>` by a 200,
 * the signal of a usable Jupyter server; polls the backend meanwhile so that a crash fails the start at
 * once (`SIFU_ERR_SPAWN_CRASHED`) rather than after the whole timeout (`SIFU_ERR_SPAWN_TIMEOUT`).
 * Does not stop the server on failure: the caller owns it and must `stop` it.
 */
export async function waitUntilReady(options: WaitUntilReadyOptions): Promise<ReadyResult> {
  const { secret, timeoutMs, signal, progress } = options;
  const origin = options.url.replace(/\/+$/, '');
  const target = `${origin}${options.baseUrl}api`;
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const started = performance.now();
  const deadline = started + timeoutMs;
  const elapsed = (): number => performance.now() - started;

  const from = options.progressFrom ?? 50;
  let reported = from;
  progress?.({ progress: from, message: 'Waiting for your server to answer' });

  let attempts = 0;
  let lastProblem = 'no answer yet';
  let lastPollAt = started;
  let delay = FIRST_DELAY_MS;

  const pollForCrash = async (): Promise<void> => {
    lastPollAt = performance.now();
    const result = await pollWithin(options.poll, Math.max(deadline - lastPollAt, FINAL_POLL_MS));
    if (result.status === 'stopped') {
      throw new SifuError('SIFU_ERR_SPAWN_CRASHED', 'Your server stopped while starting. Please try again.', {
        logDetail: `server stopped before answering ${target}: ${result.reason}`,
      });
    }
    if (result.status === 'unknown') lastProblem = `${lastProblem}; poll: ${result.problem}`;
  };

  for (;;) {
    if (signal?.aborted) throw cancelledError(signal);
    const remaining = deadline - performance.now();
    if (remaining <= 0) {
      // A server that died near the deadline is a crash, and saying so saves the operator a search.
      await pollForCrash();
      throw new SifuError('SIFU_ERR_SPAWN_TIMEOUT', 'Your server took too long to start. Please try again.', {
        logDetail: `${target} not ready after ${timeoutMs} ms and ${attempts} attempts; last: ${lastProblem}`,
      });
    }

    attempts += 1;
    const answer = await getOnce(
      origin,
      `${options.baseUrl}api`,
      secret,
      clamp(remaining, MIN_REQUEST_TIMEOUT_MS, REQUEST_TIMEOUT_MS),
      signal,
    );
    if (answer === 'ready') {
      progress?.({ progress: 100, message: 'Your server is ready' });
      return { attempts, elapsedMs: elapsed() };
    }
    lastProblem = answer.problem;

    if (performance.now() - lastPollAt >= pollIntervalMs) {
      await pollForCrash();
      const creeping = Math.floor(from + ((MAX_PROGRESS_WHILE_WAITING - from) * elapsed()) / timeoutMs);
      if (creeping > reported) {
        reported = Math.min(creeping, MAX_PROGRESS_WHILE_WAITING);
        progress?.({ progress: reported, message: 'Waiting for your server to answer' });
      }
    }

    await sleep(Math.max(0, Math.min(delay, deadline - performance.now())), signal);
    delay = Math.min(delay * 1.5, MAX_DELAY_MS);
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.round(Math.min(Math.max(value, min), max));
}

type PollOutcome = PollResult | { status: 'unknown'; problem: string };

/** `poll` may hang (an unresponsive engine) or throw ("cannot tell"): neither may outlast the deadline. */
async function pollWithin(poll: () => Promise<PollResult>, ms: number): Promise<PollOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<PollOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'unknown', problem: 'poll did not answer in time' }), ms);
  });
  try {
    return await Promise.race([
      poll().catch(
        (err: unknown): PollOutcome => ({ status: 'unknown', problem: `poll failed: ${String(err)}` }),
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** One attempt; never throws except on abort. A fresh connection each time, so none lingers after. */
function getOnce(
  origin: string,
  path: string,
  secret: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<'ready' | { problem: string }> {
  const address = httpAddressOf(origin);
  if (!address) return Promise.resolve({ problem: `not a server address: ${origin}` });
  return new Promise((resolve, reject) => {
    const req = request({
      ...address,
      path,
      method: 'GET',
      agent: false,
      headers: { authorization: `token ${secret}`, host: hostHeaderOf(origin) },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = (): void => {
      req.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    req.on('response', (res) => {
      res.resume();
      settle();
      resolve(res.statusCode === 200 ? 'ready' : { problem: `answered ${res.statusCode}` });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      settle();
      if (signal?.aborted) reject(cancelledError(signal));
      else resolve({ problem: err.code ?? err.message });
    });
    req.end();
  });
}
