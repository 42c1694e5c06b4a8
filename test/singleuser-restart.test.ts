/**
 * A single-user server's hub endpoint follows the server, across a restart of Sifu: listened on again for
 * the running server (its directory is still bound in its sandbox), answering with this start's token
 * only, and gone with the server.
 */
import assert from 'node:assert/strict';
import { mkdtemp, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hubDirOf } from '../src/api/server-hub.js';
import { ADMIN_TOKEN, api, startTestSifu, type TestSifu, waitFor } from './support/sifu.js';

const SINGLEUSER =
  'jupyterhub-singleuser --NotebookApp.sock=${SIFU_SERVER_SOCKET} --NotebookApp.notebook_dir=${SIFU_SERVER_ROOT} --NotebookApp.allow_origin=*';

function hubCall(socketPath: string, path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, headers: { authorization: `token ${token}` }, agent: false },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error('no answer')));
    req.on('error', reject);
    req.end();
  });
}

let second: TestSifu | undefined;
after(async () => {
  await second?.cleanup();
});

test("a server's hub endpoint is listened on again after Sifu restarts, and removed when the server stops", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sifu-su-restart-'));
  const options = {
    command: SINGLEUSER,
    dataDir,
    overrides: { spawner: { startTimeout: 90, local: { uidBase: 264000 } } },
  };
  const first = await startTestSifu(options);
  await api(first, '/users/ada', { method: 'POST', token: ADMIN_TOKEN });
  await api(first, '/users/ada/server', { method: 'POST', token: ADMIN_TOKEN });
  await waitFor('ada ready', async () => first.manager.route('ada', '') !== undefined, 90_000);
  const secret = (first.manager.route('ada', '') as { secret: string }).secret;
  const dir = hubDirOf(join(dataDir, 'run'), secret);
  const socket = join(dir, 'hub.sock');
  assert.equal((await hubCall(socket, '/hub/api/user', secret)).status, 200);
  // Sifu goes; the server stays, and so does its endpoint's directory, but nothing answers there.
  await first.stop();
  await assert.rejects(hubCall(socket, '/hub/api/user', secret));

  second = await startTestSifu(options);
  assert.ok(second.manager.route('ada', ''), 'ada re-adopted');
  const again = await waitFor(
    'the endpoint answering again',
    async () => {
      const answer = await hubCall(socket, '/hub/api/user', secret).catch(() => undefined);
      return answer?.status === 200 ? answer : undefined;
    },
    10_000,
  );
  assert.equal(JSON.parse(again.body).name, 'ada');
  const wrong = await hubCall(socket, '/hub/api/user', 'x'.repeat(43));
  assert.equal(wrong.status, 403);
  assert.equal(JSON.parse(wrong.body).code, 'SIFU_ERR_TOKEN_REFUSED');

  assert.equal(
    (await api(second, '/users/ada/server', { method: 'DELETE', token: ADMIN_TOKEN })).status,
    204,
  );
  await waitFor(
    'the endpoint removed',
    async () =>
      !(await stat(dir).then(
        () => true,
        () => false,
      )),
    10_000,
  );
  await assert.rejects(hubCall(socket, '/hub/api/user', secret));
});
