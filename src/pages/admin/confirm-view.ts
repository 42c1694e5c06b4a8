import type { SifuError } from '../../errors.js';
import { html } from '../../web/layout.js';
import type { AdminVisit } from './access.js';
import type { ActionTarget, AdminAction } from './actions.js';
import { adminUserUrl, serverLabel } from './parts.js';
import { adminPage } from './shell.js';

/** Where each confirmed action is posted (the confirmation page is a GET of the same path). */
export function actionUrl(action: Exclude<AdminAction, 'start'>, t: ActionTarget): string {
  const base = adminUserUrl(t.user);
  if (action === 'revoke') return `${base}/tokens/${encodeURIComponent(t.tokenId)}/revoke`;
  return `${base}/${action}`;
}

/**
 * The confirmation step: a page with one POST form, so it works without script and by keyboard alone
 * (Tab to the button, Enter); Cancel goes back to the user's page and changes nothing.
 */
export function confirmPage(input: {
  visit: AdminVisit;
  action: Exclude<AdminAction, 'start'>;
  target: ActionTarget;
  /** For a token: its note, to tell which one. */
  tokenNote?: string;
}): string {
  const { visit, action, target } = input;
  const server = serverLabel(target.server);
  const what =
    action === 'stop'
      ? {
          title: `Stop ${target.user}'s ${server} server?`,
          detail: 'The server stops at once; open notebooks lose their kernels. Files stay.',
          button: 'Stop the server',
        }
      : action === 'delete'
        ? {
            title: `Delete user ${target.user}?`,
            detail:
              'Their servers are stopped; the user, their tokens and sessions are removed. Their files stay, and signing in again makes a new user of the same name.',
            button: 'Delete the user',
          }
        : {
            title: `Revoke ${target.user}'s token${input.tokenNote ? ` “${input.tokenNote}”` : ''}?`,
            detail: 'Programs using this token lose access at once.',
            button: 'Revoke the token',
          };
  return adminPage(
    what.title,
    'users',
    html`<h1>${what.title}</h1><p>${what.detail}</p>
<form method="post" action="${actionUrl(action, target)}" class="actions">
<input type="hidden" name="token" value="${visit.formToken}">
${action === 'stop' ? html`<input type="hidden" name="server" value="${target.server}">` : ''}
<button type="submit">${what.button}</button> <a href="${adminUserUrl(target.user)}">Cancel</a></form>`,
    visit.identity.userName,
  );
}

const FAILED: Record<AdminAction, (user: string) => string> = {
  start: (user) => `Could not start ${user}'s server`,
  stop: (user) => `Could not stop ${user}'s server`,
  delete: (user) => `Could not delete ${user}`,
  revoke: (user) => `Could not revoke ${user}'s token`,
};

/** An action the API refused or could not complete: its message and stable code, and the way back. */
export function actionFailedPage(
  visit: AdminVisit,
  action: AdminAction,
  target: ActionTarget,
  error: SifuError,
  back: string,
): string {
  return adminPage(
    'Action failed',
    'users',
    html`<h1>${FAILED[action](target.user)}</h1><p class="error" role="alert">${error.message}</p>
<p class="muted">Error ${error.status} · <code>${error.code}</code></p><p><a href="${back}">Back</a></p>`,
    visit.identity.userName,
  );
}
