import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ADMIN_TOKEN, api, Client, removeDir, startTestSifu, waitFor } from './support/sifu.js';

test('two replicas on one store: a server started through one is served by the other, never started twice', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sifu-replicas-'));
  const fastSync = { spawner: { routeSyncInterval: 0.2 } };
  const a = await startTestSifu({ dataDir, overrides: fastSync });
  const b = await startTestSifu({ dataDir, overrides: fastSync });
  try {
    await api(a, '/users/ada', { method: 'POST', token: ADMIN_TOKEN });
    assert.equal((await api(a, '/users/ada/server', { method: 'POST', token: ADMIN_TOKEN })).status, 201);

    // The learner arrives through replica B, which never started anything.
    const ada = new Client();
    const { hops } = await ada.signIn(b, 'ada');
    assert.ok(hops.at(-1)?.startsWith(`${b.notebookUrl}/user/ada/`), hops.join(' -> '));
    const res = await ada.request(`${b.notebookUrl}/user/ada/api/contents/`);
    assert.equal(res.status, 200);
    assert.equal(
      b.manager.route('ada', '')?.target,
      a.manager.route('ada', '')?.target,
      'the same server, routed by both replicas',
    );
    assert.equal((await a.store.listEvents({ type: 'server.start' })).length, 1, 'started once');

    // Activity seen by B (flushed to the store) reaches A, whose culler would otherwise think ada idle.
    const before = a.manager.runningRoutes().find((r) => r.userName === 'ada')?.lastActivity ?? 0;
    await b.manager.flushActivity();
    await a.manager.syncRoutes();
    const after = a.manager.runningRoutes().find((r) => r.userName === 'ada')?.lastActivity ?? 0;
    assert.ok(after > before, 'A learns of the traffic B proxied');

    // A second learner started through A reaches B's route table without any visit to B.
    await api(a, '/users/bob', { method: 'POST', token: ADMIN_TOKEN });
    await api(a, '/users/bob/server', { method: 'POST', token: ADMIN_TOKEN });
    await waitFor('bob routed on B', async () => b.manager.route('bob', '') !== undefined, 10_000);
    // Stopped through B: A forgets the route too.
    assert.equal((await api(b, '/users/bob/server', { method: 'DELETE', token: ADMIN_TOKEN })).status, 204);
    await waitFor('bob forgotten on A', async () => a.manager.route('bob', '') === undefined, 10_000);

    // Asking B to start it again is answered as JupyterHub would for a running server.
    const again = await api(b, '/users/ada/server', { method: 'POST', token: ADMIN_TOKEN });
    assert.equal(again.status, 400);
    assert.equal(again.body.code, 'SIFU_ERR_SERVER_ALREADY_RUNNING');
  } finally {
    await b.manager.stop('ada', '').catch(() => {});
    await b.stop();
    await a.cleanup();
    await removeDir(dataDir);
  }
});
