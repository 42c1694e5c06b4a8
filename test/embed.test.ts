import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loopbackRequest } from './support/loopback-http.js';
import { Client, startTestSifu } from './support/sifu.js';

describe('embedded mode', () => {
  for (const allowNewTab of [true, false]) {
    test(`iframe-only: top-level visits get a friendly page (new-tab link ${allowNewTab ? 'offered' : 'withheld'})`, async () => {
      const sifu = await startTestSifu({
        overrides: {
          embed: { enabled: true, iframeOnly: true, allowNewTab },
          proxy: { frameAncestors: ['https://lms.example.org'] },
        },
      });
      try {
        const ada = new Client();
        const signIn = await ada.signIn(sifu, 'ada');
        assert.match(signIn.hops.join(' '), /hub-handoff/);
        await sifu.manager.progress('ada', '')?.done;
        await ada.follow(`${sifu.hubUrl}/hub/spawn/ada`);
        const url = `${sifu.notebookUrl}/user/ada/api/contents/`;

        const top = await ada.request(url, { headers: { 'sec-fetch-dest': 'document' } });
        assert.equal(top.status, 403);
        const page = await top.text();
        assert.match(page, /SIFU_ERR_IFRAME_ONLY/);
        assert.equal(page.includes('sifu-new-tab=1'), allowNewTab);
        assert.match(
          top.headers.get('content-security-policy') ?? '',
          /frame-ancestors https:\/\/lms\.example\.org/,
        );

        const framed = await ada.request(url, { headers: { 'sec-fetch-dest': 'iframe' } });
        assert.equal(framed.status, 200, 'inside the iframe it works');
        const fetched = await ada.request(url, { headers: { 'sec-fetch-dest': 'empty' } });
        assert.equal(fetched.status, 200, "the notebook UI's own requests work");
        const anyway = await ada.request(`${url}?sifu-new-tab=1`, {
          headers: { 'sec-fetch-dest': 'document' },
        });
        // Past the proxy, the fake server answers 404 for a query it does not know: not refused by Sifu.
        if (allowNewTab) assert.notEqual(anyway.status, 403);
        else assert.equal(anyway.status, 403);
      } finally {
        await sifu.cleanup();
      }
    });
  }

  test('cookies are SameSite=None; Secure; Partitioned, on the hub and on the learner origin, and hub pages carry frame-ancestors', async () => {
    const sifu = await startTestSifu({
      userOrigins: true,
      overrides: { embed: { enabled: true }, proxy: { frameAncestors: ['https://lms.example.org'] } },
    });
    try {
      const adaOrigin = sifu.notebookUrl.replace('//localhost:', '//ada.localhost:');
      const res = await fetch(`${sifu.hubUrl}/hub/login`, {
        method: 'POST',
        body: new URLSearchParams({ username: 'ada', next: `${adaOrigin}/user/ada/` }),
        headers: { origin: sifu.hubUrl },
        redirect: 'manual',
      });
      const hubCookie = res.headers.get('set-cookie') ?? '';
      const embedded = /SameSite=None; Secure; Partitioned/;
      for (const attribute of ['HttpOnly', 'SameSite=None', 'Secure', 'Partitioned'])
        assert.match(hubCookie, new RegExp(attribute));
      const pair = (line: string) => line.split(';')[0] as string;
      // ada's origin starts a handoff bound to this browser, by a cookie of its own...
      assert.equal(res.headers.get('location'), `${adaOrigin}/user/ada/`);
      const visit = await loopbackRequest(res.headers.get('location') as string, {
        headers: { accept: 'text/html' },
      });
      const handoffCookie = String(visit.headers['set-cookie']?.[0] ?? '');
      assert.match(handoffCookie, /^__Host-sifu-nb-handoff=/);
      assert.match(handoffCookie, embedded);
      // ...the hub hands over a code bound to it...
      const bound = await fetch(visit.location as string, {
        headers: { cookie: pair(hubCookie) },
        redirect: 'manual',
      });
      assert.ok(bound.headers.get('location')?.startsWith(`${adaOrigin}/hub-handoff?code=`));
      // ...which becomes the notebook session, only in the browser holding that cookie.
      const handoff = await loopbackRequest(bound.headers.get('location') as string, {
        headers: { cookie: pair(handoffCookie) },
      });
      const nbCookie = String(handoff.headers['set-cookie']?.[0] ?? '');
      assert.match(nbCookie, /^__Host-sifu-nb-session=/);
      assert.match(nbCookie, embedded);
      const login = await fetch(`${sifu.hubUrl}/hub/login`);
      assert.equal(login.headers.get('content-security-policy'), 'frame-ancestors https://lms.example.org');
    } finally {
      await sifu.cleanup();
    }
  });
});
