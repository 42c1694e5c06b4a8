import type { StartQueueStatus } from '../../lifecycle/start-slots.js';
import type { PoolStatus } from '../../spawner/spawner.js';
import type { HostRecord } from '../../store/store.js';
import { type Html, html } from '../../web/layout.js';
import type { AdminVisit } from './access.js';
import { userLink } from './parts.js';
import { adminPage, when } from './shell.js';

export interface SystemFacts {
  /** The spawner backend (`local`, `docker`, `swarm`). */
  backend: string;
  /** `spawner.pool.size` as configured. */
  configuredPoolSize: number;
  pool: PoolStatus | undefined;
  queue: StartQueueStatus | undefined;
  /** Servers this process routes to, and starts it runs now. */
  routedHere: number;
  startingHere: number;
  hosts: HostRecord[];
}

function poolSection(f: SystemFacts): Html {
  if (!f.pool) {
    const why =
      f.configuredPoolSize > 0
        ? html`<code>spawner.pool.size</code> is ${f.configuredPoolSize}, but the <code>${f.backend}</code> backend keeps no pool (only <code>docker</code> does), so every start is a cold start.`
        : html`<code>spawner.pool.size</code> is 0 (the <code>${f.backend}</code> backend): every start is a cold start.`;
    return html`<h2>Warm pool</h2><p><strong>No warm pool.</strong> ${why}</p>`;
  }
  const p = f.pool;
  return html`<h2>Warm pool</h2>
${p.running ? '' : html`<p class="notice">The pool does not run in this process (it runs in the first worker only, or Sifu is stopping): the counts below are this process's.</p>`}
<dl class="facts"><dt>Pool size</dt><dd>${p.size}</dd><dt>Idle, ready to claim</dt><dd>${p.idle}</dd>
<dt>Warming up</dt><dd>${p.warming}</dd><dt>Claims since start</dt><dd>${p.claims}</dd></dl>`;
}

function queueSection(f: SystemFacts): Html {
  if (!f.queue) {
    return html`<h2>Burst queue</h2><p>Starts are not bounded here: none waits.</p>`;
  }
  const q = f.queue;
  return html`<h2>Burst queue</h2>
<dl class="facts"><dt>Starts at once (<code>spawner.maxConcurrentStarts</code>)</dt><dd>${q.limit}</dd>
<dt>Starting now</dt><dd>${q.running}</dd><dt>Waiting</dt><dd>${q.waiting.length}</dd></dl>
${
  q.waiting.length === 0
    ? html`<p>Nobody waits for a start slot.</p>`
    : html`<p>Waiting, first in line first:</p><ol>${q.waiting.map((who) => {
        const user = who.split('/')[0] as string;
        return html`<li>${userLink(user)}${who.includes('/') ? html` (server <code>${who.slice(user.length + 1)}</code>)` : ''}</li>`;
      })}</ol>`
}`;
}

function hostsSection(f: SystemFacts): Html {
  if (f.hosts.length === 0) return html`<h2>Hosts</h2><p>No host has registered.</p>`;
  return html`<h2>Hosts</h2><table class="cards"><thead><tr><th scope="col">Host</th><th scope="col">State</th><th scope="col">Servers</th><th scope="col">Last seen</th><th scope="col">Started</th></tr></thead><tbody>${f.hosts.map(
    (h) => html`<tr><td data-label="Host"><code>${h.id}</code></td>
<td data-label="State">${h.gone ? 'gone' : h.draining ? 'draining' : 'alive'}</td>
<td data-label="Servers">${h.load.servers}${h.load.maxServers ? html` of ${h.load.maxServers}` : ''}</td>
<td data-label="Last seen">${when(h.lastSeen)}</td><td data-label="Started">${when(h.startedAt)}</td></tr>`,
  )}</tbody></table>`;
}

export function systemPage(visit: AdminVisit, facts: SystemFacts): string {
  return adminPage(
    'Pool and queue',
    'system',
    html`<h1>Pool and queue</h1>
<p>This process routes ${facts.routedHere} ${facts.routedHere === 1 ? 'server' : 'servers'} and is starting ${facts.startingHere}. Backend: <code>${facts.backend}</code>.</p>
${poolSection(facts)}${queueSection(facts)}${hostsSection(facts)}`,
    visit.identity.userName,
  );
}
