/**
 * The JupyterHub REST conformance probes, written from JupyterHub's `docs/source/_static/rest-api.yml`
 * and calibrated against Debian's JupyterHub 3.0 (`npm run bench -- jupyterhub-api`). The table is in
 * jupyterhub-probes/ by group of paths; the runner that sends them is jupyterhub-probes/runner.ts.
 */
import { HUB_PROBES } from './jupyterhub-probes/hub.js';
import type { Probe } from './jupyterhub-probes/model.js';
import { SERVER_PROBES } from './jupyterhub-probes/servers.js';
import { USER_PROBES } from './jupyterhub-probes/users.js';

export type { Caller, Probe, SetupStep, Shape } from './jupyterhub-probes/model.js';
export { type ProbeResult, type ProbeTarget, runProbes } from './jupyterhub-probes/runner.js';

/** Every probe, in the order they run (later probes rely on nothing earlier ones leave but the fixtures). */
export const PROBES: readonly Probe[] = [...USER_PROBES, ...SERVER_PROBES, ...HUB_PROBES];

/** The probes JupyterHub 3.0 is held to: those without a `since` newer than 3.0. */
export const CALIBRATED_PROBES: readonly Probe[] = PROBES.filter((p) => p.since === undefined);

{
  const seen = new Set<string>();
  for (const probe of PROBES) {
    if (seen.has(probe.id)) throw new Error(`two probes are called ${probe.id}`);
    seen.add(probe.id);
  }
}
