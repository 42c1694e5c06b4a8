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
  NAMED_SERVER_LIMIT,
  PROBES,
  type ProbeResult,
  runProbes,
  SIFU_PROBE_ENV,
} from '../test/support/jupyterhub-probes.js';
import { startJupyterHub } from './support/jupyterhub.js';

export interface ApiConformance {
  /** JupyterHub 3.0 on every probe; it is held to those without `since`. */
  jupyterhub?: ProbeResult[];
  /** Sifu on every probe. */
  sifu?: ProbeResult[];
}

/** What JupyterHub 3.0 needs beyond the benchmarks' hub: named servers and an admin service token. */
const JUPYTERHUB_CONFIG = [
  'c.JupyterHub.allow_named_servers = True',
  `c.JupyterHub.named_server_limit_per_user = ${NAMED_SERVER_LIMIT}`,
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
        { apiUrl: hub.url, adminToken: hub.apiToken },
        // All of them: the later releases' probes show whether `since` is right (3.0 should fail them).
        PROBES,
        { log: (line) => log(`  ${line}`) },
      );
    } finally {
      await hub.stop();
    }
  }
  if (systems.includes('sifu')) {
    log('Sifu:');
    const sifu = await startBuiltSifu(SIFU_PROBE_ENV);
    try {
      result.sifu = await runProbes(
        { apiUrl: sifu.hubUrl, serverOrigin: sifu.notebookUrl, adminToken: BUILT_ADMIN_TOKEN },
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
export function renderApiConformance(result: ApiConformance): string {
  const calibrated = new Set(CALIBRATED_PROBES.map((p) => p.id));
  const newer = PROBES.filter((p) => !calibrated.has(p.id));
  const held = (results: ProbeResult[]) => results.filter((r) => calibrated.has(r.id));
  const hub = result.jupyterhub;
  const lines = [
    '| system | probes of JupyterHub 3.0 and older | probes of later releases | all |',
    '|---|---|---|---|',
    hub
      ? `| JupyterHub 3.0 (Debian) | ${passed(held(hub))}/${held(hub).length} | ${passed(hub) - passed(held(hub))}/${hub.length - held(hub).length} | ${passed(hub)}/${hub.length} |`
      : '| JupyterHub 3.0 (Debian) | not run | | |',
    result.sifu
      ? `| Sifu | ${passed(held(result.sifu))}/${held(result.sifu).length} | ${passed(result.sifu) - passed(held(result.sifu))}/${result.sifu.length - held(result.sifu).length} | ${passed(result.sifu)}/${result.sifu.length} |`
      : '| Sifu | not run | | |',
    '',
    `Probes of later releases (\`since\`), not held against JupyterHub 3.0: ${newer.map((p) => `\`${p.id}\` (${p.since})`).join(', ')}.`,
  ];
  const hubFailures = held(hub ?? []).filter((r) => !r.pass);
  if (hubFailures.length > 0) {
    lines.push('', 'JupyterHub 3.0 failed (the table is not calibrated until these pass):', '');
    for (const r of hubFailures) lines.push(`- \`${r.id}\`: ${r.got.slice(0, 300)}`);
  }
  const newerPassing = (hub ?? []).filter((r) => !calibrated.has(r.id) && r.pass);
  if (newerPassing.length > 0) {
    lines.push(
      '',
      `Marked as later but passed by JupyterHub 3.0: ${newerPassing.map((r) => `\`${r.id}\``).join(', ')}.`,
    );
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
