/**
 * Labels Sifu puts on what it creates in the engine (containers, services, secrets). They let a restarted
 * Sifu find its servers again and let cleanup touch only what Sifu made, and only this deployment's:
 * `sifu.instance` tells apart two Sifu deployments sharing one engine.
 */
export const LABEL_MANAGED = 'sifu.managed';
export const LABEL_INSTANCE = 'sifu.instance';
export const LABEL_USER = 'sifu.user';
export const LABEL_SERVER = 'sifu.server';
/** Set on warm-pool servers (value: the server's slot); they keep it once claimed. */
export const LABEL_POOL = 'sifu.pool';

export function serverLabels(
  instance: string,
  userName: string,
  serverName: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...extra,
    [LABEL_MANAGED]: 'true',
    [LABEL_INSTANCE]: instance,
    [LABEL_USER]: userName,
    [LABEL_SERVER]: serverName,
  };
}

/** A warm-pool server's labels: this deployment's, no user yet (`sifu.user` absent), its slot in `sifu.pool`. */
export function poolLabels(
  instance: string,
  slot: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...extra,
    [LABEL_MANAGED]: 'true',
    [LABEL_INSTANCE]: instance,
    [LABEL_POOL]: slot,
    [LABEL_SERVER]: '',
  };
}

/** Engine filter (`label=k=v`) selecting this deployment's objects. */
export function instanceFilter(instance: string): string[] {
  return [`${LABEL_MANAGED}=true`, `${LABEL_INSTANCE}=${instance}`];
}

/** A container or service name from a user and server name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, bounded. */
export function engineName(prefix: string, userName: string, serverName: string, suffix: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');
  const who = serverName ? `${safe(userName)}-${safe(serverName)}` : safe(userName);
  return `${prefix}-${who.slice(0, 40)}-${suffix}`;
}
