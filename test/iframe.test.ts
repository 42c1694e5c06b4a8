import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Frame, type Page } from 'playwright-core';
import { CHROMIUM_ARGS } from './support/chromium.js';
import { ADMIN_TOKEN, api, freePort, JUPYTER, startTestSifu, type TestSifu } from './support/sifu.js';

const COURSE = 'course-v1:Org+CS101+2026';
const UNIT = 'block-v1:Org+CS101+2026+type@sifu+block@intro';
const NOTEBOOK = {
  cells: [{ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: [] }],
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  nbformat: 4,
  nbformat_minor: 5,
};

/**
 * A stand-in for the LMS's course page, on another site (`localhost`, while Sifu is on `127.0.0.1`): it
 * embeds whatever launch URL the test hands it, as the XBlock's rendered iframe does, plus a probe frame
 * that proves this browser blocks ordinary third-party cookies.
 */
async function startCoursePage(
  probeOrigin: string,
): Promise<{ origin: string; show(url: string): string; close(): Promise<void> }> {
  const pages = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const src = pages.get(req.url ?? '');
    res.writeHead(src ? 200 : 404, { 'content-type': 'text/html' });
    res.end(
      src
        ? `<!doctype html><title>Course unit</title><h1>Lesson 1</h1>
<iframe id="probe" src="${probeOrigin}/read"></iframe>
<iframe id="notebook" src="${src}" style="width:1200px;height:800px"></iframe>`
        : 'not found',
    );
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const origin = `http://localhost:${port}`;
  return {
    origin,
    show(url) {
      const path = `/unit-${pages.size}`;
      pages.set(path, url);
      return `${origin}${path}`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Sets an ordinary (unpartitioned) SameSite=None cookie, then reports whether it comes back. */
async function startCookieProbe(): Promise<{ origin: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const headers: Record<string, string | string[]> = { 'content-type': 'text/html' };
    if (req.url === '/set') headers['set-cookie'] = 'probe=1; SameSite=None; Secure; Path=/';
    res.writeHead(200, headers);
    res.end(`cookies:[${req.headers.cookie ?? ''}]`);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function childFrame(page: Page, id: string): Promise<Frame> {
  return page
    .locator(`#${id}`)
    .elementHandle()
    .then(async (handle) => {
      const frame = await handle?.contentFrame();
      assert.ok(frame, `frame #${id}`);
      return frame;
    });
}

describe('notebooks inside the course iframe, third-party cookies blocked', () => {
  let sifu: TestSifu;
  let browser: Browser;
  let allowed: Awaited<ReturnType<typeof startCoursePage>>;
  let stranger: Awaited<ReturnType<typeof startCoursePage>>;
  let probe: Awaited<ReturnType<typeof startCookieProbe>>;
  let launchToken: string;

  before(async () => {
    probe = await startCookieProbe();
    allowed = await startCoursePage(probe.origin);
    stranger = await startCoursePage(probe.origin);
    // Each learner on an origin of their own (http://<name>.localhost:<port>), as by default.
    sifu = await startTestSifu({
      command: JUPYTER,
      userOrigins: true,
      overrides: {
        spawner: { startTimeout: 90 },
        embed: { enabled: true },
        proxy: { frameAncestors: [allowed.origin] },
      },
    });
    await api(sifu, '/users/xblock', { method: 'POST', token: ADMIN_TOKEN });
    launchToken = (
      await api(sifu, '/users/xblock/tokens', {
        method: 'POST',
        token: ADMIN_TOKEN,
        body: { scopes: ['launch', 'courses'] },
      })
    ).body.token;
    await api(sifu, `/courses/${encodeURIComponent(COURSE)}/notebooks/intro.ipynb`, {
      method: 'PUT',
      token: launchToken,
      body: { unit: UNIT, notebook: NOTEBOOK },
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [...CHROMIUM_ARGS, '--test-third-party-cookie-phaseout'],
    });
  });
  after(async () => {
    await browser?.close();
    await sifu?.cleanup();
    await allowed?.close();
    await stranger?.close();
    await probe?.close();
  });

  const launchUrl = async (username: string) => {
    const made = await api(sifu, '/launch', {
      method: 'POST',
      token: launchToken,
      body: { username, course_id: COURSE, unit_id: UNIT, notebook: 'intro.ipynb' },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    return made.body.url as string;
  };

  test('the learner notebook loads inside the course iframe and a cell runs', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // Third-party cookies are really blocked in this browser: the probe's ordinary cookie never returns.
    await page.goto(allowed.show(`${probe.origin}/set`));
    await page.goto(allowed.show(await launchUrl('ada')));
    assert.equal(await (await childFrame(page, 'probe')).textContent('body'), 'cookies:[]');

    const notebook = await childFrame(page, 'notebook');
    await notebook.waitForURL(/\/user\/ada\/notebooks\/.+\/intro\.ipynb/, { timeout: 90_000 });
    assert.equal(new URL(notebook.url()).hostname, 'ada.localhost', "served from ada's own origin");
    await notebook.locator('.CodeMirror').first().click();
    await page.keyboard.type('6*7');
    await page.keyboard.press('Shift+Enter');
    const output = notebook.locator('.output_subarea').first();
    await output.waitFor({ timeout: 60_000 });
    assert.equal((await output.textContent())?.trim(), '42');
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === '__Host-sifu-nb-session');
    assert.ok(session, 'the notebook session cookie was kept (partitioned)');
    assert.equal(session.sameSite, 'None');
    assert.equal(session.domain, 'ada.localhost', 'host-only, on her origin');
    await context.close();
  });

  test('the same page framed by a site that is not allowed is refused', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const notebookRequests: string[] = [];
    page.on('request', (r) => {
      // Any notebook origin: the bare one or a learner's (same port).
      if (new URL(r.url()).port === new URL(sifu.notebookUrl).port) notebookRequests.push(r.url());
    });
    const blocked = new Promise<string>((resolve) =>
      page.on('console', (m) => {
        if (/frame-ancestors/.test(m.text())) resolve(m.text());
      }),
    );
    await page.goto(stranger.show(await launchUrl('bob')));
    assert.match(await blocked, /frame-ancestors/);
    const frame = await childFrame(page, 'notebook');
    assert.doesNotMatch((await frame.content()) ?? '', /Starting your notebook server|jupyter/i);
    assert.deepEqual(notebookRequests, [], 'the notebook origin was never reached');
    await context.close();
  });
});
