import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as oauth from 'oauth4webapi';
import { SifuError } from '../../errors.js';
import { authorizationError, platformError } from './failures.js';

const as: oauth.AuthorizationServer = {
  issuer: 'https://lms.example.org',
  token_endpoint: 'https://lms.example.org/oauth2/access_token/',
};
const client: oauth.Client = { client_id: 'sifu' };

/** The error oauth4webapi itself throws for a token endpoint answer. */
async function tokenFailure(status: number, body: string, type = 'application/json'): Promise<unknown> {
  const response = new Response(body, { status, headers: { 'content-type': type } });
  return oauth.processAuthorizationCodeResponse(as, client, response).then(
    () => assert.fail('expected a rejection'),
    (err: unknown) => err,
  );
}

function fetchFailure(code: string): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
}

test('token endpoint answers map to stable codes, the reason kept for the log', async () => {
  const cases: Array<[string, unknown, string, RegExp]> = [
    [
      'invalid_grant',
      await tokenFailure(400, '{"error":"invalid_grant"}'),
      'SIFU_ERR_OAUTH_FAILED',
      /invalid_grant \(HTTP 400\)/,
    ],
    [
      'invalid_client',
      await tokenFailure(401, '{"error":"invalid_client"}'),
      'SIFU_ERR_OAUTH_FAILED',
      /invalid_client/,
    ],
    [
      'a 503 page',
      await tokenFailure(503, '<html>busy</html>', 'text/html'),
      'SIFU_ERR_OAUTH_PROVIDER_DOWN',
      /HTTP 503/,
    ],
    [
      'a 500 page',
      await tokenFailure(500, '<html>oops</html>', 'text/html'),
      'SIFU_ERR_OAUTH_FAILED',
      /HTTP 500/,
    ],
    ['refused connection', fetchFailure('ECONNREFUSED'), 'SIFU_ERR_OAUTH_PROVIDER_DOWN', /ECONNREFUSED/],
    ['timeout', new DOMException('timed out', 'TimeoutError'), 'SIFU_ERR_OAUTH_PROVIDER_DOWN', /timeout/],
    ['anything else', new Error('surprise'), 'SIFU_ERR_OAUTH_FAILED', /surprise/],
  ];
  for (const [name, err, code, detail] of cases) {
    const mapped = platformError(err, 'token endpoint');
    assert.equal(mapped.code, code, name);
    assert.match(mapped.logDetail ?? '', /^token endpoint: /, name);
    assert.match(mapped.logDetail ?? '', detail, name);
    assert.doesNotMatch(mapped.message, /invalid_|HTTP|ECONN/, `${name}: no internals shown to the learner`);
  }
});

test('a SifuError passes through unchanged', () => {
  const original = new SifuError('SIFU_ERR_INVALID_USERNAME', 'bad name');
  assert.equal(platformError(original, 'x'), original);
});

test('errors sent back to the callback: access_denied is a refusal, others failures', () => {
  const callbackError = (query: string) => {
    try {
      oauth.validateAuthResponse(as, client, new URLSearchParams(`${query}&state=s`), 's');
    } catch (err) {
      if (err instanceof oauth.AuthorizationResponseError) return authorizationError(err);
    }
    return assert.fail('expected an AuthorizationResponseError');
  };
  assert.equal(callbackError('error=access_denied').code, 'SIFU_ERR_OAUTH_DENIED');
  assert.equal(callbackError('error=temporarily_unavailable').code, 'SIFU_ERR_OAUTH_PROVIDER_DOWN');
  const other = callbackError('error=invalid_scope&error_description=nope');
  assert.equal(other.code, 'SIFU_ERR_OAUTH_FAILED');
  assert.equal(other.logDetail, 'authorization: invalid_scope: nope');
});
