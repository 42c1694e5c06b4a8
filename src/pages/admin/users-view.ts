import type {
  EventRecord,
  GroupRecord,
  NamedServerRecord,
  TokenRecord,
  UserRecord,
} from '../../store/store.js';
import { type Html, html } from '../../web/layout.js';
import type { AdminVisit } from './access.js';
import { eventsTable } from './events-view.js';
import { adminUserUrl, doneNotice, postButton, serverLabel, stateBadge, userLink } from './parts.js';
import {
  SERVER_STATES,
  type ServerView,
  USER_SORTS,
  type UsersPage,
  type UsersQuery,
  usersQueryString,
} from './query.js';
import { adminPage, when } from './shell.js';

const SORT_LABELS: Record<(typeof USER_SORTS)[number], string> = {
  name: 'Name',
  last_activity: 'Last activity',
  created: 'Created',
};

function option(value: string, label: string, selected: boolean): Html {
  return html`<option value="${value}"${selected ? html` selected` : ''}>${label}</option>`;
}

function searchForm(query: UsersQuery): Html {
  return html`<form method="get" action="/hub/admin" class="filters" role="search">
<div><label for="q">Name contains</label><input type="text" id="q" name="q" value="${query.search}" maxlength="64" autocomplete="off"></div>
<div><label for="state">Server</label><select id="state" name="state">${SERVER_STATES.map((s) =>
    option(s, s === 'any' ? 'any state' : s, query.state === s),
  )}</select></div>
<div><label for="sort">Sort by</label><select id="sort" name="sort">${USER_SORTS.map((s) =>
    option(s, SORT_LABELS[s], query.sort === s),
  )}</select></div>
<div><label for="order">Order</label><select id="order" name="order">${option('asc', 'ascending', query.order === 'asc')}${option(
    'desc',
    'descending',
    query.order === 'desc',
  )}</select></div>
<button type="submit">Search</button></form>`;
}

/** A server's facts in one line: state, start, activity, host. */
function serverSummary(view: ServerView): Html {
  const { record } = view;
  return html`<li>${serverLabel(record.name)}: ${stateBadge(view.state)} · started ${when(record.startedAt)} · active ${when(
    record.lastActivity,
  )} · host <code>${record.host ?? 'this host'}</code></li>`;
}

function serverActions(visit: AdminVisit, user: string, servers: ServerView[]): Html {
  const main = servers.find((s) => s.record.name === '');
  const stop = (name: string) =>
    html`<a href="${adminUserUrl(user)}/stop${name ? `?server=${encodeURIComponent(name)}` : ''}">Stop ${serverLabel(
      name,
    )} server…</a>`;
  return html`<div class="actions">${
    main ? '' : postButton(visit, `${adminUserUrl(user)}/start`, 'Start server')
  }${servers.map((s) => stop(s.record.name))}</div>`;
}

export function usersListPage(input: {
  visit: AdminVisit;
  query: UsersQuery;
  result: UsersPage;
  done?: unknown;
}): string {
  const { visit, query, result } = input;
  const shown = { ...query, page: result.page };
  const pageLink = (page: number, label: string, rel: string) =>
    html`<a href="/hub/admin${usersQueryString(shown, { page })}" rel="${rel}">${label}</a>`;
  const rows = result.rows.map(
    (row) => html`<tr>
<td data-label="User">${userLink(row.user.name)}${row.user.admin ? html` <span class="muted">(admin)</span>` : ''}</td>
<td data-label="Servers">${
      row.servers.length === 0
        ? html`${stateBadge('stopped')}`
        : html`<ul>${row.servers.map(serverSummary)}</ul>`
    }</td>
<td data-label="Last activity">${when(row.user.lastActivity)}</td>
<td data-label="Created">${when(row.user.createdAt)}</td>
<td data-label="Actions">${serverActions(visit, row.user.name, row.servers)}</td></tr>`,
  );
  return adminPage(
    'Users',
    'users',
    html`<h1>Users</h1>${doneNotice(input.done)}${searchForm(query)}
<p class="muted" role="status">${result.total} ${result.total === 1 ? 'user' : 'users'}${
      query.search ? html` whose name contains “${query.search}”` : ''
    } · page ${result.page} of ${result.pages}</p>
${
  result.rows.length === 0
    ? html`<p>No user matches.</p>`
    : html`<table class="cards"><caption class="muted">Users, sorted by ${SORT_LABELS[query.sort]} (${
        query.order === 'asc' ? 'ascending' : 'descending'
      })</caption><thead><tr><th scope="col">User</th><th scope="col">Servers</th><th scope="col">Last activity</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
<tbody>${rows}</tbody></table>`
}
<nav class="pager" aria-label="Pages">${result.page > 1 ? pageLink(result.page - 1, '← Previous page', 'prev') : ''}${
      result.page < result.pages ? pageLink(result.page + 1, 'Next page →', 'next') : ''
    }</nav>`,
    visit.identity.userName,
  );
}

