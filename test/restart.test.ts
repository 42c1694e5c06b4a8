import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openStore } from '../src/store/open-store.js';
import { ADMIN_TOKEN, api, Client, freePort, removeDir, startSifuProcess, waitFor } from './support/sifu.js';

/** Running, and not a zombie waiting for a slow init to reap it. */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

const children: ChildProcess[] = [];
const pids: number[] = [];
/** The servers' cgroups, emptied by the kills below and then removed (Sifu is gone by then). */
const cgroupDirs: string[] = [];
let dataDir = '';
after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  // Each a local server's sandbox pid 1: killing it ends every process of the sandbox.
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const dir of cgroupDirs) {
    for (let i = 0; i < 50; i += 1) {
      const removed = await rmdir(dir).then(
        () => true,
        (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
      );
      if (removed) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  if (dataDir) await removeDir(dataDir);
});

test('SIGKILL of Sifu loses nothing: servers keep running, are re-adopted, none started twice', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sifu-restart-'));
  const notebookPort = await freePort();
  const env = {
    SIFU_DATA_DIR: dataDir,
    SIFU_HUB_PORT: String(await freePort()),
    SIFU_NOTEBOOK_PORT: String(notebookPort),
    // One shared origin on 127.0.0.1: Node's clients do not resolve the per-user *.localhost names.
    SIFU_NOTEBOOK_PUBLIC_URL: `http://127.0.0.1:${notebookPort}`,
    SIFU_ADMIN_TOKEN: ADMIN_TOKEN,
  };
  const sifu = {
    hubUrl: `http://127.0.0.1:${env.SIFU_HUB_PORT}`,
    notebookUrl: `http://127.0.0.1:${env.SIFU_NOTEBOOK_PORT}`,
  };
  const first = await startSifuProcess(env);
  children.push(first.child);

  const learners = ['ada', 'bob', 'cy'];
  const clients = new Map<string, Client>();
  for (const name of learners) {
    assert.equal((await api(sifu, `/users/${name}`, { method: 'POST', token: ADMIN_TOKEN })).status, 201);
    assert.ok(
      [201, 202].includes(
        (await api(sifu, `/users/${name}/server`, { method: 'POST', token: ADMIN_TOKEN })).status,
      ),
    );
  }
  const statePid = new Map<string, number>();
  for (const name of learners) {
    const user = await waitFor(
      `${name} ready`,
      async () => {
        const { body } = await api(sifu, `/users/${name}`, { token: ADMIN_TOKEN });
        return body.servers['']?.ready ? body : undefined;
      },
      90_000,
    );
    // The server is its sandbox: bwrap on the host is only its parent, which it outlives.
    const serverPid = user.servers[''].state.sandbox.pid;
    statePid.set(name, serverPid);
    pids.push(serverPid);
    cgroupDirs.push(...Object.values<string>(user.servers[''].state.cgroup?.dirs ?? {}));
    const client = new Client();
    await client.signIn(sifu, name);
    const contents = await client.request(`${sifu.notebookUrl}/user/${name}/api/contents`);
    assert.equal(contents.status, 200, `${name} before the restart`);
    clients.set(name, client);
  }

  first.child.kill('SIGKILL');
  await new Promise((resolve) => first.child.once('exit', resolve));
  for (const name of learners)
    assert.ok(alive(statePid.get(name) as number), `${name}'s server outlives Sifu`);
  // While Sifu is down, cy's server dies too: the restart must forget it, not route to it.
  process.kill(statePid.get('cy') as number, 'SIGKILL');
  await waitFor('cy gone', async () => !alive(statePid.get('cy') as number));

  const second = await startSifuProcess(env);
  children.push(second.child);
  // No wait after the health check: routes are restored before Sifu serves traffic.
  for (const name of ['ada', 'bob']) {
    const client = clients.get(name) as Client;
    const res = await client.request(`${sifu.notebookUrl}/user/${name}/api/contents`);
    assert.equal(res.status, 200, `${name}'s notebook works after the restart`);
    const { body } = await api(sifu, `/users/${name}`, { token: ADMIN_TOKEN });
    assert.equal(
      body.servers[''].state.sandbox.pid,
      statePid.get(name),
      `${name}'s server is the same process`,
    );
  }
  const cy = await (clients.get('cy') as Client).request(`${sifu.notebookUrl}/user/cy/tree`, {
    headers: { accept: 'text/html' },
  });
  assert.equal(cy.status, 302);
  assert.match(cy.headers.get('location') ?? '', /\/hub\/spawn\/cy/, 'a dead server leads to the spawn page');
  assert.deepEqual((await api(sifu, '/users/cy', { token: ADMIN_TOKEN })).body.servers, {});

  const store = await openStore(`sqlite:${join(dataDir, 'sifu.sqlite')}`);
  try {
    const starts = await store.listEvents({ type: 'server.start' });
    assert.equal(starts.length, 3, 'each server was started exactly once');
    const forgotten = await store.listEvents({ type: 'server.forgotten' });
    assert.deepEqual(
      forgotten.map((e) => e.userName),
      ['cy'],
    );
  } finally {
    await store.close();
  }

  for (const name of ['ada', 'bob']) {
    assert.equal(
      (await api(sifu, `/users/${name}/server`, { method: 'DELETE', token: ADMIN_TOKEN })).status,
      204,
    );
    assert.ok(!alive(statePid.get(name) as number), `${name}'s server is stopped`);
  }
  second.child.kill('SIGTERM');
});
