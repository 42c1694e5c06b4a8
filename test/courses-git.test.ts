/**
 * Base notebooks from a private git repository: served over HTTP on 127.0.0.1 with credentials
 * required, cloned with the deployment token. The token must not appear in any process's arguments
 * during the clone (read from /proc/<pid>/cmdline while the server holds the clone), in Sifu's log, in
 * the store, or in any URL.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { type Sifu, startSifu } from '../src/app/start.js';
import { loadConfig } from '../src/config/load.js';
import { resolveDeploymentToken } from '../src/courses/deployment-token.js';
import { fetchNotebookFromGit, repoAllowed } from '../src/courses/git-fetch.js';
import { isSifuError } from '../src/errors.js';
import { type GitHttpServer, makeRepo, startGitHttp } from './support/git-http.js';
import { ADMIN_TOKEN, api, FAKE_SERVER, freePort } from './support/sifu.js';

const TOKEN = 'ghp_deploymentTokenForTests0123456789abcdef';
const NOTEBOOK = JSON.stringify({
  nbformat: 4,
  nbformat_minor: 5,
  metadata: {},
  cells: [{ cell_type: 'markdown', source: ['# from git'], metadata: {} }],
});

function code(expected: string) {
  return (err: unknown) => {
    assert.ok(isSifuError(err), `expected a SifuError, got ${String(err)}`);
    assert.equal(err.code, expected);
    return true;
  };
}

/** Every process's command line, as `ps` would show it. */
async function commandLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const raw = await readFile(`/proc/${pid}/cmdline`).catch(() => null);
    if (raw && raw.length > 0) lines.push(raw.toString().replaceAll('\0', ' '));
  }
  return lines;
}

