import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cookie, json, type Setup, send, setUp } from './doubles/harness.js';

describe('notebook proxy: sign-in handoff', () => {
  let s: Setup;
  before(async () => {
    s = await setUp();
  });
  after(async () => {
    await s.close();
  });

  const setCookie = `${cookie('ada-session')}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned`;

  it('sets the session cookie and redirects to next, once per code', { timeout: 20_000 }, async () => {
    s.hooks.handoffCodes.set('good-code', setCookie);
    const next = '/user/ada/notebooks/intro.ipynb?kernel=py';
    const path = `/hub-handoff?code=good-code&next=${encodeURIComponent(next)}`;
    const answer = await send(s.port, { path });
    assert.equal(answer.status, 302);
    assert.equal(answer.headers.location, next);
    assert.deepEqual(answer.headers['set-cookie'], [setCookie]);
    assert.equal(answer.headers['referrer-policy'], 'no-referrer');
    const again = await send(s.port, { path });
    assert.equal(again.status, 400);
    assert.equal(json(again).code, 'SIFU_ERR_BAD_REQUEST');
  });

  it('refuses any next that is not a /user/ path on this origin, without spending the code', {
    timeout: 20_000,
  }, async () => {
    s.hooks.handoffCodes.set('kept-code', setCookie);
    const bad = [
      '//evil.example',
      '//evil.example/user/ada/',
      'https://evil',
      'https://evil.example/user/ada/',
      '/hub/..',
      '/hub/login',
      '/user/../hub/admin',
      '/user/ada/%2e%2e/%2e%2e/hub',
      '/\\evil.example',
      '/user/ada/\\..\\x',
      '/user/ada/ x',
      'javascript:alert(1)',
      '',
    ];
    for (const next of bad) {
      const answer = await send(s.port, {
        path: `/hub-handoff?code=kept-code&next=${encodeURIComponent(next)}`,
      });
      assert.equal(answer.status, 400, next);
      assert.equal(json(answer).code, 'SIFU_ERR_BAD_REQUEST');
      assert.equal(answer.headers.location, undefined);
    }
    assert.equal((await send(s.port, { path: '/hub-handoff?code=kept-code' })).status, 400);
    assert.equal(s.hooks.handoffCodes.has('kept-code'), true);
  });

  it('refuses unknown codes, missing codes and other methods', { timeout: 20_000 }, async () => {
    const next = encodeURIComponent('/user/ada/');
    assert.equal((await send(s.port, { path: `/hub-handoff?code=nope&next=${next}` })).status, 400);
    assert.equal((await send(s.port, { path: `/hub-handoff?next=${next}` })).status, 400);
    s.hooks.handoffCodes.set('post-code', setCookie);
    for (const method of ['POST', 'HEAD']) {
      const answer = await send(s.port, { method, path: `/hub-handoff?code=post-code&next=${next}` });
      assert.equal(answer.status, 400, method);
    }
    assert.equal(s.hooks.handoffCodes.has('post-code'), true);
  });
});
