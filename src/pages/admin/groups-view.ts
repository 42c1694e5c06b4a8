import type { GroupRecord } from '../../store/store.js';
import { type Html, html } from '../../web/layout.js';
import type { AdminVisit } from './access.js';
import { userLink } from './parts.js';
import { adminPage, when } from './shell.js';

/** Properties as indented JSON (free-form: whatever a tool such as nbgrader put there), shown as text. */
function propertiesText(properties: Record<string, unknown>): string {
  const text = JSON.stringify(properties, null, 2);
  return text.length > 4000 ? `${text.slice(0, 4000)}…` : text;
}

export function groupsTable(groups: GroupRecord[]): Html {
  if (groups.length === 0) return html`<p>No groups.</p>`;
  return html`<table class="cards"><thead><tr><th scope="col">Group</th><th scope="col">Members</th><th scope="col">Properties</th><th scope="col">Created</th></tr></thead><tbody>${groups.map(
    (g) => html`<tr><td data-label="Group"><code>${g.name}</code></td>
<td data-label="Members">${
      g.users.length === 0
        ? html`<span class="muted">none</span>`
        : html`${g.users.length} · ${g.users.map((u, i) => html`${i > 0 ? ', ' : ''}${userLink(u)}`)}`
    }</td>
<td data-label="Properties">${
      Object.keys(g.properties).length === 0
        ? html`<span class="muted">none</span>`
        : html`<pre><code class="data">${propertiesText(g.properties)}</code></pre>`
    }</td>
<td data-label="Created">${when(g.createdAt)}</td></tr>`,
  )}</tbody></table>`;
}

export function groupsPage(visit: AdminVisit, groups: GroupRecord[], member: string | undefined): string {
  return adminPage(
    'Groups',
    'groups',
    html`<h1>Groups</h1>
<form method="get" action="/hub/admin/groups" class="filters" role="search">
<div><label for="member">Member</label><input type="text" id="member" name="user" value="${member ?? ''}" maxlength="64" autocomplete="off"></div>
<button type="submit">Filter</button></form>
<p class="muted" role="status">${groups.length} ${groups.length === 1 ? 'group' : 'groups'}${member ? html` with member ${member} · <a href="/hub/admin/groups">all groups</a>` : ''}</p>
${groupsTable(groups)}`,
    visit.identity.userName,
  );
}
