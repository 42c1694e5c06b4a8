import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './support/chromium.js';
import { JUPYTER, startTestSifu, type TestSifu } from './support/sifu.js';

const emptyNotebook = {
  cells: [{ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: [] }],
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  nbformat: 4,
  nbformat_minor: 5,
};

let sifu: TestSifu;
let browser: Browser;
before(async () => {
  // Per-user origins on localhost and the hub on 127.0.0.1, as `make run` serves them by default.
  sifu = await startTestSifu({
    command: JUPYTER,
    userOrigins: true,
    overrides: { spawner: { startTimeout: 90 } },
  });
  // The learner's home already holds a notebook (as a course copy will, later).
  await mkdir(join(sifu.dataDir, 'homes/ada'), { recursive: true });
  await writeFile(join(sifu.dataDir, 'homes/ada/lesson.ipynb'), JSON.stringify(emptyNotebook));
  // Playwright gives each launch a fresh, temporary profile (the --user-data-dir it manages itself).
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});
after(async () => {
  await browser?.close();
  await sifu?.cleanup();
});

test('a learner signs in, lands in the notebook UI, runs a cell and sees its output', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${sifu.hubUrl}/hub/login`);
  await page.getByLabel('User name').fill('ada');
  await page.getByRole('button', { name: 'Sign in' }).click();
  // Through the spawn page (live progress) into Jupyter's tree, on ada's own origin.
  const ada = sifu.notebookUrl.replace('//localhost:', '//ada.localhost:');
  await page.waitForURL(`${ada}/user/ada/tree**`, { timeout: 90_000 });
  await page.getByRole('link', { name: 'lesson.ipynb' }).waitFor();

  await page.goto(`${ada}/user/ada/notebooks/lesson.ipynb`);
  // Typing before the kernel is connected is fine: notebook 6 queues the execution.
  await page.locator('.CodeMirror').first().click();
  await page.keyboard.type('6*7');
  await page.keyboard.press('Shift+Enter');
  const output = page.locator('.output_subarea').first();
  await output.waitFor({ timeout: 60_000 });
  assert.equal((await output.textContent())?.trim(), '42');
  // Over plain http, Chromium keeps Secure cookies of 127.0.0.1 and *.localhost: both sessions are
  // __Host- cookies (Secure, Path=/, host-only), HttpOnly, each on its own host.
  const sessions = (await context.cookies())
    .filter((c) => c.name.endsWith('-session'))
    .map(({ name, domain, path, secure, httpOnly }) => ({ name, domain, path, secure, httpOnly }));
  assert.deepEqual(
    sessions.sort((a, b) => a.name.localeCompare(b.name)),
    [
      { name: '__Host-sifu-hub-session', domain: '127.0.0.1', path: '/', secure: true, httpOnly: true },
      { name: '__Host-sifu-nb-session', domain: 'ada.localhost', path: '/', secure: true, httpOnly: true },
    ],
  );
  await context.close();
});