describe('base notebooks from a private git repository', () => {
  let dir: string;
  let git: GitHttpServer;
  /** The test's git host, as an operator would list it in courses.gitAllowedPrefixes. */
  const allowed = () => [`${new URL(git.url('course')).origin}/`];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sifu-git-'));
    await makeRepo(join(dir, 'repos'), 'course', {
      'notebooks/lesson.ipynb': NOTEBOOK,
      'notebooks/not-json.ipynb': 'hello',
      'notebooks/escape.ipynb': 'link:/etc/passwd',
    });
    git = await startGitHttp(join(dir, 'repos'), TOKEN);
  });

  after(async () => {
    await git.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('credentials are required: no token or a wrong one fails, cleanly', async () => {
    const source = { repo: git.url('course'), path: 'notebooks/lesson.ipynb' };
    await assert.rejects(
      fetchNotebookFromGit(source, { allowedPrefixes: allowed(), maxBytes: 100_000 }),
      code('SIFU_ERR_GIT_FETCH_FAILED'),
    );
    await assert.rejects(
      fetchNotebookFromGit(source, { allowedPrefixes: allowed(), token: 'wrong', maxBytes: 100_000 }),
      code('SIFU_ERR_GIT_FETCH_FAILED'),
    );
    assert.ok(git.refused >= 2);
    const bytes = await fetchNotebookFromGit(source, {
      allowedPrefixes: allowed(),
      token: TOKEN,
      maxBytes: 100_000,
    });
    assert.equal(bytes.toString(), NOTEBOOK);
  });

  test('a symlink, a missing path or an oversized file in the repository is refused', async () => {
    const fetchPath = (path: string, maxBytes = 100_000) =>
      fetchNotebookFromGit(
        { repo: git.url('course'), path },
        { allowedPrefixes: allowed(), token: TOKEN, maxBytes },
      );
    await assert.rejects(fetchPath('notebooks/escape.ipynb'), code('SIFU_ERR_UNSAFE_PATH'));
    await assert.rejects(fetchPath('notebooks/none.ipynb'), code('SIFU_ERR_NOTEBOOK_NOT_FOUND'));
    await assert.rejects(fetchPath('../x.ipynb'), code('SIFU_ERR_INVALID_PATH'));
    await assert.rejects(fetchPath('notebooks/lesson.ipynb', 10), code('SIFU_ERR_NOTEBOOK_TOO_LARGE'));
  });

  test('repository URLs with credentials or other transports are refused', async () => {
    for (const repo of [
      `http://x-access-token:${TOKEN}@127.0.0.1/a.git`,
      'http://example.org/a.git',
      'file:///etc',
      'ext::sh -c touch% /tmp/pwned',
      '--upload-pack=touch /tmp/pwned',
    ]) {
      await assert.rejects(
        fetchNotebookFromGit(
          { repo, path: 'a.ipynb' },
          { allowedPrefixes: allowed(), token: TOKEN, maxBytes: 100 },
        ),
        code('SIFU_ERR_BAD_REQUEST'),
        repo,
      );
    }
  });

  test('a repository prefix matches whole path segments, on the same origin only', () => {
    const table: [string, string[], boolean][] = [
      ['https://github.com/org/repo', ['https://github.com/org/'], true],
      ['https://github.com/org/repo', ['https://github.com/org'], true],
      ['https://github.com/org', ['https://github.com/org'], true],
      ['https://github.com/org-evil/repo', ['https://github.com/org'], false],
      ['https://github.com.evil.example/org/repo', ['https://github.com/org/'], false],
      ['https://github.com:8443/org/repo', ['https://github.com/org/'], false],
      ['http://github.com/org/repo', ['https://github.com/org/'], false],
      ['https://github.com/org/repo', ['not a url', 'https://user@github.com/org/'], false],
      ['https://github.com/org/repo', [], false],
    ];
    for (const [repo, prefixes, expected] of table) {
      assert.equal(repoAllowed(new URL(repo), prefixes), expected, `${repo} under ${prefixes.join(', ')}`);
    }
  });

  test('nothing outside courses.gitAllowedPrefixes is contacted, so the token cannot go there', async () => {
    // A catcher host: records every request it receives and the credentials on it.
    const seen: string[] = [];
    const catcher = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => catcher.listen(0, '127.0.0.1', resolve));
    try {
      const origin = `http://127.0.0.1:${(catcher.address() as AddressInfo).port}`;
      const cases: [string, string[]][] = [
        [`${origin}/evil/repo`, allowed()], // another host than the allowed one
        [`${origin}/org-evil/repo`, [`${origin}/org`]], // a look-alike of an allowed prefix
        [`${origin}/org/repo`, []], // nothing allowed: git is off
      ];
      for (const [repo, allowedPrefixes] of cases) {
        await assert.rejects(
          fetchNotebookFromGit({ repo, path: 'a.ipynb' }, { allowedPrefixes, token: TOKEN, maxBytes: 100 }),
          code('SIFU_ERR_GIT_HOST_NOT_ALLOWED'),
          repo,
        );
      }
      assert.deepEqual(seen, [], 'a refused repository received a request');
      // The catcher does see what reaches it: an allowed repository is contacted.
      await assert.rejects(
        fetchNotebookFromGit(
          { repo: `${origin}/org/repo`, path: 'a.ipynb' },
          { allowedPrefixes: [`${origin}/org/`], maxBytes: 100 },
        ),
        code('SIFU_ERR_GIT_FETCH_FAILED'),
      );
      assert.ok(seen.length > 0);
    } finally {
      catcher.close();
    }
  });

  test('the token comes from config, DEPLOYMENT_TOKEN or the .deployment_token file', async () => {
    const file = join(dir, '.deployment_token');
    await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
    assert.equal(await resolveDeploymentToken({ deploymentToken: 'a', deploymentTokenFile: file }, {}), 'a');
    assert.equal(await resolveDeploymentToken({ deploymentTokenFile: file }, { DEPLOYMENT_TOKEN: 'b' }), 'b');
    assert.equal(await resolveDeploymentToken({ deploymentTokenFile: file }, {}), TOKEN);
    assert.equal(await resolveDeploymentToken({ deploymentTokenFile: join(dir, 'none') }, {}), undefined);
  });

  test('staff attach a notebook from git through the API; the token is in no argv, log, URL or row', async (t) => {
    let logs = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs += chunk.toString();
        done();
      },
    });
    const tokenFile = join(dir, 'token-file');
    await writeFile(tokenFile, TOKEN, { mode: 0o600 });
    const config = loadConfig({
      overrides: {
        dataDir: join(dir, 'data'),
        adminToken: ADMIN_TOKEN,
        hub: { port: await freePort() },
        notebook: { port: await freePort() },
        spawner: { command: `${FAKE_SERVER} fast` },
        culler: { enabled: false },
        log: { level: 'trace' },
        courses: { deploymentTokenFile: tokenFile, gitAllowedPrefixes: allowed() },
      },
    });
    const sifu: Sifu = await startSifu(config, { log: pino({ level: 'trace' }, sink) });
    t.after(() => sifu.stop());

    // Hold the clone at the server until the process table has been seen with git in it.
    let release!: () => void;
    git.gate = new Promise((resolve) => {
      release = resolve;
    });
    let sampling = true;
    let sawGit = false;
    let leaked = false;
    const sampler = (async () => {
      while (sampling) {
        const lines = await commandLines();
        if (
          lines.some(
            (l) => l.includes(TOKEN) || l.includes(Buffer.from(`x-access-token:${TOKEN}`).toString('base64')),
          )
        ) {
          leaked = true;
        }
        if (lines.some((l) => l.includes('git') && l.includes(git.url('course')))) {
          sawGit = true;
          release();
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    const tempsBefore = new Set(await readdir(tmpdir()));
    const repoUrl = git.url('course');
    const res = await api(
      sifu,
      `/courses/${encodeURIComponent('course-v1:Org+Git+1')}/notebooks/lesson.ipynb`,
      {
        method: 'PUT',
        token: ADMIN_TOKEN,
        body: { git: { repo: repoUrl, path: 'notebooks/lesson.ipynb', ref: 'main' } },
      },
    );
    sampling = false;
    await sampler;
    git.gate = null;

    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.source, {
      kind: 'git',
      repo: repoUrl,
      path: 'notebooks/lesson.ipynb',
      ref: 'main',
    });
    assert.ok(sawGit, 'the clone was observed in the process table');
    assert.equal(leaked, false, 'the token appeared in a process command line');
    assert.match(
      (await sifu.store.getCourseNotebookContent('course-v1:Org+Git+1', 'lesson.ipynb')) ?? '',
      /from git/,
    );

    // A failing fetch logs its detail (git's stderr): still without the token.
    const bad = await api(sifu, `/courses/${encodeURIComponent('course-v1:Org+Git+1')}/notebooks/x.ipynb`, {
      method: 'PUT',
      token: ADMIN_TOKEN,
      body: { git: { repo: git.url('missing'), path: 'x.ipynb' } },
    });
    assert.equal(bad.status, 502);
    assert.equal(bad.body.code, 'SIFU_ERR_GIT_FETCH_FAILED');
    assert.match(logs, /git clone of/);
    assert.ok(!logs.includes(TOKEN), 'the token appeared in the log');
    assert.ok(!JSON.stringify(await sifu.store.listEvents()).includes(TOKEN));
    assert.ok(!JSON.stringify(await sifu.store.listCourseNotebooks()).includes(TOKEN));
    // The clone's temporary directory is gone.
    const tempsAfter = (await readdir(tmpdir())).filter((n) => !tempsBefore.has(n));
    assert.deepEqual(
      tempsAfter.filter((n) => n.startsWith('sifu-git-')),
      [],
    );
  });
});
