import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { dockerForTests } from '../../test/support/docker.js';
import { makeRepo, startGitHttp } from '../../test/support/git-http.js';
import { buildImages } from './build-images.js';

const run = promisify(execFile);
const COURSE_TAG = `sifu/test-course:${process.pid}`;
const TOKEN = `deploy-token-${process.pid}-0123456789`;

describe('notebook images', () => {
  let root = '';
  before(async () => {
    await dockerForTests();
    root = await mkdtemp(join(tmpdir(), 'sifu-course-git-'));
  });
  after(async () => {
    await run('docker', ['rmi', '-f', COURSE_TAG]).catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  it('reuses an image whose content hash matches, reporting progress', async () => {
    const lines: string[] = [];
    const result = await buildImages({ onProgress: (l) => lines.push(l) });
    assert.deepEqual(result.built, [], 'nothing rebuilt');
    assert.ok(
      lines.some((l) => /base .*up to date/.test(l)),
      lines.join('\n'),
    );
  });

  it('clones a private course repository through a build secret that no layer keeps', async (t) => {
    await makeRepo(root, 'course', { 'intro.ipynb': '{"cells": []}\n' });
    const git = await startGitHttp(root, TOKEN);
    t.after(() => git.close());
    process.env.SIFU_TEST_COURSE_TOKEN = TOKEN;
    t.after(() => {
      delete process.env.SIFU_TEST_COURSE_TOKEN;
    });
    await buildImages({
      course: {
        tag: COURSE_TAG,
        source: { repository: git.url('course'), tokenEnv: 'SIFU_TEST_COURSE_TOKEN' },
      },
    });
    const { stdout: files } = await run('docker', [
      'run',
      '--rm',
      '--network',
      'host',
      COURSE_TAG,
      'ls',
      '-A',
      '/opt/course',
    ]);
    assert.equal(files.trim(), 'intro.ipynb', 'the course files, without .git');
    const { stdout: history } = await run('docker', ['history', '--no-trunc', COURSE_TAG]);
    assert.ok(!history.includes(TOKEN), 'not in the history');
    const { stdout: saved } = await run('sh', [
      '-c',
      `docker save ${COURSE_TAG} | grep -ac '${TOKEN}' || true`,
    ]);
    assert.equal(saved.trim(), '0', 'not in any layer');
  });
});
