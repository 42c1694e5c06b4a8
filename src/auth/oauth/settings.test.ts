import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../config/load.js';
import { resolveOAuthSettings } from './settings.js';

const edx = (values: Record<string, unknown>, more: Record<string, unknown> = {}) =>
  loadConfig({ overrides: { authenticator: 'edx', auth: { edx: values }, ...more } });
const oidc = (values: Record<string, unknown>) =>
  loadConfig({ overrides: { authenticator: 'oidc', auth: { oidc: values } } });
const client = { clientId: 'sifu', clientSecret: 's3cret' };

test('the dev authenticator needs no platform settings', () => {
  assert.equal(resolveOAuthSettings(loadConfig()), null);
});

test('edx endpoints default from lmsUrl (a trailing slash is ignored); explicit ones win', () => {
  const settings = resolveOAuthSettings(edx({ lmsUrl: 'https://lms.example.org/', ...client }));
  assert.deepEqual(settings, {
    mode: 'edx',
    lmsUrl: 'https://lms.example.org',
    authorizeUrl: 'https://lms.example.org/oauth2/authorize/',
    tokenUrl: 'https://lms.example.org/oauth2/access_token/',
    meUrl: 'https://lms.example.org/api/user/v1/me',
    accountsUrl: 'https://lms.example.org/api/user/v1/accounts/{username}',
    clientId: 'sifu',
    clientSecret: 's3cret',
    tokenType: 'jwt',
    scope: 'profile email',
    timeoutMs: 10_000,
    allowHttp: false,
  });
  const custom = resolveOAuthSettings(
    edx({ lmsUrl: 'https://lms.example.org', tokenUrl: 'https://auth.example.org/token', ...client }),
  );
  assert.equal(custom?.mode === 'edx' && custom.tokenUrl, 'https://auth.example.org/token');
});

test('client id and secret come from SIFU_AUTH_EDX_CLIENT_ID / _SECRET', () => {
  const config = loadConfig({
    env: {
      SIFU_AUTHENTICATOR: 'edx',
      SIFU_AUTH_EDX_LMS_URL: 'https://lms.example.org',
      SIFU_AUTH_EDX_CLIENT_ID: 'from-env',
      SIFU_AUTH_EDX_CLIENT_SECRET: 'secret-from-env',
      SIFU_AUTH_EDX_TOKEN_TYPE: 'bearer',
    },
  });
  const settings = resolveOAuthSettings(config);
  assert.equal(settings?.clientId, 'from-env');
  assert.equal(settings?.clientSecret, 'secret-from-env');
  assert.equal(settings?.mode === 'edx' && settings.tokenType, 'bearer');
});

test('plain http only on a loopback host', () => {
  const local = resolveOAuthSettings(edx({ lmsUrl: 'http://127.0.0.1:18000', ...client }));
  assert.equal(local?.allowHttp, true);
  assert.equal(resolveOAuthSettings(edx({ lmsUrl: 'http://localhost:18000', ...client }))?.allowHttp, true);
});

const refused: Array<[string, () => unknown, RegExp]> = [
  ['no lmsUrl', () => edx(client), /`auth\.edx\.lmsUrl` is required when `authenticator` is `edx`/],
  [
    'no clientId',
    () => edx({ lmsUrl: 'https://lms.example.org', clientSecret: 's' }),
    /`auth\.edx\.clientId`/,
  ],
  [
    'no clientSecret',
    () => edx({ lmsUrl: 'https://lms.example.org', clientId: 'i' }),
    /`auth\.edx\.clientSecret`/,
  ],
  [
    'http on a public host',
    () => edx({ lmsUrl: 'http://lms.example.org', ...client }),
    /`auth\.edx\.lmsUrl` must be an https URL/,
  ],
  [
    'an http endpoint on a public host',
    () => edx({ lmsUrl: 'https://lms.example.org', meUrl: 'http://lms.example.org/me', ...client }),
    /`auth\.edx\.meUrl` must be an https URL/,
  ],
  [
    'not a URL',
    () => edx({ lmsUrl: 'lms.example.org', ...client }),
    /`auth\.edx\.lmsUrl` must be an absolute/,
  ],
  [
    'credentials in a URL',
    () => edx({ lmsUrl: 'https://user:pw@lms.example.org', ...client }),
    /`auth\.edx\.lmsUrl` must not contain credentials/,
  ],
  [
    'accounts URL without {username}',
    () => edx({ lmsUrl: 'https://lms.example.org', accountsUrl: 'https://lms.example.org/a', ...client }),
    /`auth\.edx\.accountsUrl` must contain `\{username\}`/,
  ],
  ['no issuer', () => oidc(client), /`auth\.oidc\.issuer` is required when `authenticator` is `oidc`/],
  [
    'oidc without a secret',
    () => oidc({ issuer: 'https://id.example.org', clientId: 'i' }),
    /`auth\.oidc\.clientSecret`/,
  ],
];
for (const [name, config, message] of refused) {
  test(`refused at start, naming the option: ${name}`, () => {
    assert.throws(
      () => resolveOAuthSettings(config() as ReturnType<typeof loadConfig>),
      (err: Error & { code?: string }) => err.code === 'SIFU_ERR_CONFIG' && message.test(err.message),
    );
  });
}

test('a refusal never echoes the secret', () => {
  assert.throws(
    () =>
      resolveOAuthSettings(
        edx({ lmsUrl: 'http://lms.example.org', clientId: 'i', clientSecret: 'TOPSECRET' }),
      ),
    (err: Error) => !err.message.includes('TOPSECRET'),
  );
});

test('oidc always asks for the openid scope; the username claim defaults to preferred_username', () => {
  const settings = resolveOAuthSettings(
    oidc({ issuer: 'https://id.example.org', scope: 'profile', ...client }),
  );
  assert.equal(settings?.scope, 'profile openid');
  assert.equal(settings?.mode === 'oidc' && settings.usernameClaim, 'preferred_username');
  const defaults = resolveOAuthSettings(oidc({ issuer: 'https://id.example.org', ...client }));
  assert.equal(defaults?.scope, 'openid profile email');
});
