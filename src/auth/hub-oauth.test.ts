import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { isSifuError } from '../errors.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import {
  CODE_TTL_MS,
  clientIdOf,
  issueAccessToken,
  issueCode,
  redeemCode,
  serverTokenScopes,
  verifyAccessToken,
} from './hub-oauth.js';

let store: Store;
before(async () => {
  store = await openStore('sqlite::memory:');
  await store.migrate();
});
after(() => store.close());

const ada = { userName: 'ada', serverName: '' };
const adaLab = { userName: 'ada', serverName: 'lab' };
const callback = 'http://ada.localhost:3335/user/ada/oauth_callback';

async function refusedWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err) => isSifuError(err) && err.code === code);
}

test("a code is redeemed once, by its server's client, with its exact redirect URI, within its lifetime", async () => {
  const grant = (code: string, over: Record<string, unknown> = {}) => ({
    code,
    clientId: clientIdOf(ada),
    redirectUri: callback,
    ...over,
  });
  const code = await issueCode(store, ada, callback);
  assert.deepEqual(await redeemCode(store, grant(code)), ada);
  await refusedWith(redeemCode(store, grant(code)), 'SIFU_ERR_OAUTH_GRANT');

  for (const over of [
    { clientId: clientIdOf(adaLab) },
    { clientId: 'jupyterhub-user-bob' },
    { redirectUri: `${callback}/` },
    { redirectUri: undefined },
  ]) {
    const other = await issueCode(store, ada, callback);
    await refusedWith(redeemCode(store, grant(other, over)), 'SIFU_ERR_OAUTH_GRANT');
    // A failed try uses the code up.
    await refusedWith(redeemCode(store, grant(other)), 'SIFU_ERR_OAUTH_GRANT');
  }

  const old = await issueCode(store, ada, callback, Date.now() - CODE_TTL_MS - 1);
  await refusedWith(redeemCode(store, grant(old)), 'SIFU_ERR_OAUTH_GRANT');
  await refusedWith(redeemCode(store, grant('not a code')), 'SIFU_ERR_OAUTH_GRANT');
  await refusedWith(redeemCode(store, grant('A'.repeat(43))), 'SIFU_ERR_OAUTH_GRANT');
});

test('an access token holds for its server and start only, until it expires, and cannot be altered', () => {
  const secret = 'secret-of-this-start-0123456789abcdef';
  const token = issueAccessToken(ada, secret);
  assert.equal(verifyAccessToken(ada, secret, token), true);
  assert.ok(!token.includes(secret));
  assert.equal(verifyAccessToken(adaLab, secret, token), false);
  assert.equal(verifyAccessToken({ userName: 'bob', serverName: '' }, secret, token), false);
  assert.equal(verifyAccessToken(ada, 'the-next-start-has-another-secret', token), false);
  assert.equal(
    verifyAccessToken(ada, secret, issueAccessToken(ada, secret, Date.now() - 10_000, 5_000)),
    false,
  );
  const [prefix, payload, mac] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const forged = Buffer.from(JSON.stringify({ ...claims, u: 'bob' })).toString('base64url');
  assert.equal(
    verifyAccessToken({ userName: 'bob', serverName: '' }, secret, `${prefix}.${forged}.${mac}`),
    false,
  );
  assert.equal(verifyAccessToken(ada, secret, `${prefix}.${payload}.${mac.slice(1)}A`), false);
  assert.equal(verifyAccessToken(ada, secret, secret), false);
});

test("a server's token holds JupyterHub's server role for itself only", () => {
  assert.deepEqual(serverTokenScopes(adaLab), [
    'access:servers!server=ada/lab',
    'users:activity!user=ada',
    'read:users:name!user=ada',
  ]);
  assert.equal(clientIdOf(ada), 'jupyterhub-user-ada');
});
