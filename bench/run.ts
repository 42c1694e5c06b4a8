/**
 * `npm run bench [-- <name>...]`: runs the benchmarks and rewrites their sections of
 * bench/RESULTS.md, leaving the other sections as they are. Each benchmark owns one `## <Title>`
 * section; add a benchmark by adding an entry to `benchmarks`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchDocker, dockerTable } from './docker.js';
import { benchHosts, renderHosts } from './hosts.js';
import { benchJupyterHubApi, renderApiConformance } from './jupyterhub-api.js';
import { benchProxy, proxyBenchCommands, proxyBenchMachine, proxyTable } from './proxy.js';
import { benchShippedWebSockets } from './proxy-ws-shipped.js';
import { benchRelay, relayBenchCommands } from './relay.js';
import { benchSpawn, renderSpawnTable } from './spawn.js';

interface Benchmark {
  name: string;
  title: string;
  /** Runs the benchmark and returns the section body (Markdown, without the `## ` title). */
  run(log: (line: string) => void): Promise<string>;
}

const benchmarks: Benchmark[] = [
  {
    name: 'proxy',
    title: 'Proxy',
    async run(log) {
      const { rows, loadAverages, calibrationUs } = await benchProxy({ log });
      return [
        `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench -- proxy\` (or \`node --import tsx bench/proxy.ts\`).`,
        'The "as shipped" rows are what users run: the built `sifu serve` (`make run`), default config (so one worker per',
        "core), the real app (sessions, activity, CSP), in front of a learner's server that is nginx on the `local` backend's",
        'unix socket. "proxy only" rows are `createNotebookProxy` with bench hooks, in front of nginx on TCP, as before.',
        'Rows per system: medians of the rounds; ratio rows: medians of the per-round ratios ("spread": each round).',
        '',
        proxyTable(rows),
        '',
        `Machine (1-minute load average ${loadAverages.map((x) => x.toFixed(2)).join(' before, ')} after the run; calibration: nginx as a proxy spends ${calibrationUs.toFixed(1)} µs of CPU per request):`,
        '',
        '```',
        proxyBenchMachine(),
        '```',
        '',
        'Each HTTP run, after a 1 s warm-up run of the same command:',
        '',
        '```',
        `wrk ${proxyBenchCommands()}`,
        '```',
        '',
        "For Sifu as shipped, instead of the bench cookie: `-H 'Host: bench.localhost:<port>'` and the signed-in browser's",
        "notebook cookies (`-H 'Cookie: __Host-sifu-nb-handoff=...; __Host-sifu-nb-session=...'`).",
      ].join('\n');
    },
  },
  {
    name: 'proxy-ws-shipped',
    title: 'WebSockets as shipped',
    async run(log) {
      const { rows, loadAverages, admittedAfterMs } = await benchShippedWebSockets({ log });
      return [
        `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench -- proxy-ws-shipped\` (or \`node --import tsx bench/proxy-ws-shipped.ts\`).`,
        "Sifu as shipped (the built `sifu serve`, default config, one worker per core) in front of a learner's server that",
        "is a WebSocket echo (bench/support/ws-echo-standin.mjs, Node without packages) on the `local` backend's unix",
        'socket, in its sandbox; CHP (one process) routes to that same socket, and "direct" is a client on the socket.',
        'As shipped, an open WebSocket is relayed by the native relay\'s thread (native/relay.c); "Sifu, event-loop relay"',
        'is the same built Sifu with `SIFU_PROXY_NATIVE_RELAY=false` (its own echo server, in its own sandbox).',
        "The upgrade carries a signed-in browser's notebook cookies, `Host: bench.localhost:<port>` and the user's Origin.",
        '',
        proxyTable(rows),
        '',
        `Every worker admitted the upgrade ${admittedAfterMs} ms after the sign-in had reached the server (4 upgrades in a`,
        'row; before that, a worker that did not start the server can answer 503 `SIFU_ERR_SERVER_NOT_RUNNING`).',
        '',
        `Machine (/proc/loadavg ${loadAverages.join(' before, ')} after the run):`,
        '',
        '```',
        proxyBenchMachine(),
        '```',
        '',
        '- Latency: one `ws` client socket per path in the bench process; a 32-byte text message echoed, the three',
        '  paths taking turns message by message (rotating order), 1000 warm-up turns, then 5 rounds of 3000 round trips',
        '  per path. Rows per path: medians of the rounds; ratio rows: medians of the per-round ratios ("spread": each',
        '  round). "Latency added" is a path\'s mean minus direct\'s in the same round. "Proxy CPU per round trip":',
        "  the CPU time of every thread of the proxy's processes over a round (/proc/<pid>/task/*/schedstat, in ns),",
        "  divided by the round trips through it: the relay's work and whatever else the processes do meanwhile.",
        '- Idle memory: 1000 WebSockets opened through the proxy (50 at a time, from 127.0.0.1-127.0.0.8: Sifu caps one',
        '  address at `limits.maxConnectionsPerAddress`, 256 by default, so the default config is kept), 2 s to settle,',
        "  then the growth of V8's heap in use in every process of the proxy (Sifu: supervisor and workers, not the",
        '  sandboxed server), each read after a full garbage collection asked through its inspector (SIGUSR1, closed',
        '  again: bench/support/inspector-heap.ts), and of their VmRSS read right after, divided by 1000.',
      ].join('\n');
    },
  },
  {
    name: 'relay',
    title: 'Relay (multi-host)',
    async run(log) {
      const { rows, loadAverages } = await benchRelay({ log });
      return [
        `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench -- relay\` (or \`node --import tsx bench/relay.ts\`):`,
        'small GETs to a learner served through its own replica (notebook proxy -> unix socket) against through a',
        'remote replica (notebook proxy -> relay over TCP on loopback -> unix socket); the byte pipe and the node:http',
        "relay are anchors in the relay's place, measured in the same run. One process each, medians of the rounds.",
        '',
        proxyTable(rows),
        '',
        `Machine (1-minute load average ${loadAverages.map((x) => x.toFixed(2)).join(' before, ')} after the run):`,
        '',
        '```',
        proxyBenchMachine(),
        '```',
        '',
        "Each loaded run, after a 1 s warm-up run of the same command, against each path's proxy; then the same",
        'with `-c1` for half as long (the `1 connection` rows, where nothing queues):',
        '',
        '```',
        `wrk ${relayBenchCommands()}`,
        '```',
      ].join('\n');
    },
  },
  {
    name: 'spawn',
    title: 'Cold start',
    async run() {
      const result = await benchSpawn();
      return [
        `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench -- spawn\` (or \`node --import tsx bench/spawn.ts\`):`,
        'time from `POST /hub/api/users/<name>/server` until `servers[""].ready` is true (polled every 10 ms),',
        'Sifu (local backend) against JupyterHub 3.0 (Debian, SimpleLocalProcessSpawner, configurable-http-proxy),',
        'same machine, same run, both running notebook 6.4.12. Target: Sifu / JupyterHub <= 1.',
        '',
        renderSpawnTable(result),
      ].join('\n');
    },
  },
  {
    name: 'docker',
    title: 'Docker backend and warm pool',
    async run(log) {
      const rows = await benchDocker({ log });
      return [
        `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench -- docker\` (or \`node --import tsx bench/docker.ts --rounds 5 --burst 50\`):`,
        'time from the start request to a server answering its API, with JupyterHub 3.0 (local spawner) in the same run.',
        'Targets: pool claim to ready p50 < 100 ms; burst of 50 with a pool of 50, p95 < 3 s.',
        '',
        dockerTable(rows),
      ].join('\n');
    },
  },
  {
    name: 'hosts',
    title: 'Several hosts',
    async run(log) {
      const result = await benchHosts({ log });
      return [
        `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench -- hosts\` (or \`node --import tsx bench/hosts.ts\`):`,
        'three replicas (h1, h2, h3) on one PostgreSQL 15, relays on loopback, servers being stand-ins (one process,',
        'one unix socket per server answering its API with the secret; not Jupyter). What each row means: below.',
        '',
        renderHosts(result),
      ].join('\n');
    },
  },
  {
    name: 'jupyterhub-api',
    title: 'JupyterHub REST conformance',
    async run(log) {
      const result = await benchJupyterHubApi({ log });
      return [
        `Measured ${new Date().toISOString().slice(0, 10)} by \`npm run bench -- jupyterhub-api\` (or \`node --import tsx bench/jupyterhub-api.ts\`):`,
        "the probes of test/support/jupyterhub-probes.ts (written from JupyterHub's rest-api.yml) against Debian's",
        'JupyterHub 3.0 (DummyAuthenticator, SimpleLocalProcessSpawner running jupyterhub-singleuser, two named servers',
        'per user, an admin service token) and against the built Sifu (the same two named servers), same run.',
        'JupyterHub 3.0 must pass every probe it is held to: that is what calibrates the table.',
        '',
        renderApiConformance(result),
      ].join('\n');
    },
  },
];

