/**
 * The admin page (docs/admin.md) in Chromium against Sifu as `make run` starts it (the built CLI, the
 * default configuration: the local backend running Debian's Jupyter). An admin finds a learner, stops
 * their server after confirming, and sees the stop in the events; a non-admin gets 403; one action by
 * keyboard alone; every page at 320 px without horizontal scroll; attacker-controlled text inert; forms
 * without the hub's Origin or the session's token refused; bad query strings answered, never a 500.
 * Screenshots of every page go to test-artifacts/admin/.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { openStore } from '../src/store/open-store.js';
import { api } from './support/api.js';
import { BUILT_ADMIN_TOKEN, type BuiltSifu, startBuiltSifu } from './support/built-sifu.js';
import { CHROMIUM_ARGS } from './support/chromium.js';
import { Client } from './support/sifu.js';

const ARTIFACTS = resolve(import.meta.dirname, '../test-artifacts/admin');
const XSS_NOTE = '<script>window.__pwned=1</script>"onmouseover="window.__pwned=2" x="';
const XSS_GROUP = { title: '<script>window.__pwned=5</script>', quote: '"onmouseover="window.__pwned=6' };
const XSS_EVENT = {
  title: '<img src=x onerror="window.__pwned=3">',
  quote: '"onmouseover="window.__pwned=4',
};
const FILLERS = Array.from({ length: 60 }, (_, i) => `learner-${String(i + 1).padStart(2, '0')}`);

let sifu: BuiltSifu;
let browser: Browser;
const admin = (path: string, init: Parameters<typeof api>[2] = {}) =>
  api(sifu, path, { token: BUILT_ADMIN_TOKEN, ...init });

async function waitUntilReady(user: string): Promise<void> {
  const until = Date.now() + 90_000;
  while (Date.now() < until) {
    const { body } = await admin(`/users/${user}`);
    if (body?.servers?.['']?.ready) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${user}'s server did not become ready`);
}

async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage });
  console.log(`screenshot: ${path}`);
}

/** A browser signed in as `user` (dev sign-in), on `next`. */
async function signedIn(user: string, next: string, viewport?: { width: number; height: number }) {
  const context = await browser.newContext(viewport ? { viewport } : {});
  const page = await context.newPage();
  await page.goto(`${sifu.hubUrl}/hub/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel('User name').fill(user);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === next.split('?')[0]);
  return { context, page };
}

/** A cookie client signed in as `user` on the hub (no browser). */
async function signedInClient(user: string): Promise<Client> {
  const client = new Client();
  const res = await client.request(`${sifu.hubUrl}/hub/login`, {
    method: 'POST',
    body: new URLSearchParams({ username: user, next: '/hub/admin' }),
    headers: { origin: sifu.hubUrl, 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(res.status, 303);
  return client;
}

/** What a locator's element says, as text (its markup never shows). */
const textOf = async (locator: Locator): Promise<string> => (await locator.textContent()) ?? '';

const errorCode = (text: string) => /<code>(SIFU_ERR_[A-Z_]+)<\/code>/.exec(text)?.[1];

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  sifu = await startBuiltSifu();
  assert.equal((await admin('/users/boss', { method: 'POST', body: { admin: true } })).status, 201);
  const learners = ['ada', 'bob', 'mallory', ...FILLERS];
  assert.equal((await admin('/users', { method: 'POST', body: { usernames: learners } })).status, 201);
  const note = await admin('/users/mallory/tokens', { method: 'POST', body: { note: XSS_NOTE } });
  assert.equal(note.status, 201);
  assert.equal(
    (await admin('/users/ada/tokens', { method: 'POST', body: { note: 'grading script' } })).status,
    201,
  );
  // An event whose data came from outside (a platform's launch claims, say), written as Sifu writes events.
  const store = await openStore(`sqlite:${join(sifu.dataDir, 'sifu.sqlite')}`);
  await store.addEvent('lti.launch', 'mallory', XSS_EVENT);
  // Group properties are free-form JSON any holder of the groups API may set (nbgrader keeps its own there).
  await store.createGroup('nbgrader-course101', { users: ['ada', 'mallory'], properties: XSS_GROUP });
  await store.createGroup('course-v1:Org+C1+2024', { users: ['ada'] });
  // A named server ada made and stopped: it stays, as in JupyterHub, until removed.
  await store.rememberNamedServer('ada', 'gpu', { image: '<b>big</b>' });
  await store.close();
  // ada's real Jupyter server, as her own sign-in would start it.
  const start = await admin('/users/ada/server', { method: 'POST' });
  assert.ok([201, 202].includes(start.status), JSON.stringify(start));
  await waitUntilReady('ada');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  if (sifu) {
    // Learners' servers outlive Sifu: stop them first.
    const { body } = await admin('/users');
    for (const user of Array.isArray(body) ? body : []) {
      if (Object.keys(user.servers ?? {}).length > 0)
        await admin(`/users/${user.name}/server`, { method: 'DELETE' });
    }
    await sifu.stop();
  }
});

describe('who sees the admin page', () => {
  test('signed out: sent to sign in, and back to the admin page after', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${sifu.hubUrl}/hub/admin/events`);
    assert.equal(new URL(page.url()).pathname, '/hub/login');
    assert.equal(new URL(page.url()).searchParams.get('next'), '/hub/admin/events');
    await context.close();
  });

  test('a signed-in learner gets 403 SIFU_ERR_MISSING_SCOPE on every admin page and action', async () => {
    const { context, page } = await signedIn('bob', '/hub/home');
    for (const path of [
      '/hub/admin',
      '/hub/admin/users/ada',
      '/hub/admin/events',
      '/hub/admin/groups',
      '/hub/admin/system',
    ]) {
      const res = await page.goto(`${sifu.hubUrl}${path}`);
      assert.equal(res?.status(), 403, path);
      assert.equal(errorCode(await page.content()), 'SIFU_ERR_MISSING_SCOPE', path);
    }
    await screenshot(page, 'forbidden');
    await context.close();
    // Posting an action directly, with the hub's Origin, changes nothing either.
    const bob = await signedInClient('bob');
    const res = await bob.request(`${sifu.hubUrl}/hub/admin/users/ada/stop`, {
      method: 'POST',
      body: new URLSearchParams({ token: 'x'.repeat(64) }),
      headers: { origin: sifu.hubUrl, 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 403);
    assert.equal(errorCode(await res.text()), 'SIFU_ERR_MISSING_SCOPE');
    assert.equal((await admin('/users/ada')).body.servers[''].ready, true);
  });
});

