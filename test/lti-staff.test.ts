import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type GitHttpServer, makeRepo, startGitHttp } from './support/git-http.js';
import { startTestPlatform, type TestPlatform } from './support/lti-platform.js';
import { Client, removeDir, startTestSifu, type TestSifu } from './support/sifu.js';

const TOKEN = 'deployment-token-for-lti-staff-0123456789';
const NOTEBOOK = JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 });
const INSTRUCTOR = ['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'];
const CUSTOM = 'https://purl.imsglobal.org/spec/lti/claim/custom';
const LINK = 'https://purl.imsglobal.org/spec/lti/claim/resource_link';

let dir: string;
let git: GitHttpServer;
let platform: TestPlatform;
let sifu: TestSifu;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sifu-lti-git-'));
  await makeRepo(dir, 'course', { 'lessons/intro.ipynb': NOTEBOOK });
  git = await startGitHttp(dir, TOKEN);
  platform = await startTestPlatform();
  sifu = await startTestSifu({
    overrides: {
      lti: { platforms: [platform.registration()], gitAttach: true },
      courses: { deploymentToken: TOKEN, gitAllowedPrefixes: [`${new URL(git.url('course')).origin}/`] },
    },
  });
});
after(async () => {
  await sifu.cleanup();
  await platform.close();
  await git.close();
  await removeDir(dir);
});

async function launch(claims: Record<string, unknown>, on: TestSifu = sifu): Promise<Response> {
  const browser = new Client();
  const sifu = on;
  const query = new URLSearchParams({ iss: platform.issuer, login_hint: 'x', client_id: platform.clientId });
  const login = await browser.request(`${sifu.hubUrl}/hub/lti/login?${query}`);
  const redirect = new URL(login.headers.get('location') as string);
  const idToken = await platform.idToken(redirect.searchParams.get('nonce') as string, claims);
  return browser.request(`${sifu.hubUrl}/hub/lti/launch`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ id_token: idToken, state: redirect.searchParams.get('state') as string }),
  });
}

const custom = { git_repo: '', git_path: 'lessons/intro.ipynb', notebook: 'intro.ipynb' };

test("a learner's launch never attaches a notebook, even when the platform names one", async () => {
  const res = await launch({
    sub: 'learner-1',
    [CUSTOM]: { ...custom, git_repo: git.url('course') },
    [LINK]: { id: 'unit-git' },
  });
  // The unit has no notebook: the learner lands in their home, and nothing is attached or fetched.
  assert.equal(res.status, 303);
  const next = new URL(
    new URL(res.headers.get('location') as string, sifu.hubUrl).searchParams.get('next') as string,
  );
  assert.match(next.pathname, /^\/user\/lti-[0-9a-f]+\/$/);
  assert.equal(git.authorised, 0, 'the repository was not even fetched');
  assert.deepEqual(await sifu.store.listEvents({ type: 'course.attach' }), []);
});

test("a staff launch attaches the unit's notebook from git; learners then land on their copy", async () => {
  const staff = await launch({
    sub: 'teacher-1',
    'https://purl.imsglobal.org/spec/lti/claim/roles': INSTRUCTOR,
    [CUSTOM]: { ...custom, git_repo: git.url('course') },
    [LINK]: { id: 'unit-git' },
  });
  assert.equal(staff.status, 303, await staff.clone().text());
  assert.ok(git.authorised > 0, 'fetched with the deployment token');
  const attached = await sifu.store.listEvents({ type: 'course.attach' });
  assert.equal(attached[0]?.data.notebook, 'intro.ipynb');

  const learner = await launch({
    sub: 'learner-2',
    [CUSTOM]: { notebook: 'intro.ipynb' },
    [LINK]: { id: 'unit-git' },
  });
  assert.equal(learner.status, 303);
  const next = new URL(
    new URL(learner.headers.get('location') as string, sifu.hubUrl).searchParams.get('next') as string,
  );
  assert.match(next.pathname, /\/notebooks\/.+\/intro\.ipynb$/);
});

test('by default a staff launch attaches nothing from git: the platform cannot choose where Sifu fetches', async () => {
  const strict = await startTestSifu({
    overrides: {
      lti: { platforms: [platform.registration()] },
      courses: { deploymentToken: TOKEN, gitAllowedPrefixes: [`${new URL(git.url('course')).origin}/`] },
    },
  });
  try {
    const fetched = git.authorised + git.refused;
    const res = await launch(
      {
        sub: 'teacher-2',
        'https://purl.imsglobal.org/spec/lti/claim/roles': INSTRUCTOR,
        [CUSTOM]: { ...custom, git_repo: git.url('course') },
        [LINK]: { id: 'unit-default' },
      },
      strict,
    );
    assert.equal(res.status, 303, await res.clone().text());
    assert.equal(git.authorised + git.refused, fetched, 'the repository was not contacted');
    assert.deepEqual(await strict.store.listEvents({ type: 'course.attach' }), []);
  } finally {
    await strict.cleanup();
  }
});

test('with LTI attach on, a repository outside the allowlist is refused before it is contacted', async () => {
  const fetched = git.authorised + git.refused;
  const res = await launch({
    sub: 'teacher-3',
    'https://purl.imsglobal.org/spec/lti/claim/roles': INSTRUCTOR,
    [CUSTOM]: { ...custom, git_repo: git.url('course').replace('127.0.0.1', 'localhost') },
    [LINK]: { id: 'unit-elsewhere' },
  });
  assert.equal(res.status, 403);
  assert.match(await res.text(), /SIFU_ERR_GIT_HOST_NOT_ALLOWED/);
  assert.equal(git.authorised + git.refused, fetched, 'the repository was not contacted');
});
