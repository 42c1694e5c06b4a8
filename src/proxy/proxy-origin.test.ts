import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cookie, json, LMS_ORIGIN, NOTEBOOK_ORIGIN, type Setup, send, setUp } from './doubles/harness.js';

describe('notebook proxy: Origin checks', () => {
  let s: Setup;
  before(async () => {
    s = await setUp();
  });
  after(async () => {
    await s.close();
  });

  async function post(headers: Record<string, string>, method = 'POST') {
    const before = s.upstream.seen.length;
    const answer = await send(s.port, {
      method,
      path: '/user/ada/api/contents',
      headers: { ...headers, cookie: cookie('ada-session'), 'content-type': 'application/json' },
      body: '{}',
    });
    return { answer, reached: s.upstream.seen.length > before };
  }

  it('refuses state-changing requests from a foreign Origin before they reach the server', {
    timeout: 20_000,
  }, async () => {
    for (const [method, origin] of [
      ['POST', 'https://evil.example'],
      ['PUT', 'https://evil.example'],
      ['DELETE', 'http://notebooks.sifu.test'],
      ['PATCH', 'null'],
    ] as const) {
      const { answer, reached } = await post({ origin }, method);
      assert.equal(answer.status, 403, `${method} ${origin}`);
      assert.equal(json(answer).code, 'SIFU_ERR_BAD_ORIGIN');
      assert.equal(reached, false);
    }
  });

  it('admits the notebook origin and allowed origins', { timeout: 20_000 }, async () => {
    for (const origin of [NOTEBOOK_ORIGIN, LMS_ORIGIN]) {
      const { answer, reached } = await post({ origin });
      assert.equal(answer.status, 200, origin);
      assert.equal(reached, true);
    }
  });

  it('falls back to Sec-Fetch-Site and Referer without Origin', { timeout: 20_000 }, async () => {
    assert.equal((await post({ 'sec-fetch-site': 'cross-site' })).answer.status, 403);
    assert.equal((await post({ 'sec-fetch-site': 'same-site' })).answer.status, 403);
    assert.equal((await post({ referer: 'https://evil.example/page' })).answer.status, 403);
    assert.equal((await post({ referer: `${NOTEBOOK_ORIGIN}/user/ada/tree` })).answer.status, 200);
    assert.equal((await post({ 'sec-fetch-site': 'same-origin' })).answer.status, 200);
    assert.equal((await post({})).answer.status, 200);
  });

  it('lets safe methods through whatever their Origin', { timeout: 20_000 }, async () => {
    const answer = await send(s.port, {
      path: '/user/ada/echo',
      headers: { origin: 'https://evil.example', cookie: cookie('ada-session') },
    });
    assert.equal(answer.status, 200);
  });
});
