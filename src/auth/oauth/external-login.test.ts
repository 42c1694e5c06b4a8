import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accountUrl, edxAuthorization } from './edx.js';
import { authorizationUrl, loginCookie } from './external-login.js';
import { chooseClientAuth } from './oidc.js';

test('the login cookie: HttpOnly, SameSite=Lax, callback path only, 10 minutes; Secure when asked', () => {
  assert.equal(
    loginCookie('abc', false),
    'sifu-oauth-login=abc; Path=/hub/oauth_callback; HttpOnly; SameSite=Lax; Max-Age=600',
  );
  assert.match(loginCookie('abc', true), /; Secure$/);
  assert.match(
    loginCookie(null, false),
    /^sifu-oauth-login=deleted; Path=\/hub\/oauth_callback;.*Max-Age=0$/,
  );
});

test('the authorization request carries code, client, redirect, scope, state, S256 challenge', () => {
  const url = authorizationUrl(
    {
      issuer: 'https://lms.example.org',
      authorization_endpoint: 'https://lms.example.org/oauth2/authorize/?x=1',
    },
    { client: { client_id: 'sifu' }, scope: 'profile email' },
    'https://hub.example.org/hub/oauth_callback',
    { state: 'st', codeChallenge: 'ch', nonce: null },
  );
  assert.equal(url.origin + url.pathname, 'https://lms.example.org/oauth2/authorize/');
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    x: '1',
    response_type: 'code',
    client_id: 'sifu',
    redirect_uri: 'https://hub.example.org/hub/oauth_callback',
    scope: 'profile email',
    state: 'st',
    code_challenge: 'ch',
    code_challenge_method: 'S256',
  });
  const withNonce = authorizationUrl(
    { issuer: 'https://id.example.org', authorization_endpoint: 'https://id.example.org/auth' },
    { client: { client_id: 'sifu' }, scope: 'openid' },
    'https://hub.example.org/hub/oauth_callback',
    { state: 'st', codeChallenge: 'ch', nonce: 'n0' },
  );
  assert.equal(withNonce.searchParams.get('nonce'), 'n0');
});

test('Open edX API header: `JWT <token>` for jwt, `Bearer <token>` for bearer', () => {
  assert.equal(edxAuthorization('jwt', 'tok'), 'JWT tok');
  assert.equal(edxAuthorization('bearer', 'tok'), 'Bearer tok');
});

test('the accounts URL gets the username path-encoded', () => {
  const template = 'https://lms.example.org/api/user/v1/accounts/{username}';
  assert.equal(accountUrl(template, 'ada'), 'https://lms.example.org/api/user/v1/accounts/ada');
  assert.equal(
    accountUrl(template, 'a/../b?c'),
    'https://lms.example.org/api/user/v1/accounts/a%2F..%2Fb%3Fc',
  );
});

test('OIDC client authentication: basic by default, post when only post is offered', () => {
  assert.equal(chooseClientAuth(undefined), 'basic');
  assert.equal(chooseClientAuth(['client_secret_basic', 'client_secret_post']), 'basic');
  assert.equal(chooseClientAuth(['client_secret_post']), 'post');
  assert.equal(chooseClientAuth(['private_key_jwt']), 'basic');
});