const RESULTS = join(import.meta.dirname, 'RESULTS.md');
/** Everything in a section after this line is hand-written and survives re-runs. */
const END_MARKER = '<!-- end of generated results; notes below are kept by bench/run.ts -->';

/** Replaces the generated part of `## <title>` (or appends the section), keeping notes after END_MARKER. */
export function replaceSection(document: string, title: string, generated: string): string {
  const lines = document.split('\n');
  const heading = `## ${title}`;
  const block = (notes: string) =>
    [heading, '', generated.trim(), '', END_MARKER, ...(notes.trim() === '' ? [] : ['', notes.trim()])].join(
      '\n',
    );
  const start = lines.findIndex((line) => line.trim() === heading);
  if (start === -1) return `${document.trimEnd()}\n\n${block('')}\n`;
  let end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
  if (end === -1) end = lines.length;
  const old = lines.slice(start, end).join('\n');
  const at = old.indexOf(END_MARKER);
  const notes = at === -1 ? '' : old.slice(at + END_MARKER.length);
  const before = lines.slice(0, start).join('\n').trimEnd();
  const after = lines.slice(end).join('\n').trim();
  return `${before}\n\n${block(notes)}\n${after === '' ? '' : `\n${after}\n`}`;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const selected = benchmarks.filter((b) => wanted.length === 0 || wanted.includes(b.name));
  if (selected.length === 0) throw new Error(`no benchmark named ${wanted.join(', ')}`);
  for (const benchmark of selected) {
    console.error(`# ${benchmark.title}`);
    const body = await benchmark.run((line) => console.error(line));
    const document = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Benchmark results\n';
    writeFileSync(RESULTS, replaceSection(document, benchmark.title, body));
    console.log(body);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
