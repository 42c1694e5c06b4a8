import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { cookieName, createSessionService, setCookie } from './sessions.js';
import { safeNext } from './sign-in.js';

const ADA = 'http://ada.localhost:3335';
const BOB = 'http://bob.localhost:3335';
const pair = (setCookieValue: string) => setCookieValue.split(';')[0] as string;

describe('cookie attributes', () => {
  const base = { maxAgeSeconds: 60 };
  it('are __Host- prefixed (Secure; Path=/; no Domain) wherever Secure is set', () => {
    assert.equal(cookieName('sifu-hub-session', { secure: true }), '__Host-sifu-hub-session');
    assert.equal(
      cookieName('sifu-hub-session', { secure: false, embedded: true }),
      '__Host-sifu-hub-session',
    );
    assert.equal(cookieName('sifu-hub-session', { secure: false }), 'sifu-hub-session');
    assert.equal(
      setCookie('sifu-nb-handoff', 'v', { ...base, secure: true }, '/hub-handoff'),
      '__Host-sifu-nb-handoff=v; Path=/; HttpOnly; Max-Age=60; SameSite=Lax; Secure',
    );
    assert.equal(
      setCookie('sifu-nb-handoff', 'v', { ...base, secure: false }, '/hub-handoff'),
      'sifu-nb-handoff=v; Path=/hub-handoff; HttpOnly; Max-Age=60; SameSite=Lax',
    );
    const embedded = setCookie('sifu-nb-session', 'v', { ...base, secure: false, embedded: true });
    assert.equal(
      embedded,
      '__Host-sifu-nb-session=v; Path=/; HttpOnly; Max-Age=60; SameSite=None; Secure; Partitioned',
    );
    for (const value of [embedded, setCookie('x', 'v', { ...base, secure: true })])
      assert.doesNotMatch(value, /Domain/i);
  });
});

describe('notebook sessions are bound to the origin they were minted for', () => {
  let dir: string;
  let store: Store;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sifu-sessions-'));
    store = await openStore(`sqlite:${join(dir, 'sifu.sqlite')}`);
    await store.migrate();
    await store.ensureUser('ada');
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function handoffTo(origin: string, spendAt: string) {
    const sessions = createSessionService(store, { secure: true, maxAgeSeconds: 600 });
    const hub = await sessions.signIn('ada', undefined);
    const { binding, setCookie: bindingCookie } = sessions.beginHandoff();
    const code = await sessions.mintHandoff(hub.hash, 'ada', binding, origin);
    const cookie = await sessions.completeHandoff(code, pair(bindingCookie), spendAt);
    return { sessions, cookie };
  }

  it("a session minted for ada's origin is ada there, no one on bob's", async () => {
    const { sessions, cookie } = await handoffTo(ADA, ADA);
    assert.ok(cookie?.startsWith('__Host-sifu-nb-session='));
    const header = pair(cookie as string);
    assert.equal((await sessions.notebookIdentity(header, ADA))?.userName, 'ada');
    assert.equal(await sessions.notebookIdentity(header, BOB), null);
    // Answered from the cache now (kept by cookie value, with its origin): still each origin's own answer.
    for (let i = 0; i < 3; i++) {
      assert.equal(await sessions.notebookIdentity(header, BOB), null);
      assert.equal((await sessions.notebookIdentity(header, ADA))?.userName, 'ada');
      assert.equal((await sessions.notebookIdentity(header, ADA))?.userName, 'ada');
    }
  });

  it('a code minted for one origin is refused (and burnt) on another', async () => {
    const { cookie } = await handoffTo(ADA, BOB);
    assert.equal(cookie, null);
  });

  it('a hub cookie is not a notebook session, and a notebook cookie not a hub session', async () => {
    const { sessions, cookie } = await handoffTo(ADA, ADA);
    const value = pair(cookie as string).split('=')[1] as string;
    assert.equal(await sessions.hubIdentity(`__Host-sifu-hub-session=${value}`), null);
    const hub = await sessions.signIn('ada', undefined);
    assert.equal(
      await sessions.notebookIdentity(`__Host-sifu-nb-session=${pair(hub.setCookie).split('=')[1]}`, ADA),
      null,
    );
  });

  it('reads only the prefixed name where cookies are Secure (an unprefixed one may be tossed)', async () => {
    const sessions = createSessionService(store, { secure: true, maxAgeSeconds: 600 });
    const hub = await sessions.signIn('ada', undefined);
    const id = pair(hub.setCookie).split('=')[1] as string;
    assert.equal((await sessions.hubIdentity(`__Host-sifu-hub-session=${id}`))?.identity.userName, 'ada');
    assert.equal(await sessions.hubIdentity(`sifu-hub-session=${id}`), null);
  });
});

describe('safeNext with per-user origins', () => {
  const ctx = { notebookOrigin: 'http://localhost:3335', userOrigins: true };
  const table: [string, string | null][] = [
    [`${ADA}/user/ada/tree`, `${ADA}/user/ada/tree`],
    [`${ADA}/user/bob/tree`, null],
    [`${BOB}/user/ada/tree`, null],
    ['http://localhost:3335/user/ada/tree', null],
    ['http://ada.localhost:3336/user/ada/tree', null],
    ['http://ada.localhost.evil.test:3335/user/ada/tree', null],
    ['http://x.ada.localhost:3335/user/ada/tree', null],
    ['/hub/home', '/hub/home'],
  ];
  for (const [next, expected] of table) {
    it(`${next} -> ${expected}`, () => assert.equal(safeNext(ctx, next), expected));
  }
  it('with a shared origin, /user/<anyone>/ on it', () => {
    const shared = { notebookOrigin: 'http://127.0.0.1:3335', userOrigins: false };
    assert.equal(safeNext(shared, 'http://127.0.0.1:3335/user/bob/'), 'http://127.0.0.1:3335/user/bob/');
    assert.equal(safeNext(shared, `${ADA}/user/ada/`), null);
  });
});
