import { Html, html, page } from '../web/layout.js';

/** A JavaScript string literal that is safe inside a <script> element. */
const js = (value: string): string => JSON.stringify(value).replace(/</g, '\\u003c');

export function loginPage(options: {
  next: string;
  handoff?: string | null;
  error?: string;
  username?: string;
}): string {
  return page(
    'Sign in',
    html`<h1>Sign in</h1>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ''}
<form method="post" action="/hub/login">
<input type="hidden" name="next" value="${options.next}">
${options.handoff ? html`<input type="hidden" name="handoff" value="${options.handoff}">` : ''}
<label for="username">User name</label>
<input type="text" id="username" name="username" autocomplete="username" required maxlength="64"
 value="${options.username ?? ''}" autofocus>
<button type="submit">Sign in</button></form>
<p class="muted">Development sign-in: any valid user name, no password.</p>`,
  );
}

export function homePage(options: {
  user: string;
  running: boolean;
  pending: boolean;
  notebookUrl: string;
}): string {
  const state = options.running ? 'running' : options.pending ? 'starting' : 'stopped';
  return page(
    'Home',
    html`<h1>Your notebook server</h1><p>Status: <strong>${state}</strong></p>
${
  options.running
    ? html`<p><a class="button" href="/hub/spawn/${options.user}">Open my notebooks</a></p>
<form method="post" action="/hub/stop"><button type="submit">Stop my server</button></form>
<p class="muted">Stopping the server keeps your files.</p>`
    : html`<p><a class="button" href="/hub/spawn/${options.user}">${options.pending ? 'Show progress' : 'Start my server'}</a></p>`
}`,
    { user: options.user },
  );
}

export function spawnPage(options: { user: string; owner: string; next: string }): string {
  const progressUrl = `/hub/api/users/${options.owner}/server/progress`;
  const again = `/hub/spawn/${options.owner}?next=${encodeURIComponent(options.next)}`;
  const script = `
const bar=document.getElementById('bar'),log=document.getElementById('log'),status=document.getElementById('status');
const es=new EventSource(${js(progressUrl)});
es.onmessage=(m)=>{const e=JSON.parse(m.data);bar.value=e.progress;
if(e.message){const li=document.createElement('li');li.textContent=e.message;log.appendChild(li);status.textContent=e.message;}
if(e.ready){es.close();location.replace(${js(again)});}
if(e.failed){es.close();document.getElementById('failed').hidden=false;bar.hidden=true;}};
es.onerror=()=>{es.close();setTimeout(()=>location.reload(),2000);};`;
  return page(
    'Starting your server',
    html`<h1>Starting your notebook server</h1>
<progress id="bar" max="100" value="0" aria-label="Start progress"></progress>
<p id="status" role="status" aria-live="polite">Starting…</p>
<details><summary>Details</summary><ol id="log"></ol></details>
<div id="failed" hidden><p class="error" role="alert">The server could not be started.</p>
<form method="post" action="/hub/spawn/${options.owner}"><input type="hidden" name="next" value="${options.next}">
<button type="submit">Try again</button></form></div>
<noscript><p>This page refreshes by itself.</p><meta http-equiv="refresh" content="2"></noscript>
<script>${new Html(script)}</script>`,
    { user: options.user },
  );
}

/** The stopped server's page: a form that starts it, submitted by itself (a GET never starts anything). */
export function startPage(options: { user: string; owner: string; next: string }): string {
  return page(
    'Start your server',
    html`<h1>Starting your notebook server</h1>
<form method="post" action="/hub/spawn/${options.owner}" data-autosubmit>
<input type="hidden" name="next" value="${options.next}">
<button type="submit">Start my server</button></form>
<script>document.querySelector('form[data-autosubmit]').submit();</script>`,
    { user: options.user },
  );
}

/** Signing out takes a POST; this is what a GET of /hub/logout shows. */
export function logoutPage(user: string): string {
  return page(
    'Sign out',
    html`<h1>Sign out</h1>
<form method="post" action="/hub/logout"><button type="submit">Sign out</button></form>`,
    { user },
  );
}
