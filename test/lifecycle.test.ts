import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ADMIN_TOKEN, api, Client, FAKE_SERVER, startTestSifu, waitFor } from './support/sifu.js';

describe('server lifecycle', () => {
  test('an idle server is culled; its files stay; an active one is kept', async () => {
    const sifu = await startTestSifu({
      command: `${FAKE_SERVER} fast`,
      // Proxy activity is recorded at most once a second per route, so the timeout leaves room above that.
      overrides: { culler: { enabled: true, idleTimeout: 2, interval: 0.3 } },
    });
    try {
      for (const name of ['idle', 'busy']) {
        await api(sifu, `/users/${name}`, { method: 'POST', token: ADMIN_TOKEN });
        assert.equal(
          (await api(sifu, `/users/${name}/server`, { method: 'POST', token: ADMIN_TOKEN })).status,
          201,
        );
      }
      await writeFile(join(sifu.dataDir, 'homes/idle/work.py'), 'print("mine")\n');
      const busy = new Client();
      await busy.signIn(sifu, 'busy');
      // Keep `busy` active through the proxy while `idle` sits still past the timeout.
      const until = Date.now() + 3500;
      while (Date.now() < until) {
        assert.equal((await busy.request(`${sifu.notebookUrl}/user/busy/api/contents/`)).status, 200);
        await new Promise((r) => setTimeout(r, 200));
      }
      await waitFor('idle culled', async () => sifu.manager.route('idle', '') === undefined);
      assert.ok(sifu.manager.route('busy', ''), 'the active server is kept');
      assert.ok(existsSync(join(sifu.dataDir, 'homes/idle/work.py')), 'culling never touches files');
      const events = await sifu.store.listEvents({ type: 'server.stop', userName: 'idle' });
      assert.equal(events[0]?.data.reason, 'idle');
    } finally {
      await sifu.cleanup();
    }
  });

  test('a stop the backend fails leaves the server running and reachable, and can be asked again', async () => {
    let failures = 1;
    const sifu = await startTestSifu({
      command: `${FAKE_SERVER} fast`,
      wrapSpawner: (inner) => ({
        ...inner,
        start: (request, context) => inner.start(request, context),
        poll: (state) => inner.poll(state),
        stop: async (state, options) => {
          if (failures-- > 0) throw new Error('the engine did not answer');
          return inner.stop(state, options);
        },
      }),
    });
    try {
      await api(sifu, '/users/flo', { method: 'POST', token: ADMIN_TOKEN });
      assert.equal(
        (await api(sifu, '/users/flo/server', { method: 'POST', token: ADMIN_TOKEN })).status,
        201,
      );
      const failed = await api(sifu, '/users/flo/server', { method: 'DELETE', token: ADMIN_TOKEN });
      assert.equal(failed.status, 500);
      // Not locked out: still routed and running in the store, so the learner keeps working.
      assert.ok(sifu.manager.route('flo', ''), 'still routed');
      assert.equal((await sifu.store.getServer('flo', ''))?.status, 'running');
      const flo = new Client();
      await flo.signIn(sifu, 'flo');
      assert.equal((await flo.request(`${sifu.notebookUrl}/user/flo/api/contents/`)).status, 200);
      // Asked again, it stops; a new start then works.
      assert.equal(
        (await api(sifu, '/users/flo/server', { method: 'DELETE', token: ADMIN_TOKEN })).status,
        204,
      );
      assert.equal(sifu.manager.route('flo', ''), undefined);
      assert.equal(
        (await api(sifu, '/users/flo/server', { method: 'POST', token: ADMIN_TOKEN })).status,
        201,
      );
    } finally {
      await sifu.cleanup();
    }
  });

  test('Sifu starts while the backend cannot be polled, keeping running servers routed', async () => {
    const first = await startTestSifu({ command: `${FAKE_SERVER} fast` });
    await api(first, '/users/gus', { method: 'POST', token: ADMIN_TOKEN });
    assert.equal((await api(first, '/users/gus/server', { method: 'POST', token: ADMIN_TOKEN })).status, 201);
    // Sifu stops; gus's server keeps running (as on any restart).
    await first.stop();
    let engineDown = true;
    // Should this start fail, a plain Sifu on the same data stops gus's server, so nothing outlives the test.
    const cleanUpAfterFailedStart = () =>
      startTestSifu({ command: `${FAKE_SERVER} fast`, dataDir: first.dataDir }).then((plain) =>
        plain.cleanup(),
      );
    const second = await startTestSifu({
      command: `${FAKE_SERVER} fast`,
      dataDir: first.dataDir,
      wrapSpawner: (inner) => ({
        ...inner,
        start: (request, context) => inner.start(request, context),
        stop: (state, options) => inner.stop(state, options),
        poll: async (state) => {
          if (engineDown) throw new Error('the engine did not answer');
          return inner.poll(state);
        },
        list: async () => {
          if (engineDown) throw new Error('the engine did not answer');
          return (await inner.list?.()) ?? [];
        },
      }),
    }).catch(async (err) => {
      await cleanUpAfterFailedStart();
      throw err;
    });
    try {
      assert.ok(second.manager.route('gus', ''), 'routed although its poll failed');
      engineDown = false;
      assert.deepEqual(await second.manager.checkRunning(), [], 'and still running once the backend answers');
      const gus = new Client();
      await gus.signIn(second, 'gus');
      assert.equal((await gus.request(`${second.notebookUrl}/user/gus/api/contents/`)).status, 200);
    } finally {
      await second.cleanup();
    }
  });

  test('a server that crashes while running is noticed; the next visit gets the spawn page', async () => {
    const sifu = await startTestSifu({ command: `${FAKE_SERVER} crash-while-running` });
    try {
      const ada = new Client();
      await ada.signIn(sifu, 'ada');
      await sifu.manager.progress('ada', '')?.done;
      await ada.follow(`${sifu.hubUrl}/hub/spawn/ada`);
      assert.ok(sifu.manager.route('ada', ''));
      assert.equal((await ada.request(`${sifu.notebookUrl}/user/ada/crash`)).status, 200);
      // No poll runs in this test (the interval is 30 s): the refused connection itself reports the death.
      const refused = await ada.request(`${sifu.notebookUrl}/user/ada/api/contents/`);
      assert.ok([502, 503].includes(refused.status), `status ${refused.status}`);
      await waitFor('crash noticed', async () => sifu.manager.route('ada', '') === undefined);
      const next = await ada.request(`${sifu.notebookUrl}/user/ada/tree`, {
        headers: { accept: 'text/html' },
      });
      assert.equal(next.status, 302);
      assert.match(next.headers.get('location') ?? '', /\/hub\/spawn\/ada/);
      const died = await sifu.store.listEvents({ type: 'server.died', userName: 'ada' });
      assert.match(String(died[0]?.data.reason), /7/);
    } finally {
      await sifu.cleanup();
    }
  });

  test('concurrent starts of one server start it once', async () => {
    const sifu = await startTestSifu({ command: `${FAKE_SERVER} fast` });
    try {
      await api(sifu, '/users/ada', { method: 'POST', token: ADMIN_TOKEN });
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          api(sifu, '/users/ada/server', { method: 'POST', token: ADMIN_TOKEN }),
        ),
      );
      const codes = results.map((r) => r.status).sort();
      assert.equal(codes.filter((c) => c === 201 || c === 202).length, 1, `statuses: ${codes.join(',')}`);
      for (const r of results.filter((x) => x.status === 400)) {
        assert.ok(['SIFU_ERR_SERVER_PENDING', 'SIFU_ERR_SERVER_ALREADY_RUNNING'].includes(r.body.code));
      }
      assert.equal((await sifu.store.listEvents({ type: 'server.start' })).length, 1);
    } finally {
      await sifu.cleanup();
    }
  });

  test("a Sifu booting beside another of its host leaves that one's start in flight; a start a crash left is forgotten once no start can be that old", async () => {
    // Two processes of one host on one store, as two workers of `sifu serve` are: the second boots
    // while the first is starting gus's server (the fake server answers after a second).
    const first = await startTestSifu({ command: `${FAKE_SERVER} slow` });
    let second: Awaited<ReturnType<typeof startTestSifu>> | undefined;
    try {
      await api(first, '/users/gus', { method: 'POST', token: ADMIN_TOKEN });
      await first.manager.start('gus', '');
      assert.equal((await first.store.getServer('gus', ''))?.status, 'pending');
      second = await startTestSifu({ command: `${FAKE_SERVER} slow`, dataDir: first.dataDir });
      const other = second;
      assert.ok(await first.store.getServer('gus', ''), "the booting Sifu left the other's start its row");
      await waitFor(
        'the start to finish',
        async () => (await first.store.getServer('gus', ''))?.status === 'running',
      );
      await waitFor('the second Sifu to route it', async () => {
        await other.manager.syncRoutes();
        return other.manager.route('gus', '') !== undefined;
      });
      const gus = new Client();
      await gus.signIn(other, 'gus');
      assert.equal((await gus.request(`${other.notebookUrl}/user/gus/api/contents/`)).status, 200);
      assert.equal((await first.store.listEvents({ type: 'server.forgotten' })).length, 0);

      // A start a crash cut short: its row is pending and nothing is starting it.
      await api(first, '/users/ida', { method: 'POST', token: ADMIN_TOKEN });
      const hour = 3_600_000;
      const running = await first.store.getServer('gus', '');
      assert.ok(running);
      const crashed = {
        ...running,
        userName: 'ida',
        status: 'pending' as const,
        state: {},
        url: null,
        secret: 'ida-secret-of-a-crashed-start-0123456789',
        startedAt: new Date(Date.now() - hour),
      };
      assert.equal(await first.store.claimServer(crashed), true);
      const now = Date.now();
      assert.equal(await first.manager.forgetStalePending(now), 0, 'not at first sight: it may be a stop');
      assert.ok(await first.store.getServer('ida', ''));
      // Pending for longer than a start may take (60 s here) and its clean-up, as seen from this process.
      assert.equal(await first.manager.forgetStalePending(now + 91_000), 1);
      assert.equal(await first.store.getServer('ida', ''), null);
      const forgotten = await first.store.listEvents({ type: 'server.forgotten' });
      assert.deepEqual(
        forgotten.map((e) => e.userName),
        ['ida'],
      );
      // gus's server, running, is not touched by either pass.
      assert.equal((await first.store.getServer('gus', ''))?.status, 'running');
    } finally {
      await second?.cleanup();
      await first.cleanup();
    }
  });

  test('the dev authenticator refuses a non-loopback address unless allowed', async () => {
    await assert.rejects(
      startTestSifu({ overrides: { hub: { host: '0.0.0.0' } } }),
      (err: Error & { code?: string }) => err.code === 'SIFU_ERR_DEV_AUTH_NOT_LOOPBACK',
    );
  });
});
