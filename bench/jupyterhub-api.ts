/**
 * JupyterHub REST conformance, calibrated: the probes of test/support/jupyterhub-probes.ts against
 * Debian's JupyterHub 3.0 (which must pass every probe it implements, or the table is wrong) and against
 * the built Sifu, in the same run. `node --import tsx bench/jupyterhub-api.ts [--jupyterhub-only]`, or
 * `npm run bench -- jupyterhub-api` to write the section of bench/RESULTS.md.
 */
import { pathToFileURL } from 'node:url';
import { BUILT_ADMIN_TOKEN, startBuiltSifu } from '../test/support/built-sifu.js';
import {
  CALIBRATED_PROBES,
  PROBES,
  type Probe,
  type ProbeResult,
  runProbes,
} from '../test/support/jupyterhub-probes.js';
import { startJupyterHub } from './support/jupyterhub.js';

export interface ApiConformance {
  /** JupyterHub 3.0 on the probes it is held to (no `since`). */
  jupyterhub?: ProbeResult[];
  /** Sifu on every probe. */
  sifu?: ProbeResult[];
}

/** What JupyterHub 3.0 needs beyond the benchmarks' hub: named servers and an admin service token. */
const JUPYTERHUB_CONFIG = [
  'c.JupyterHub.allow_named_servers = True',
  // The service token of the generated config holds the admin role: every scope, as SIFU_ADMIN_TOKEN does.
  "c.JupyterHub.load_roles = [{'name': 'admin', 'services': ['bench']}]",
];

export async function benchJupyterHubApi(
  options: { log?: (line: string) => void; systems?: Array<'jupyterhub' | 'sifu'> } = {},
): Promise<ApiConformance> {
  const log = options.log ?? (() => {});
  const systems = options.systems ?? ['jupyterhub', 'sifu'];
  const result: ApiConformance = {};
  if (systems.includes('jupyterhub')) {
    log('JupyterHub 3.0:');
    const hub = await startJupyterHub({ extraConfig: JUPYTERHUB_CONFIG });
    try {
      result.jupyterhub = await runProbes(
        { name: 'JupyterHub 3.0', apiUrl: hub.url, adminToken: hub.apiToken },
        CALIBRATED_PROBES,
        { log: (line) => log(`  ${line}`) },
      );
    } finally {
      await hub.stop();
    }
  }
  if (systems.includes('sifu')) {
    log('Sifu:');
    const sifu = await startBuiltSifu({ SIFU_SPAWNER_ALLOW_NAMED_SERVERS: 'true' });
    try {
      result.sifu = await runProbes(
        { name: 'Sifu', apiUrl: sifu.hubUrl, adminToken: BUILT_ADMIN_TOKEN },
        PROBES,
        {
          log: (line) => log(`  ${line}`),
        },
      );
    } finally {
      await sifu.stop();
    }
  }
  return result;
}

const passed = (results: ProbeResult[]) => results.filter((r) => r.pass).length;

/** The RESULTS.md section body: the counts side by side, then each probe JupyterHub 3.0 failed. */
export function renderApiConformance(result: ApiConformance, probes: readonly Probe[] = PROBES): string {
  const newer = probes.filter((p) => p.since !== undefined);
  const lines = [
    '| system | probes passed |',
    '|---|---|',
    result.jupyterhub
      ? `| JupyterHub 3.0 (Debian) | ${passed(result.jupyterhub)}/${result.jupyterhub.length} (the ${newer.length} probes of later releases not run) |`
      : '| JupyterHub 3.0 (Debian) | not run |',
    result.sifu
      ? `| Sifu | ${passed(result.sifu)}/${result.sifu.length} (of them ${passed(result.sifu.filter((r) => r.since === undefined))}/${result.sifu.filter((r) => r.since === undefined).length} of those JupyterHub 3.0 runs) |`
      : '| Sifu | not run |',
    '',
    `Probes of later releases, not held against JupyterHub 3.0: ${newer.map((p) => `\`${p.id}\` (${p.since})`).join(', ')}.`,
  ];
  const hubFailures = (result.jupyterhub ?? []).filter((r) => !r.pass);
  if (hubFailures.length > 0) {
    lines.push('', 'JupyterHub 3.0 failed (the table is not calibrated until these pass):', '');
    for (const r of hubFailures) lines.push(`- \`${r.id}\`: ${r.got.slice(0, 300)}`);
  }
  const sifuFailures = (result.sifu ?? []).filter((r) => !r.pass);
  if (sifuFailures.length > 0) {
    lines.push('', `Sifu failed: ${sifuFailures.map((r) => `\`${r.id}\``).join(', ')}.`);
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const result = await benchJupyterHubApi({
    log: (line) => console.error(line),
    systems: args.includes('--jupyterhub-only')
      ? ['jupyterhub']
      : args.includes('--sifu-only')
        ? ['sifu']
        : undefined,
  });
  console.log(renderApiConformance(result));
}
