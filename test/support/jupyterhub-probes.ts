/**
 * The JupyterHub REST conformance probes, written from JupyterHub's `docs/source/_static/rest-api.yml`
 * and calibrated against Debian's JupyterHub 3.0 (`npm run bench -- jupyterhub-api`). The table is in
 * jupyterhub-probes/ by group of paths; the runner that sends them is jupyterhub-probes/runner.ts.
 */
import { ACTIVITY_PROBES } from './jupyterhub-probes/activity.js';
import { GROUP_PROBES } from './jupyterhub-probes/groups.js';
import { HUB_PROBES } from './jupyterhub-probes/hub.js';
import { IDENTITY_PROBES } from './jupyterhub-probes/identity.js';
import type { Probe } from './jupyterhub-probes/model.js';
import { NAMED_SERVER_LIMIT } from './jupyterhub-probes/runner.js';
import { SERVER_PROBES } from './jupyterhub-probes/servers.js';
import { TOKEN_PROBES } from './jupyterhub-probes/tokens.js';
import { USER_PROBES } from './jupyterhub-probes/users.js';

export type { Caller, Probe, SetupStep, Shape } from './jupyterhub-probes/model.js';
export {
  NAMED_SERVER_LIMIT,
  type ProbeResult,
  type ProbeTarget,
  runProbes,
} from './jupyterhub-probes/runner.js';

/** Every probe, in the order they run (later probes rely on nothing earlier ones leave but the fixtures). */
export const PROBES: readonly Probe[] = [
  ...IDENTITY_PROBES,
  ...USER_PROBES,
  ...ACTIVITY_PROBES,
  ...SERVER_PROBES,
  ...TOKEN_PROBES,
  ...GROUP_PROBES,
  ...HUB_PROBES,
];

/** The probes JupyterHub 3.0 is held to: those without a `since` newer than 3.0. */
export const CALIBRATED_PROBES: readonly Probe[] = PROBES.filter((p) => p.since === undefined);

/** What the probed Sifu needs beyond its defaults: named servers, as many per user as the probes expect. */
export const SIFU_PROBE_ENV: Record<string, string> = {
  SIFU_SPAWNER_ALLOW_NAMED_SERVERS: 'true',
  SIFU_SPAWNER_NAMED_SERVER_LIMIT_PER_USER: String(NAMED_SERVER_LIMIT),
};

{
  const seen = new Set<string>();
  for (const probe of PROBES) {
    if (seen.has(probe.id)) throw new Error(`two probes are called ${probe.id}`);
    seen.add(probe.id);
  }
}
