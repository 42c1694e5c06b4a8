import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSifuError } from '../../errors.js';
import { type AdminAction, apiCallOf, serverNameOf, tokenIdOf } from './actions.js';

describe('admin actions as API calls', () => {
  const target = { user: 'ada', server: '', tokenId: 'tok-1' };
  const cases: Array<[AdminAction, Partial<typeof target>, string, string]> = [
    ['start', {}, 'POST', '/hub/api/users/ada/server'],
    ['stop', {}, 'DELETE', '/hub/api/users/ada/server'],
    ['start', { server: 'gpu' }, 'POST', '/hub/api/users/ada/servers/gpu'],
    ['stop', { server: 'gpu' }, 'DELETE', '/hub/api/users/ada/servers/gpu'],
    ['delete', { server: 'gpu' }, 'DELETE', '/hub/api/users/ada'],
    ['revoke', {}, 'DELETE', '/hub/api/users/ada/tokens/tok-1'],
  ];
  for (const [action, change, method, url] of cases) {
    it(`${action} ${JSON.stringify(change)} is ${method} ${url}`, () => {
      assert.deepEqual(apiCallOf(action, { ...target, ...change }), { method, url });
    });
  }

  it('takes only server names and token ids that can exist', () => {
    assert.equal(serverNameOf(undefined), '');
    assert.equal(serverNameOf('gpu-1'), 'gpu-1');
    for (const bad of ['../x', 'a/b', 'GPU', ['a'], 7, 'x'.repeat(65)]) {
      assert.throws(
        () => serverNameOf(bad),
        (err) => isSifuError(err) && err.code === 'SIFU_ERR_INVALID_SERVER_NAME',
      );
    }
    assert.equal(tokenIdOf('7d7dece6-29ff'), '7d7dece6-29ff');
    for (const bad of ['<x>', '', 'a/b', undefined]) {
      assert.throws(
        () => tokenIdOf(bad),
        (err) => isSifuError(err) && err.code === 'SIFU_ERR_TOKEN_NOT_FOUND',
      );
    }
  });
});
