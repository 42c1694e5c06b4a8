/**
 * Retries on PostgreSQL when the connection, not the statement, failed: the server restarted or failed
 * over (RDS Multi-AZ takes some seconds), so a statement sent a moment later will likely succeed. Only
 * methods whose repetition is harmless are retried: reads, and writes that leave the same result when
 * applied twice. The others (an insert that reports whether it won, a ticket taken once...) may have
 * committed before the reply was lost, so repeating them could report a wrong outcome: their error
 * reaches the caller.
 */
import type { Store } from '../store.js';

/** Network errors of a socket that could not be opened or broke. */
const CONNECTION_ERROR_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);
/** SQLSTATEs of a server going away: admin_shutdown, crash_shutdown, cannot_connect_now (starting up). */
const SERVER_GOING_AWAY = new Set(['57P01', '57P02', '57P03']);

/** Store methods that may be repeated after a lost reply, with the same effect as one call. */
export const RETRIED_METHODS = [
  // reads
  'getUser',
  'listUsers',
  'getIdentity',
  'listIdentities',
  'getServer',
  'listServers',
  'findToken',
  'listTokens',
  'getSession',
  'getCourseNotebook',
  'getCourseNotebookContent',
  'listCourseNotebooks',
  'getLease',
  'getHost',
  'listHosts',
  'listEvents',
  'getGroup',
  'listGroups',
  'listNamedServers',
  // writes whose repetition changes nothing more
  'ensureUser',
  'setAdmin',
  'touchUser',
  'updateServer',
  'touchServer',
  'deleteServer',
  'touchToken',
  'deleteSession',
  'deleteExpiredSessions',
  'deleteExpiredTickets',
  'acquireLease',
  'renewLease',
  'releaseLease',
  'uidOf',
  'registerHost',
  'heartbeat',
  'setDraining',
  'settingOrInit',
  'addGroupMembers',
  'removeGroupMembers',
  'setGroupProperties',
  'rememberNamedServer',
  'touchNamedServer',
] as const satisfies readonly (keyof Store)[];

/**
 * Never retried: a lost reply leaves their outcome unknown (the row may be inserted, the ticket taken, the
 * host declared), and a second call would answer as if the first had not happened.
 */
export const UNRETRIED_METHODS = [
  'claimServer',
  'consumeTicket',
  'createTicket',
  'createToken',
  'createSession',
  'createUser',
  'createLinkedUser',
  'createGroup',
  'linkExistingUser',
  'addEvent',
  'declareHostGone',
  'putCourseNotebook',
  'deleteUser',
  // A second call after a lost reply would say "absent" of what the first removed.
  'deleteToken',
  'deleteCourseNotebook',
  'deleteGroup',
  'forgetNamedServer',
  'forgetHost',
  'migrate',
  'subscribe',
  'close',
] as const satisfies readonly (keyof Store)[];

/** True when `err` (or what caused it) says the connection failed, so that the statement may not have run. */
export function isConnectionError(err: unknown, depth = 0): boolean {
  if (depth > 4 || err === null || typeof err !== 'object') return false;
  const { code, message, cause, errors } = err as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string') {
    if (CONNECTION_ERROR_CODES.has(code) || SERVER_GOING_AWAY.has(code)) return true;
    // SQLSTATE class 08: connection exception.
    if (/^08[0-9A-Z]{3}$/.test(code)) return true;
  }
  if (typeof message === 'string' && /^Connection terminated/.test(message)) return true;
  if (Array.isArray(errors) && errors.some((inner) => isConnectionError(inner, depth + 1))) return true;
  return isConnectionError(cause, depth + 1);
}

export interface RetryPolicy {
  /** The first pause; each next one is twice as long. */
  initialDelayMs: number;
  /** No attempt starts after this long since the first: the last error is thrown. */
  budgetMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { initialDelayMs: 100, budgetMs: 3000 };

/** Runs `operation`, again after a connection error, pausing 100, 200, 400... ms within the budget. */
export async function retryOnConnectionError<T>(
  operation: () => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<T> {
  const deadline = Date.now() + policy.budgetMs;
  let delay = policy.initialDelayMs;
  for (;;) {
    try {
      return await operation();
    } catch (err) {
      const left = deadline - Date.now();
      if (!isConnectionError(err) || left <= 0) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
      delay *= 2;
    }
  }
}

/** `store` with each method of `RETRIED_METHODS` retried on connection errors; every other as it is. */
export function withRetries(store: Store, policy: RetryPolicy = DEFAULT_RETRY_POLICY): Store {
  const retried = new Set<PropertyKey>(RETRIED_METHODS);
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      // Bound to the store itself: its methods use private fields, which a proxy does not have.
      if (!retried.has(property)) return value.bind(target);
      return (...args: unknown[]) => retryOnConnectionError(() => value.apply(target, args), policy);
    },
  });
}