function tokensTable(user: string, tokens: TokenRecord[]): Html {
  if (tokens.length === 0) return html`<p>No API tokens.</p>`;
  return html`<table class="cards"><thead><tr><th scope="col">Note</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">Actions</th></tr></thead><tbody>${tokens.map(
    (t) => html`<tr><td data-label="Note">${t.note || html`<span class="muted">(no note)</span>`}</td>
<td data-label="Scopes">${t.scopes.map((s) => html`<code>${s}</code> `)}</td>
<td data-label="Created">${when(t.createdAt)}</td><td data-label="Last used">${when(t.lastActivity)}</td>
<td data-label="Expires">${t.expiresAt ? when(t.expiresAt) : html`never`}</td>
<td data-label="Actions"><a href="${adminUserUrl(user)}/tokens/${encodeURIComponent(t.id)}/revoke">Revoke token${
      t.note ? html` “${t.note}”` : ''
    }…</a></td></tr>`,
  )}</tbody></table>`;
}

export function userDetailPage(input: {
  visit: AdminVisit;
  user: UserRecord;
  servers: ServerView[];
  tokens: TokenRecord[];
  events: EventRecord[];
  groups: GroupRecord[];
  /** Named servers the user made that are not running (JupyterHub keeps them until removed). */
  stoppedNamed: NamedServerRecord[];
  /** `proxy.adminAccess`: admins may open learners' servers (each entry audited as `admin.access`). */
  adminAccess: boolean;
  done?: unknown;
}): string {
  const { visit, user, servers } = input;
  const serverRows = servers.map(
    (
      s,
    ) => html`<tr><td data-label="Server">${serverLabel(s.record.name)}</td><td data-label="State">${stateBadge(s.state)}</td>
<td data-label="Started">${when(s.record.startedAt)}</td><td data-label="Last activity">${when(s.record.lastActivity)}</td>
<td data-label="Host"><code>${s.record.host ?? 'this host'}</code></td><td data-label="Backend"><code>${s.record.backend}</code></td>
<td data-label="Actions"><div class="actions">${
      input.adminAccess && s.state === 'ready' && s.record.name === ''
        ? html`<a href="/hub/spawn/${encodeURIComponent(user.name)}">Open ${user.name}'s notebook</a>`
        : ''
    }<a href="${adminUserUrl(user.name)}/stop${
      s.record.name ? `?server=${encodeURIComponent(s.record.name)}` : ''
    }">Stop ${serverLabel(s.record.name)} server…</a></div></td></tr>`,
  );
  return adminPage(
    user.name,
    'users',
    html`<p><a href="/hub/admin">← All users</a></p><h1>User ${user.name}</h1>${doneNotice(input.done)}
<dl class="facts"><dt>Admin</dt><dd>${user.admin ? 'yes' : 'no'}</dd><dt>Created</dt><dd>${when(user.createdAt)}</dd>
<dt>Last activity</dt><dd>${when(user.lastActivity)}</dd>
<dt>Groups</dt><dd>${
      input.groups.length === 0
        ? html`<span class="muted">none</span>`
        : input.groups.map((g, i) => html`${i > 0 ? ', ' : ''}<code>${g.name}</code>`)
    } · <a href="/hub/admin/groups?user=${encodeURIComponent(user.name)}">${user.name}'s groups</a></dd></dl>
<h2>Servers</h2>
${
  servers.length === 0
    ? html`<p>No server running.</p>`
    : html`<table class="cards"><thead><tr><th scope="col">Server</th><th scope="col">State</th><th scope="col">Started</th><th scope="col">Last activity</th><th scope="col">Host</th><th scope="col">Backend</th><th scope="col">Actions</th></tr></thead><tbody>${serverRows}</tbody></table>`
}
${servers.some((s) => s.record.name === '') ? '' : html`<div class="actions">${postButton(visit, `${adminUserUrl(user.name)}/start`, 'Start server')}</div>`}
${
  input.stoppedNamed.length === 0
    ? ''
    : html`<h3>Stopped named servers</h3><table class="cards"><thead><tr><th scope="col">Server</th><th scope="col">Created</th><th scope="col">Last active</th><th scope="col">Options of its last start</th><th scope="col">Actions</th></tr></thead><tbody>${input.stoppedNamed.map(
        (
          n,
        ) => html`<tr><td data-label="Server">${n.name} ${stateBadge('stopped')}</td><td data-label="Created">${when(n.createdAt)}</td>
<td data-label="Last active">${when(n.lastActivity)}</td><td data-label="Options"><code class="data">${JSON.stringify(n.userOptions)}</code></td>
<td data-label="Actions">${postButton(visit, `${adminUserUrl(user.name)}/start`, `Start ${n.name}`, { server: n.name })}</td></tr>`,
      )}</tbody></table>`
}
<h2>API tokens</h2>${tokensTable(user.name, input.tokens)}
<h2>Recent events</h2>${eventsTable(input.events)}
<p><a href="/hub/admin/events?user=${encodeURIComponent(user.name)}">All of ${user.name}'s events</a></p>
<h2>Delete</h2><p>Deleting stops the user's servers and removes the user, their tokens and sessions; their files stay.</p>
<p><a href="${adminUserUrl(user.name)}/delete">Delete user ${user.name}…</a></p>`,
    visit.identity.userName,
  );
}
