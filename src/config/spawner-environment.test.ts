import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSifuError } from '../errors.js';
import { loadConfig } from './load.js';

test("spawner.environment adds variables from a file or SIFU_SPAWNER_ENVIRONMENT (JSON), none of Sifu's own", () => {
  assert.deepEqual(loadConfig().spawner.environment, {});
  const fromEnv = loadConfig({
    env: { SIFU_SPAWNER_ENVIRONMENT: '{"JUPYTERHUB_ACTIVITY_INTERVAL":"60","LANG":"C.UTF-8"}' },
  });
  assert.deepEqual(fromEnv.spawner.environment, { JUPYTERHUB_ACTIVITY_INTERVAL: '60', LANG: 'C.UTF-8' });
  const fromFile = loadConfig({
    overrides: { spawner: { environment: { PIP_INDEX_URL: 'https://pypi.example/simple' } } },
  });
  assert.equal(fromFile.spawner.environment.PIP_INDEX_URL, 'https://pypi.example/simple');

  for (const [environment, why] of [
    [{ JUPYTERHUB_API_TOKEN: 'x' }, /JUPYTERHUB_API_TOKEN is set by Sifu itself/],
    [{ JUPYTER_TOKEN: 'x' }, /set by Sifu itself/],
    [{ SIFU_SERVER_SOCKET: '/tmp/x' }, /set by Sifu itself/],
    [{ 'BAD NAME': 'x' }, /letters, digits and _/],
    [{ A: 1 }, /spawner\.environment/],
    ['not json', /spawner\.environment/],
  ] as const) {
    assert.throws(
      () => loadConfig({ overrides: { spawner: { environment } } }),
      (err) => isSifuError(err) && err.code === 'SIFU_ERR_CONFIG' && why.test(err.message),
      JSON.stringify(environment),
    );
  }
});
