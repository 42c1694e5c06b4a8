import { type ErrorCode, errorCatalogue, SifuError } from '../errors.js';
import { RELAY_KEY_HEADER } from '../routes.js';

/** The internal calls a replica makes to another host's relay (under `/_sifu/`), with the shared key. */
export interface Peers {
  /**
   * Asks the host to start the server there (placement chose it), with the start's `user_options`.
   * Resolves once it has claimed it.
   */
  start(
    relayUrl: string,
    userName: string,
    serverName: string,
    userOptions?: Record<string, unknown>,
  ): Promise<void>;
  /** Asks the host to stop a server it runs. */
  stop(relayUrl: string, userName: string, serverName: string, reason: string): Promise<void>;
  /** Whether the host's relay answers (within a second). */
  alive(relayUrl: string): Promise<boolean>;
}

const CALL_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 1_000;

/** The paths of the internal API; the relay's `internal` hook answers them (src/app/relay-calls.ts). */
export const PEER_PATHS = { start: '/_sifu/start', stop: '/_sifu/stop', alive: '/_sifu/alive' } as const;

/** Peers over HTTP (the relay's port), each call authenticated by `key`. */
export function httpPeers(key: string): Peers {
  const call = async (relayUrl: string, path: string, body: unknown, timeoutMs: number) => {
    const res = await fetch(`${relayUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [RELAY_KEY_HEADER]: key },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const answer = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
    if (!res.ok) {
      throw new SifuError(
        answer.code && answer.code in errorCatalogue
          ? (answer.code as ErrorCode)
          : 'SIFU_ERR_HOST_UNREACHABLE',
        answer.message ?? 'Another host could not be reached. Please try again.',
        { logDetail: `${relayUrl}${path} answered ${res.status}` },
      );
    }
    return answer;
  };
  const unreachable = (relayUrl: string, err: unknown) =>
    new SifuError('SIFU_ERR_HOST_UNREACHABLE', 'Another host could not be reached. Please try again.', {
      logDetail: `${relayUrl}: ${err instanceof Error ? err.message : String(err)}`,
      cause: err,
    });
  return {
    async start(relayUrl, userName, serverName, userOptions = {}) {
      const body = { user: userName, server: serverName, user_options: userOptions };
      await call(relayUrl, PEER_PATHS.start, body, CALL_TIMEOUT_MS).catch((err: unknown) => {
        throw err instanceof SifuError ? err : unreachable(relayUrl, err);
      });
    },
    async stop(relayUrl, userName, serverName, reason) {
      // A stop waits for the server to end (its grace period included).
      await call(relayUrl, PEER_PATHS.stop, { user: userName, server: serverName, reason }, 60_000).catch(
        (err: unknown) => {
          throw err instanceof SifuError ? err : unreachable(relayUrl, err);
        },
      );
    },
    async alive(relayUrl) {
      return call(relayUrl, PEER_PATHS.alive, {}, PROBE_TIMEOUT_MS).then(
        () => true,
        () => false,
      );
    },
  };
}
