import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { ADMIN_TOKEN, api, REPO, startTestSifu, type TestSifu } from './support/sifu.js';

let sifu: TestSifu;
before(async () => {
  sifu = await startTestSifu();
});
after(() => sifu.cleanup());

test("the reference XBlock's client and renderer pass their Python tests against a running Sifu", async () => {
  await api(sifu, '/users/xblock', { method: 'POST', token: ADMIN_TOKEN });
  const xblock = await api(sifu, '/users/xblock/tokens', {
    method: 'POST',
    token: ADMIN_TOKEN,
    body: { scopes: ['launch', 'courses'], note: 'the XBlock' },
  });
  assert.equal(xblock.status, 201, JSON.stringify(xblock.body));
  await api(sifu, '/users/ada', { method: 'POST', token: ADMIN_TOKEN });
  const learner = await api(sifu, '/users/ada/tokens', {
    method: 'POST',
    token: ADMIN_TOKEN,
    body: { scopes: ['servers'] },
  });
  // Asynchronously: Sifu runs in this very process and must keep answering while Python calls it.
  const run = await promisify(execFile)(
    '/usr/bin/python3',
    ['-m', 'unittest', 'discover', '-v', '-s', 'tests', '-t', '.'],
    {
      cwd: join(REPO, 'xblock'),
      env: {
        PATH: process.env.PATH,
        SIFU_URL: sifu.hubUrl,
        SIFU_TOKEN: xblock.body.token,
        SIFU_LEARNER_TOKEN: learner.body.token,
      },
      encoding: 'utf8',
      timeout: 120_000,
    },
  ).catch((err: { stdout?: string; stderr?: string }) => {
    assert.fail(`python tests failed:\n${err.stdout}\n${err.stderr}`);
  });
  assert.match(run.stderr, /Ran \d+ tests/);
  assert.doesNotMatch(run.stderr, /skipped/, 'the Sifu-backed tests must run, not skip');
});
