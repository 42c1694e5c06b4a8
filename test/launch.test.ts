import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, api, Client, startTestSifu, type TestSifu } from './support/sifu.js';

const COURSE = 'course-v1:Org+CS101+2026';
const UNIT = 'block-v1:Org+CS101+2026+type@sifu+block@intro';
const NOTEBOOK = {
  cells: [{ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source: ['1+1'] }],
  metadata: {},
  nbformat: 4,
  nbformat_minor: 5,
};

describe('the launch API (server to server, for the XBlock)', () => {
  let sifu: TestSifu;
  let launchToken: string;
  let learnerToken: string;
  before(async () => {
    sifu = await startTestSifu({ overrides: { launch: { ttl: 1 } } });
    await api(sifu, '/users/xblock', { method: 'POST', token: ADMIN_TOKEN });
    launchToken = (
      await api(sifu, '/users/xblock/tokens', {
        method: 'POST',
        token: ADMIN_TOKEN,
        body: { scopes: ['launch', 'courses'] },
      })
    ).body.token;
    await api(sifu, '/users/ada', { method: 'POST', token: ADMIN_TOKEN });
    learnerToken = (
      await api(sifu, '/users/ada/tokens', {
        method: 'POST',
        token: ADMIN_TOKEN,
        body: { scopes: ['servers'] },
      })
    ).body.token;
    const attached = await api(sifu, `/courses/${encodeURIComponent(COURSE)}/notebooks/intro.ipynb`, {
      method: 'PUT',
      token: launchToken,
      body: { unit: UNIT, notebook: NOTEBOOK },
    });
    assert.ok([200, 201].includes(attached.status), JSON.stringify(attached.body));
  });
  after(() => sifu.cleanup());

  const launch = (token: string, body: Record<string, unknown>) =>
    api(sifu, '/launch', {
      method: 'POST',
      token,
      body: { course_id: COURSE, unit_id: UNIT, notebook: 'intro.ipynb', ...body },
    });

  test('a launch URL signs the learner in, makes their copy, and lands on it; it works once', async () => {
    const made = await launch(launchToken, { username: 'bea' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.ok(made.body.url.startsWith(`${sifu.hubUrl}/hub/launch/`));
    const browser = new Client();
    const first = await browser.request(made.body.url);
    assert.equal(first.status, 303);
    const spawn = new URL(first.headers.get('location') as string, sifu.hubUrl);
    assert.equal(spawn.pathname, '/hub/spawn/bea');
    const next = new URL(spawn.searchParams.get('next') as string);
    assert.match(next.pathname, /^\/user\/bea\/notebooks\/.+\/intro\.ipynb$/);
    const copy = decodeURIComponent(next.pathname.replace('/user/bea/notebooks/', ''));
    assert.ok(existsSync(join(sifu.dataDir, 'homes/bea', copy)), `the copy ${copy} exists`);
    assert.ok(browser.cookies.has('__Host-sifu-hub-session'));

    const replay = await new Client().request(made.body.url);
    assert.equal(replay.status, 403);
    assert.match(await replay.text(), /SIFU_ERR_LAUNCH_INVALID/);
    assert.equal(replay.headers.get('set-cookie'), null);
  });

  test('a HEAD of a launch URL (a link preview) does not use it up', async () => {
    const made = await launch(launchToken, { username: 'hal' });
    const head = await fetch(made.body.url, { method: 'HEAD', redirect: 'manual' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('set-cookie'), null, 'a HEAD signs nobody in');
    const open = await new Client().request(made.body.url);
    assert.equal(open.status, 303, 'the launch URL still works');
  });

  test('an expired launch URL is refused', async () => {
    const made = await launch(launchToken, { username: 'cy' });
    await new Promise((r) => setTimeout(r, 1200));
    const res = await new Client().request(made.body.url);
    assert.equal(res.status, 403);
    assert.equal(await sifu.store.getUser('cy'), null, 'nobody was created');
    assert.equal(res.headers.get('set-cookie'), null, 'nor signed in');
  });

  test('a tampered launch URL is refused', async () => {
    const made = await launch(launchToken, { username: 'dee' });
    const url = new URL(made.body.url);
    const code = url.pathname.split('/').pop() as string;
    const flipped = code.slice(0, -1) + (code.endsWith('A') ? 'B' : 'A');
    for (const path of [
      `/hub/launch/${flipped}`,
      '/hub/launch/short',
      `/hub/launch/${code}..`,
      `/hub/launch/${code}%00`,
    ]) {
      const res = await new Client().request(`${sifu.hubUrl}${path}`);
      assert.ok([403, 404].includes(res.status), `${path}: ${res.status}`);
      assert.equal(res.headers.get('set-cookie'), null);
    }
  });

  test('refusals: wrong scope, no token, an admin target, a bad name, an unknown unit or notebook', async () => {
    const scope = await launch(learnerToken, { username: 'ada' });
    assert.equal(scope.status, 403);
    assert.equal(scope.body.code, 'SIFU_ERR_MISSING_SCOPE');
    const none = await api(sifu, '/launch', {
      method: 'POST',
      body: { username: 'ada', course_id: COURSE, unit_id: UNIT },
    });
    // No credentials on /hub/api: 403, as JupyterHub answers.
    assert.equal(none.status, 403);
    assert.equal(none.body.code, 'SIFU_ERR_UNAUTHENTICATED');
    await api(sifu, '/users/boss', { method: 'POST', token: ADMIN_TOKEN, body: { admin: true } });
    const admin = await launch(launchToken, { username: 'boss' });
    assert.equal(admin.status, 403, 'the launch scope never mints admin sessions');
    const badName = await launch(launchToken, { username: '../../etc' });
    assert.equal(badName.body.code, 'SIFU_ERR_INVALID_USERNAME');
    const unit = await launch(launchToken, {
      username: 'ada',
      unit_id: 'block-v1:Org+CS101+2026+type@sifu+block@nope',
    });
    assert.equal(unit.status, 404);
    assert.equal(unit.body.code, 'SIFU_ERR_COURSE_UNIT_NOT_FOUND');
    const notebook = await launch(launchToken, { username: 'ada', notebook: 'other.ipynb' });
    assert.equal(notebook.status, 404);
    const body = await launch(launchToken, { username: 'ada', course_id: 'has spaces' });
    assert.equal(body.status, 400);
    assert.equal(body.body.code, 'SIFU_ERR_BAD_REQUEST');
    const launches = await sifu.store.listEvents({ type: 'launch.create', userName: 'ada' });
    assert.equal(launches.length, 0, 'no refused call minted a launch');
  });

  test("a launch for one learner never opens another learner's server", async () => {
    const made = await launch(launchToken, { username: 'eve' });
    const browser = new Client();
    await browser.follow(made.body.url);
    await sifu.manager.progress('eve', '')?.done;
    await browser.follow(`${sifu.hubUrl}/hub/spawn/eve`);
    assert.ok(browser.cookies.has('__Host-sifu-nb-session'));
    const other = await browser.request(`${sifu.notebookUrl}/user/ada/api/contents/`);
    assert.equal(other.status, 403);
  });
});
