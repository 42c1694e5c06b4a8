import { Html, html, page } from '../../web/layout.js';

export type AdminSection = 'users' | 'events' | 'groups' | 'system';

const SECTIONS: Array<{ id: AdminSection; href: string; label: string }> = [
  { id: 'users', href: '/hub/admin', label: 'Users' },
  { id: 'events', href: '/hub/admin/events', label: 'Events' },
  { id: 'groups', href: '/hub/admin/groups', label: 'Groups' },
  { id: 'system', href: '/hub/admin/system', label: 'Pool and queue' },
];

/**
 * The admin page needs no script at all, so its policy allows none: whatever escaping missed could not
 * run. Forms post to the hub only; the page is never framed (clickjacking of its buttons).
 */
export const ADMIN_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

// Wider than the learner pages; tables turn into stacked cards on narrow screens (320 px phones).
const ADMIN_STYLE = `
body{max-width:72rem;margin:1rem auto;overflow-wrap:break-word}
header .muted,code.data{overflow-wrap:anywhere}
nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;padding:0;margin:0 0 1rem}
nav a[aria-current=page]{font-weight:bold;text-decoration:none}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid #2a6df4;outline-offset:2px}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #8884}
th{font-size:.9rem}td ul{margin:0;padding-left:1rem}
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}
.filters label{margin:0}.filters div{min-width:8rem;flex:1 1 10rem}
.filters input[type=text],.filters select{font-size:1rem;padding:.35rem;width:100%;box-sizing:border-box}
.filters button{margin:0}
.state-ready{color:#197a3a}.state-pending{color:#a36500}.state-stopped{opacity:.75}
.notice{border-left:4px solid #2a8;padding:.25rem .75rem}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}.actions form{margin:0}.actions button{margin:0}
.pager{display:flex;flex-wrap:wrap;gap:1rem;align-items:baseline}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dl.facts dd{margin:0}
pre,code.data{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.85rem}
@media (max-width:40rem){
 body{margin:.5rem auto}
 table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:auto}
 table.cards thead{display:none}
 table.cards tr{border:1px solid #8884;border-radius:4px;margin:.5rem 0;padding:.25rem}
 table.cards td{border:0;padding:.2rem .4rem}
 table.cards td[data-label]::before{content:attr(data-label) ": ";font-weight:bold}
 dl.facts{grid-template-columns:1fr}dl.facts dt{font-weight:bold}
}`;

/** An admin page: the hub's shell, the admin navigation, then `body`. */
export function adminPage(title: string, section: AdminSection, body: Html, user: string): string {
  const nav = html`<nav aria-label="Admin"><ul>${SECTIONS.map(
    (s) =>
      html`<li><a href="${s.href}"${s.id === section ? html` aria-current="page"` : ''}>${s.label}</a></li>`,
  )}</ul></nav>`;
  return page(`${title} · Admin`, html`${nav}${body}`, {
    user,
    head: html`<style>${new Html(ADMIN_STYLE)}</style>`,
  });
}

/** A time as the admin page shows it: UTC to the second, machine-readable too; a dash for none. */
export function when(date: Date | null | undefined): Html {
  if (!date) return html`<span class="muted">—</span>`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`;
}