describe('an admin at work', () => {
  let context: BrowserContext;
  let page: Page;
  before(async () => {
    ({ context, page } = await signedIn('boss', '/hub/admin'));
  });
  after(async () => {
    await context?.close();
  });

  test('lists users 50 a page, with the next page linked', async () => {
    await screenshot(page, 'users');
    assert.equal(await page.locator('main table tbody tr').count(), 50);
    await page.getByRole('link', { name: 'Next page →' }).click();
    await page.waitForURL('**/hub/admin?page=2');
    // 64 users: boss, ada, bob, mallory and 60 fillers.
    assert.equal(await page.locator('main table tbody tr').count(), 14);
    assert.match(await textOf(page.locator('main')), /64 users · page 2 of 2/);
  });

  test('finds a learner, stops her server after confirming, and sees the stop in the events', async () => {
    await page.goto(`${sifu.hubUrl}/hub/admin`);
    await page.getByLabel('Name contains').fill('ad');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL((url) => url.pathname === '/hub/admin' && url.searchParams.get('q') === 'ad');
    const rows = page.locator('main table tbody tr');
    assert.equal(await rows.count(), 1);
    const row = await textOf(rows.first());
    assert.match(row, /ada/);
    assert.match(row, /default: ready · started \d{4}-\d\d-\d\d [\d:]+ UTC/);
    const { body: ada } = await admin('/users/ada');
    assert.ok(ada.servers[''].started);
    await screenshot(page, 'users-search');

    await page.getByRole('link', { name: 'ada', exact: true }).click();
    await page.waitForURL('**/hub/admin/users/ada');
    const servers = await textOf(page.locator('main table').first());
    assert.match(servers, /ready/);
    assert.match(servers, /local/);
    // proxy.adminAccess is off by default: no way into ada's server is offered.
    assert.doesNotMatch(servers, /Open ada's notebook/);
    assert.match(await textOf(page.locator('main')), /grading script/);
    const named = await textOf(page.locator('main table').nth(1));
    assert.match(named, /gpu\s+stopped[\s\S]*\{"image":"<b>big<\/b>"\}/);
    await screenshot(page, 'user');

    await page.getByRole('link', { name: 'Stop default server…' }).click();
    await page.waitForURL('**/hub/admin/users/ada/stop');
    assert.equal(await textOf(page.getByRole('heading', { level: 1 })), "Stop ada's default server?");
    await screenshot(page, 'confirm-stop');
    // Confirming is the only thing that stops it: the confirmation page changed nothing.
    assert.equal((await admin('/users/ada')).body.servers[''].ready, true);
    await page.getByRole('button', { name: 'Stop the server' }).click();
    await page.waitForURL('**/hub/admin/users/ada?done=stopped');
    assert.match(await textOf(page.getByRole('status').first()), /The server was stopped/);
    assert.deepEqual((await admin('/users/ada')).body.servers, {});

    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await page.getByLabel('Type').fill('server.stop');
    await page.getByLabel('User').fill('ada');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL((url) => url.searchParams.get('type') === 'server.stop');
    const events = page.locator('main table tbody tr');
    assert.equal(await events.count(), 1);
    assert.match(await textOf(events.first()), /server\.stop[\s\S]*ada[\s\S]*requested by boss/);
    await screenshot(page, 'events');
    // The page's own audit entry names the admin and the outcome.
    const audit = await page.goto(`${sifu.hubUrl}/hub/admin/events?type=admin.action&user=ada`);
    assert.equal(audit?.status(), 200);
    assert.match(await textOf(page.locator('main table tbody tr').first()), /"action":"stop","by":"boss"/);
  });

  test('starts a stopped server from the user page (through the API, audited)', async () => {
    await page.goto(`${sifu.hubUrl}/hub/admin/users/ada`);
    await page.getByRole('button', { name: 'Start server' }).click();
    await page.waitForURL(/\/hub\/admin\/users\/ada\?done=(started|starting)$/, { timeout: 30_000 });
    await waitUntilReady('ada');
    const events = await admin('/users/ada');
    assert.equal(events.body.servers[''].ready, true);
    await page.goto(`${sifu.hubUrl}/hub/admin/events?type=admin.action&user=ada`);
    assert.match(await textOf(page.locator('main table tbody tr').first()), /"action":"start","by":"boss"/);
  });

  test('deletes a user after confirming', async () => {
    await page.goto(`${sifu.hubUrl}/hub/admin/users/learner-60`);
    await page.getByRole('link', { name: 'Delete user learner-60…' }).click();
    await screenshot(page, 'confirm-delete');
    await page.getByRole('button', { name: 'Delete the user' }).click();
    await page.waitForURL('**/hub/admin?done=deleted');
    assert.equal((await admin('/users/learner-60')).status, 404);
    await page.goto(`${sifu.hubUrl}/hub/admin/events?type=user.delete`);
    assert.match(await textOf(page.locator('main table tbody tr').first()), /learner-60[\s\S]*"by":"boss"/);
  });

  test("lists groups with their members and properties, and a member's groups", async () => {
    await page.goto(`${sifu.hubUrl}/hub/admin/groups`);
    const rows = page.locator('main table tbody tr');
    assert.equal(await rows.count(), 2);
    assert.match(await textOf(rows.nth(0)), /course-v1:Org\+C1\+2024[\s\S]*1 · ada/);
    assert.match(
      await textOf(rows.nth(1)),
      /nbgrader-course101[\s\S]*2 · ada, mallory[\s\S]*"title": "<script>/,
    );
    await screenshot(page, 'groups');
    await page.goto(`${sifu.hubUrl}/hub/admin/users/mallory`);
    await page.getByRole('link', { name: "mallory's groups" }).click();
    await page.waitForURL('**/hub/admin/groups?user=mallory');
    assert.equal(await rows.count(), 1);
  });

  test('shows the warm pool and the burst queue as the local backend has them', async () => {
    await page.goto(`${sifu.hubUrl}/hub/admin/system`);
    const text = await textOf(page.locator('main'));
    assert.match(text, /No warm pool\./);
    assert.match(text, /Starts at once \(spawner\.maxConcurrentStarts\)\s*10/);
    assert.match(text, /Nobody waits for a start slot/);
    await screenshot(page, 'system');
  });

  test('keyboard only: a token revoked with Tab and Enter, focus visible on the way', async () => {
    const tokens = (await admin('/users/ada/tokens')).body.api_tokens;
    assert.equal(tokens.length, 1);
    await page.goto(`${sifu.hubUrl}/hub/admin/users/ada`);
    const revoke = 'Revoke token “grading script”…';
    let focused = '';
    for (let i = 0; i < 60 && focused !== revoke; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.textContent ?? '');
    }
    assert.equal(focused, revoke);
    const outline = await page.evaluate(
      () => getComputedStyle(document.activeElement as Element).outlineStyle,
    );
    assert.equal(outline, 'solid');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/tokens\/[^/]+\/revoke$/);
    for (let i = 0; i < 30 && focused !== 'Revoke the token'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.textContent ?? '');
    }
    assert.equal(focused, 'Revoke the token');
    await page.keyboard.press('Enter');
    await page.waitForURL('**/hub/admin/users/ada?done=revoked');
    assert.deepEqual((await admin('/users/ada/tokens')).body.api_tokens, []);
  });

  test("attacker-controlled text (a token's note, an event's data, group properties) is shown as text and runs nothing", async () => {
    const tokenId = (await admin('/users/mallory/tokens')).body.api_tokens[0].id;
    const pages: Array<[string, string]> = [
      ['/hub/admin/users/mallory', XSS_NOTE],
      [`/hub/admin/users/mallory/tokens/${tokenId}/revoke`, XSS_NOTE],
      ['/hub/admin/events?user=mallory', XSS_EVENT.title.replace(/"/g, '\\"')],
      ['/hub/admin/groups', XSS_GROUP.quote.replace(/"/g, '\\"')],
    ];
    for (const [path, shown] of pages) {
      await page.goto(`${sifu.hubUrl}${path}`);
      assert.ok((await textOf(page.locator('main'))).includes(shown), path);
      // Nothing became markup: no script, image or handler attribute inside the page.
      const injected = await page.evaluate(
        () =>
          document.querySelectorAll('main script, main img, main [onmouseover], main [onerror], main [x]')
            .length,
      );
      assert.equal(injected, 0, path);
      await page.locator('main td, main h1').last().hover();
      assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    }
    const events = await page.goto(`${sifu.hubUrl}/hub/admin/events?user=mallory`);
    assert.ok((await events?.text())?.includes('&lt;img src=x onerror=\\&quot;window.__pwned=3\\&quot;&gt;'));
    await screenshot(page, 'escaping');
  });
});

describe('narrow screens', () => {
  test('every page fits 320 px without horizontal scroll', async () => {
    const { context, page } = await signedIn('boss', '/hub/admin', { width: 320, height: 640 });
    const pages = [
      '/hub/admin',
      '/hub/admin/users/ada',
      '/hub/admin/users/mallory',
      '/hub/admin/users/ada/stop',
      '/hub/admin/users/ada/delete',
      '/hub/admin/events',
      '/hub/admin/groups',
      '/hub/admin/system',
    ];
    for (const path of pages) {
      const res = await page.goto(`${sifu.hubUrl}${path}`);
      assert.equal(res?.status(), 200, path);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 320, `${path} is ${width} px wide`);
    }
    await page.goto(`${sifu.hubUrl}/hub/admin`);
    await screenshot(page, 'users-320px', false);
    await page.goto(`${sifu.hubUrl}/hub/admin/users/ada`);
    await screenshot(page, 'user-320px', false);
    await context.close();
  });
});

describe('forms and input', () => {
  test("a post without the hub's Origin, or without this session's form token, is refused and changes nothing", async () => {
    const boss = await signedInClient('boss');
    const form = await (await boss.request(`${sifu.hubUrl}/hub/admin/users/bob`)).text();
    const token = /name="token" value="([0-9a-f]{64})"/.exec(form)?.[1] as string;
    assert.ok(token);
    const post = (headers: Record<string, string>, body: Record<string, string>) =>
      boss.request(`${sifu.hubUrl}/hub/admin/users/bob/delete`, {
        method: 'POST',
        body: new URLSearchParams(body),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      });
    const crossSite = await post({ origin: 'http://evil.example' }, { token });
    assert.equal(crossSite.status, 403);
    assert.equal(errorCode(await crossSite.text()), 'SIFU_ERR_BAD_ORIGIN');
    const noOrigin = await post({}, { token });
    assert.equal(errorCode(await noOrigin.text()), 'SIFU_ERR_BAD_ORIGIN');
    // Another admin session's token is not this one's.
    const other = await signedInClient('boss');
    const otherForm = await (await other.request(`${sifu.hubUrl}/hub/admin/users/bob`)).text();
    const otherToken = /name="token" value="([0-9a-f]{64})"/.exec(otherForm)?.[1] as string;
    assert.notEqual(otherToken, token);
    for (const body of [{}, { token: otherToken }, { token: 'x' }] as Array<Record<string, string>>) {
      const res = await post({ origin: sifu.hubUrl }, body);
      assert.equal(res.status, 403);
      assert.equal(errorCode(await res.text()), 'SIFU_ERR_FORBIDDEN');
    }
    assert.equal((await admin('/users/bob')).status, 200);
    // With both, it goes through.
    const ok = await post({ origin: sifu.hubUrl }, { token });
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), '/hub/admin?done=deleted');
    assert.equal((await admin('/users/bob')).status, 404);
  });

  test("an action the API refuses shows the API's reason and code, and is audited with it", async () => {
    const boss = await signedInClient('boss');
    const form = await (await boss.request(`${sifu.hubUrl}/hub/admin/users/ada/stop`)).text();
    const token = /name="token" value="([0-9a-f]{64})"/.exec(form)?.[1] as string;
    assert.ok(token);
    // ada's server runs (started above): the API answers a second start with JupyterHub's 400.
    assert.equal((await admin('/users/ada')).body.servers[''].ready, true);
    const res = await boss.request(`${sifu.hubUrl}/hub/admin/users/ada/start`, {
      method: 'POST',
      body: new URLSearchParams({ token }),
      headers: { origin: sifu.hubUrl, 'content-type': 'application/x-www-form-urlencoded' },
    });
    const text = await res.text();
    assert.equal(errorCode(text), 'SIFU_ERR_SERVER_ALREADY_RUNNING');
    assert.equal(res.status, 400);
    assert.match(text, /Could not start ada&#39;s server/);
    assert.match(text, /href="\/hub\/admin\/users\/ada">Back/);
    const audit = await boss.request(`${sifu.hubUrl}/hub/admin/events?type=admin.action&user=ada&limit=50`);
    assert.match(
      await audit.text(),
      /&quot;action&quot;:&quot;start&quot;,&quot;by&quot;:&quot;boss&quot;,&quot;server&quot;:&quot;&quot;,&quot;status&quot;:400,&quot;code&quot;:&quot;SIFU_ERR_SERVER_ALREADY_RUNNING&quot;/,
    );
  });

  test('the events page pages back through older events, with its filters, to the oldest', async () => {
    const boss = await signedInClient('boss');
    const page = async (path: string) => {
      const res = await boss.request(`${sifu.hubUrl}${path}`);
      assert.equal(res.status, 200, path);
      const text = await res.text();
      // Each row's time cell carries nothing unique; the details do: each user.create names its user.
      const rows = [...text.matchAll(/<tr><td data-label="Time">[\s\S]*?<\/tr>/g)].map((m) => m[0]);
      const older = /<a href="([^"]+)" rel="next">Older events/.exec(text)?.[1]?.replace(/&amp;/g, '&');
      return { rows, older, newest: /rel="first">← Newest events/.test(text) };
    };
    const all = await page('/hub/admin/events?type=user.create&limit=500');
    assert.ok(all.rows.length > 3, `several user.create events to page through (${all.rows.length})`);
    const seen: string[] = [];
    let next: string | undefined = '/hub/admin/events?type=user.create&limit=3';
    for (let i = 0; next && i < 100; i++) {
      const shown = await page(next);
      assert.ok(shown.rows.length <= 3);
      assert.equal(shown.newest, i > 0, 'a link back to the newest on older pages only');
      if (shown.older) assert.match(shown.older, /type=user\.create&limit=3&before=\d+$/);
      seen.push(...shown.rows);
      next = shown.older;
    }
    assert.deepEqual(seen, all.rows, 'every event once, newest first, across the pages');
  });

  test('bad page numbers are clamped; bad sort keys, filters and names get a clear 4xx, never a 500', async () => {
    const boss = await signedInClient('boss');
    const get = async (path: string) => {
      const res = await boss.request(`${sifu.hubUrl}${path}`);
      return { status: res.status, text: await res.text() };
    };
    for (const page of ['0', '-3', 'abc', '1e9', '99999']) {
      const res = await get(`/hub/admin?page=${page}`);
      assert.equal(res.status, 200, page);
      assert.match(res.text, /page [12] of 2/, page);
    }
    assert.match((await get('/hub/admin?page=99999')).text, /page 2 of 2/);
    const cases: Array<[string, number, string]> = [
      ['/hub/admin?sort=password', 400, 'SIFU_ERR_BAD_REQUEST'],
      ['/hub/admin?order=sideways', 400, 'SIFU_ERR_BAD_REQUEST'],
      ['/hub/admin?state=<b>', 400, 'SIFU_ERR_BAD_REQUEST'],
      ['/hub/admin?q=a&q=b', 400, 'SIFU_ERR_BAD_REQUEST'],
      ['/hub/admin/events?type=%3Cscript%3E', 400, 'SIFU_ERR_BAD_REQUEST'],
      ['/hub/admin/events?user=..%2Froot', 400, 'SIFU_ERR_BAD_REQUEST'],
      ['/hub/admin/events?before=abc', 400, 'SIFU_ERR_BAD_REQUEST'],
      ['/hub/admin/events?before=-4', 400, 'SIFU_ERR_BAD_REQUEST'],
      ['/hub/admin/groups?user=%3Cb%3E', 400, 'SIFU_ERR_BAD_REQUEST'],
      ['/hub/admin/users/NO%20SUCH', 400, 'SIFU_ERR_INVALID_USERNAME'],
      ['/hub/admin/users/nobody', 404, 'SIFU_ERR_USER_NOT_FOUND'],
      ['/hub/admin/users/nobody/stop', 404, 'SIFU_ERR_USER_NOT_FOUND'],
      ['/hub/admin/users/ada/stop?server=..%2Fx', 400, 'SIFU_ERR_INVALID_SERVER_NAME'],
      ['/hub/admin/users/ada/tokens/%3Cx%3E/revoke', 404, 'SIFU_ERR_TOKEN_NOT_FOUND'],
      ['/hub/admin/users/ada/tokens/no-such-token/revoke', 404, 'SIFU_ERR_TOKEN_NOT_FOUND'],
    ];
    for (const [path, status, code] of cases) {
      const res = await get(path);
      assert.equal(res.status, status, path);
      assert.equal(errorCode(res.text), code, path);
    }
    const limit = await get('/hub/admin/events?limit=100000');
    assert.equal(limit.status, 200);
    assert.match(limit.text, /<option value="500" selected>/);
  });
});
