import { SifuError } from '../../errors.js';

/** What the core stores for a Swarm server (opaque to it). No secret: the token is a Swarm secret. */
export interface SwarmState {
  serviceId: string;
  serviceName: string;
  /** The Swarm secret holding the token, removed with the service. */
  secretId: string | null;
  /** The internal network Sifu made for this service alone, removed with it (null: the operator's). */
  networkId: string | null;
  /** Host directory of the server's unix socket, removed with the service. */
  socketDir: string | null;
}

const optionalString = (value: unknown) => value === null || value === undefined || typeof value === 'string';

export function toSwarmState(raw: Record<string, unknown>): SwarmState {
  const { serviceId, serviceName, secretId, networkId, socketDir } = raw;
  if (
    typeof serviceId !== 'string' ||
    !/^[0-9a-z]{10,64}$/.test(serviceId) ||
    typeof serviceName !== 'string' ||
    !optionalString(secretId) ||
    !optionalString(networkId) ||
    !optionalString(socketDir)
  ) {
    throw new SifuError('SIFU_ERR_INTERNAL', 'Invalid server state.', {
      logDetail: `swarm spawner state is malformed: ${JSON.stringify(raw)}`,
    });
  }
  const orNull = (value: unknown) => (value as string | null | undefined) ?? null;
  return {
    serviceId,
    serviceName,
    secretId: orNull(secretId),
    networkId: orNull(networkId),
    socketDir: orNull(socketDir),
  };
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
