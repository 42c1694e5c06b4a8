/** Small pieces the admin views share: links, state badges, forms that carry the form token. */
import { type Html, html } from '../../web/layout.js';
import type { AdminVisit } from './access.js';
import type { ServerState } from './query.js';

export const adminUserUrl = (name: string): string => `/hub/admin/users/${encodeURIComponent(name)}`;

export function userLink(name: string): Html {
  return html`<a href="${adminUserUrl(name)}">${name}</a>`;
}

export const serverLabel = (name: string): string => (name === '' ? 'default' : name);

export function stateBadge(state: ServerState): Html {
  return html`<strong class="state-${state}">${state}</strong>`;
}

/** A one-button POST form (with the session's form token): for actions that need no confirmation. */
export function postButton(
  visit: AdminVisit,
  action: string,
  label: string,
  fields: Record<string, string> = {},
): Html {
  return html`<form method="post" action="${action}"><input type="hidden" name="token" value="${visit.formToken}">${Object.entries(
    fields,
  ).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
  )}<button type="submit">${label}</button></form>`;
}

/** What an action's redirect (`?done=`) tells: a fixed set, never text from the query string. */
export const DONE_MESSAGES: Record<string, string> = {
  started: 'The server is ready.',
  starting: 'The server is starting; reload to follow it.',
  stopped: 'The server was stopped. Its files stay.',
  deleted: 'The user was deleted. Their files stay.',
  revoked: 'The token was revoked.',
};

export function doneNotice(done: unknown): Html {
  const message =
    typeof done === 'string' && Object.hasOwn(DONE_MESSAGES, done) ? DONE_MESSAGES[done] : undefined;
  return message ? html`<p class="notice" role="status">${message}</p>` : html``;
}
