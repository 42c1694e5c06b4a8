import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { api } from './api.js';
import { BUILT_ADMIN_TOKEN, type BuiltSifu } from './built-sifu.js';
import { waitFor } from './process.js';

/**
 * Support for the tests of JupyterHub's single-user server under Sifu (not a test itself), on every
 * backend: its command line, a notebook to open, and the learner's journey in Chromium.
 */

/** The command line docs/singleuser.md gives for jupyterhub-singleuser under Sifu. */
export const SINGLEUSER_COMMAND =
  'jupyterhub-singleuser --NotebookApp.sock=${SIFU_SERVER_SOCKET} --NotebookApp.notebook_dir=${SIFU_SERVER_ROOT} --NotebookApp.allow_origin=*';

/** An empty Python notebook, as `lesson.ipynb` in the learner's home. */
export const LESSON_NOTEBOOK = JSON.stringify({
  cells: [{ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: [] }],
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  nbformat: 4,
  nbformat_minor: 5,
});

/**
 * Python for a learner's kernel: `call(method, path, body, auth, form, base)` sends one request to the
 * server's hub (`JUPYTERHUB_API_URL`, or `base`) with its own token (or `auth`); answers `[status, body]`
 * on success, `[status, Sifu's error code]` on an HTTP error, `['error', exception name]` without one.
 */
export const HUB_CALL_PY = `
import json, os, socket, urllib.error, urllib.parse, urllib.request
token = os.environ['JUPYTERHUB_API_TOKEN']
def call(method, path, body=None, auth=token, form=False, base=None):
    data = None
    headers = {'Authorization': 'token ' + auth}
    if body is not None:
        data = (urllib.parse.urlencode(body) if form else json.dumps(body)).encode()
        headers['Content-Type'] = 'application/x-www-form-urlencoded' if form else 'application/json'
    req = urllib.request.Request((base or os.environ['JUPYTERHUB_API_URL']) + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return [r.status, json.loads(r.read() or b'null')]
    except urllib.error.HTTPError as e:
        return [e.code, json.loads(e.read() or b'null').get('code')]
    except Exception as e:
        return ['error', type(e).__name__]
`;

/** `call('GET', '/user')` with a server's own token: that server's user, with JupyterHub's `server` role narrowed to it. */
export function assertServerUser(answer: unknown, user: string): void {
  const [status, me] = answer as [number, { name: string; scopes: string[] }];
  assert.equal(status, 200, JSON.stringify(answer));
  assert.equal(me.name, user);
  assert.deepEqual(me.scopes.sort(), [
    `access:servers!server=${user}/`,
    `read:users:name!user=${user}`,
    `users:activity!user=${user}`,
  ]);
}

/** Starts `user`'s default server through the API, unless it runs, and waits until it is ready. */
export async function startSingleUser(sifu: BuiltSifu, user: string, timeoutMs: number): Promise<void> {
  const token = BUILT_ADMIN_TOKEN;
  if ((await api(sifu, `/users/${user}`, { token })).body?.servers?.['']?.ready === true) return;
  await api(sifu, `/users/${user}`, { method: 'POST', token });
  const started = await api(sifu, `/users/${user}/server`, { method: 'POST', token });
  // A refused start says why in Sifu's log (the backend's detail), not in its answer.
  assert.ok(
    [201, 202].includes(started.status),
    `${JSON.stringify(started.body)}\n${sifu.output().slice(-3000)}`,
  );
  await waitFor(
    `${user}'s singleuser server ready`,
    async () => (await api(sifu, `/users/${user}`, { token })).body.servers?.['']?.ready === true,
    timeoutMs,
  );
}

/**
 * ada signs in, her server starts, she opens `lesson.ipynb` and runs `6*7`, then a cell that prints for
 * 40 s, and her browser goes away: resolves once her server's `last_activity` (and her own) moved past
 * that moment by kernel activity alone, which the server posts to its hub endpoint.
 */
export async function runCellThenLeaveComputing(
  sifu: BuiltSifu,
  browser: Browser,
  startTimeoutMs: number,
): Promise<void> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${sifu.hubUrl}/hub/login`);
  await page.getByLabel('User name').fill('ada');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${sifu.notebookUrl}/user/ada/tree**`, { timeout: startTimeoutMs });
  await page.getByRole('link', { name: 'lesson.ipynb' }).waitFor();
  // The page is JupyterHub's single-user one (it links back to the hub's control panel).
  assert.match(await page.content(), /jupyterhub|hub\/home/i);

  await page.goto(`${sifu.notebookUrl}/user/ada/notebooks/lesson.ipynb`);
  // On a loaded machine the page can take a while: type once its kernel is connected and idle.
  await page.locator('#kernel_indicator_icon.kernel_idle_icon').waitFor({ timeout: 90_000 });
  await page.locator('.CodeMirror').first().click();
  await page.keyboard.type('6*7');
  await page.keyboard.press('Shift+Enter');
  const output = page.locator('.output_subarea').first();
  await output.waitFor({ timeout: 90_000 });
  assert.equal((await output.textContent())?.trim(), '42');

  // A computation that prints for 40 s, then the browser goes away: no proxy traffic from here on.
  await page.locator('.CodeMirror').nth(1).click();
  await page.keyboard.type('import time; [print(i, flush=True) or time.sleep(1) for i in range(40)]');
  await page.keyboard.press('Shift+Enter');
  await page.locator('.output_subarea').nth(1).getByText('2').first().waitFor({ timeout: 30_000 });
  await context.close();
  const closedAt = Date.now();

  // The kernel's output is its activity: the server posts it, Sifu stores it (within its 10 s flush).
  const moved = await waitFor(
    'last_activity moved by kernel activity alone',
    async () => {
      await new Promise((r) => setTimeout(r, 1_000));
      const model = (await api(sifu, '/users/ada', { token: BUILT_ADMIN_TOKEN })).body;
      const last = Date.parse(model.servers['']?.last_activity ?? '');
      return last > closedAt + 5_000 ? model : undefined;
    },
    35_000,
  );
  assert.ok(Date.parse(moved.last_activity) > closedAt + 5_000, 'the user model moves too');
}
