import { isValidUsername } from '../../names.js';
import type { EventRecord } from '../../store/store.js';
import { type Html, html } from '../../web/layout.js';
import type { AdminVisit } from './access.js';
import { userLink } from './parts.js';
import { EVENT_LIMITS, type EventsQuery } from './query.js';
import { adminPage, when } from './shell.js';

/** Event data as text: JSON, escaped where shown (it can hold what platforms and users sent). */
function dataText(data: Record<string, unknown>): string {
  const text = JSON.stringify(data);
  return text === '{}' ? '' : text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}

export function eventsTable(events: EventRecord[]): Html {
  if (events.length === 0) return html`<p>No events.</p>`;
  return html`<table class="cards"><thead><tr><th scope="col">Time</th><th scope="col">Type</th><th scope="col">User</th><th scope="col">Details</th></tr></thead><tbody>${events.map(
    (e) => html`<tr><td data-label="Time">${when(e.at)}</td><td data-label="Type"><code>${e.type}</code></td>
<td data-label="User">${e.userName === null ? html`<span class="muted">—</span>` : isValidUsername(e.userName) ? userLink(e.userName) : e.userName}</td>
<td data-label="Details"><code class="data">${dataText(e.data)}</code></td></tr>`,
  )}</tbody></table>`;
}

/** `/hub/admin/events` with these filters and limit, older than `before` when given. */
function eventsUrl(query: EventsQuery, before?: number): string {
  const params = new URLSearchParams();
  if (query.type) params.set('type', query.type);
  if (query.user) params.set('user', query.user);
  if (query.limit !== 100) params.set('limit', String(query.limit));
  if (before !== undefined) params.set('before', String(before));
  const text = params.toString();
  return `/hub/admin/events${text ? `?${text}` : ''}`;
}

export function eventsPage(input: {
  visit: AdminVisit;
  query: EventsQuery;
  events: EventRecord[];
  /** Types seen lately, offered as suggestions for the type filter. */
  knownTypes: string[];
}): string {
  const { query } = input;
  const filtered = [query.type && `type ${query.type}`, query.user && `user ${query.user}`].filter(Boolean);
  return adminPage(
    'Events',
    'events',
    html`<h1>Recent events</h1>
<p class="muted">The audit log: sign-ins, starts and stops, admin access and actions, token changes, purges.</p>
<form method="get" action="/hub/admin/events" class="filters" role="search">
<div><label for="type">Type</label><input type="text" id="type" name="type" list="event-types" value="${query.type ?? ''}" maxlength="64" autocomplete="off" placeholder="e.g. server.stop">
<datalist id="event-types">${input.knownTypes.map((t) => html`<option value="${t}">`)}</datalist></div>
<div><label for="user">User</label><input type="text" id="user" name="user" value="${query.user ?? ''}" maxlength="64" autocomplete="off"></div>
<div><label for="limit">Show</label><select id="limit" name="limit">${EVENT_LIMITS.map(
      (n) => html`<option value="${n}"${n === query.limit ? html` selected` : ''}>${n} latest</option>`,
    )}${
      (EVENT_LIMITS as readonly number[]).includes(query.limit)
        ? ''
        : html`<option value="${query.limit}" selected>${query.limit} latest</option>`
    }</select></div>
<button type="submit">Filter</button></form>
<p class="muted" role="status">${input.events.length} ${input.events.length === 1 ? 'event' : 'events'}, newest first${
      query.before !== undefined ? html`, older than event ${String(query.before)}` : ''
    }${
      filtered.length ? html` (${filtered.join(', ')})` : ''
    }${filtered.length ? html` · <a href="/hub/admin/events">clear filters</a>` : ''}</p>
${eventsTable(input.events)}
${pager(input.query, input.events)}`,
    input.visit.identity.userName,
  );
}

/**
 * Newest and older pages: a full page may have older events after it (one more read would tell, but an
 * empty last page says it plainly).
 */
function pager(query: EventsQuery, events: EventRecord[]): Html | string {
  const last = events.at(-1);
  const older = events.length === query.limit && last !== undefined;
  if (!older && query.before === undefined) return '';
  return html`<nav class="pager" aria-label="Pages">${
    query.before !== undefined ? html`<a href="${eventsUrl(query)}" rel="first">← Newest events</a>` : ''
  }${older ? html`<a href="${eventsUrl(query, last.id)}" rel="next">Older events →</a>` : ''}</nav>`;
}
