import { SifuError } from '../../errors.js';

/** What the core stores for a Swarm server (opaque to it). No secret: the token is a Swarm secret. */
export interface SwarmState {
  serviceId: string;
  serviceName: string;
  port: number;
  /** The Swarm secret holding the token, removed with the service. */
  secretId: string | null;
}

export function toSwarmState(raw: Record<string, unknown>): SwarmState {
  const { serviceId, serviceName, port, secretId } = raw;
  if (
    typeof serviceId !== 'string' ||
    !/^[0-9a-z]{10,64}$/.test(serviceId) ||
    typeof serviceName !== 'string' ||
    typeof port !== 'number' ||
    !Number.isSafeInteger(port) ||
    port <= 0 ||
    !(secretId === null || secretId === undefined || typeof secretId === 'string')
  ) {
    throw new SifuError('SIFU_ERR_INTERNAL', 'Invalid server state.', {
      logDetail: `swarm spawner state is malformed: ${JSON.stringify(raw)}`,
    });
  }
  return { serviceId, serviceName, port, secretId: secretId ?? null };
}

/** Task states after which a task never runs again (Swarm's own vocabulary). */
export const TERMINAL_TASK_STATES = new Set([
  'complete',
  'failed',
  'shutdown',
  'rejected',
  'orphaned',
  'remove',
]);
