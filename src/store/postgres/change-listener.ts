/**
 * `Store.subscribe` on PostgreSQL: a connection of its own (not the pool's: LISTEN belongs to one session)
 * that listens on `sifu_changes`, which the triggers of migration 0006 notify with each changed row's key.
 * When the connection breaks it is opened again with backoff, LISTEN is sent again, and the subscriber is
 * told (`onResubscribed`), since whatever changed meanwhile was not heard.
 */
import pg from 'pg';
import type { StoreChange } from '../store.js';

export const CHANGES_CHANNEL = 'sifu_changes';

export interface ReconnectPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
}

const DEFAULT_RECONNECT: ReconnectPolicy = { initialDelayMs: 200, maxDelayMs: 5000 };

/** A trigger's payload as a change; null for anything else (another sender, another version). */
export function parseChange(payload: string | undefined): StoreChange | null {
  if (payload === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  const { t, u, s, id } = value as Record<string, unknown>;
  if (t === 'servers' && typeof u === 'string' && typeof s === 'string') {
    return { table: 'servers', userName: u, serverName: s };
  }
  if (t === 'hosts' && typeof id === 'string') return { table: 'hosts', id };
  return null;
}

/**
 * Listens for changes on the database at `url`. Resolves once the first LISTEN succeeded (rejects if that
 * first connection fails); the function returned closes the connection and stops reconnecting.
 */
export async function listenForChanges(
  url: string,
  onChange: (change: StoreChange) => void,
  onResubscribed: () => void,
  policy: ReconnectPolicy = DEFAULT_RECONNECT,
): Promise<() => Promise<void>> {
  let stopped = false;
  let client: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let delay = policy.initialDelayMs;

  async function connect(): Promise<pg.Client> {
    // Keep-alive probes: a connection whose server vanished without closing it (a failover that drops
    // packets) ends after them and is reopened, instead of staying open and deaf.
    const next = new pg.Client({
      connectionString: url,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // Errors of a live connection are followed by 'end', which reconnects; without a listener an error
    // event would crash the process.
    next.on('error', () => {});
    next.on('notification', (message) => {
      if (message.channel !== CHANGES_CHANNEL) return;
      const change = parseChange(message.payload);
      if (change) deliver(() => onChange(change));
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch (err) {
      await next.end().catch(() => {});
      throw err;
    }
    next.once('end', () => {
      if (client === next) client = undefined;
      if (!stopped) scheduleReconnect();
    });
    return next;
  }

  function scheduleReconnect(): void {
    if (stopped || retryTimer) return;
    retryTimer = setTimeout(async () => {
      retryTimer = undefined;
      if (stopped) return;
      try {
        const next = await connect();
        if (stopped) {
          await next.end().catch(() => {});
          return;
        }
        client = next;
        delay = policy.initialDelayMs;
        deliver(onResubscribed);
      } catch {
        delay = Math.min(delay * 2, policy.maxDelayMs);
        scheduleReconnect();
      }
    }, delay);
  }

  client = await connect();

  return async () => {
    stopped = true;
    clearTimeout(retryTimer);
    retryTimer = undefined;
    const last = client;
    client = undefined;
    await last?.end().catch(() => {});
  };
}

/** A subscriber's callback that throws must not break the connection it was called from. */
function deliver(callback: () => void): void {
  try {
    callback();
  } catch {
    // The subscriber's own failure: the listener keeps listening.
  }
}
