/**
 * Issue 9, finding 1, replayed from INSIDE a learner's kernel on the `local` backend: real Jupyter
 * (the default command), two learners, and alice's code trying every escape the review found. Each
 * check returned the prize before the sandbox (servers ran as Sifu's user, root, on the host's network
 * and /proc): Sifu's admin token from its environ, bob's token and files, sifu.sqlite, the hub and store
 * ports, and a `setsid` process that outlived stopping her server.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { hostHeaderOf, httpAddressOf } from '../src/routes.js';
import { ADMIN_TOKEN, api, JUPYTER, startTestSifu, type TestSifu, waitFor } from './support/sifu.js';

const PIDS_LIMIT = 96;
const MEM_LIMIT_MB = 384;

let sifu: TestSifu;
/** Stand-ins for PostgreSQL and the metadata address: TCP listeners of the host, on loopback. */
const listeners: Server[] = [];
let postgresPort = 0;
let metadataPort = 0;
const BOB_MARKER = `bob-private-${randomUUID()}`;
const UID_BASE = 233_000;

before(async () => {
  sifu = await startTestSifu({
    command: JUPYTER,
    overrides: {
      spawner: {
        startTimeout: 90,
        // A uid range of this test's own: a process another test (or an interrupted run) left under the
        // default range's uids must not pass for alice's in the no-survivor check.
        local: {
          pidsLimit: PIDS_LIMIT,
          memLimit: `${MEM_LIMIT_MB}M`,
          readOnlyPaths: [],
          uidBase: UID_BASE,
          uidCount: 100,
        },
      },
    },
  });
  postgresPort = await listen();
  metadataPort = await listen();
  for (const user of ['alice', 'bob']) {
    assert.equal((await api(sifu, `/users/${user}`, { method: 'POST', token: ADMIN_TOKEN })).status, 201);
  }
  await Promise.all(['alice', 'bob'].map((user) => startServer(user)));
  await writeFile(join(sifu.dataDir, 'homes', 'bob', 'secret.txt'), BOB_MARKER);
});

after(async () => {
  for (const listener of listeners) listener.close();
  await sifu?.cleanup();
});

describe("from inside alice's kernel (local backend)", () => {
  it("cannot see Sifu's process or environment", async () => {
    // Sifu's environment holds its secrets (SIFU_ADMIN_TOKEN, the database URL): the read must fail,
    // whatever this test process's environment holds.
    const out = await inKernel(
      'alice',
      `
try:
    data = open('/proc/${process.pid}/environ', 'rb').read()
    print('READ', ${JSON.stringify(ADMIN_TOKEN)}.encode() in data)
except OSError as e:
    print('REFUSED', type(e).__name__)
`,
    );
    assert.match(out, /^REFUSED/, out);
  });

  it('sees no process but her own server (and its sandbox init)', async () => {
    const out = await inKernel(
      'alice',
      `
import os, json
mine = os.getuid()
others = []
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        status = open(f'/proc/{pid}/status').read()
    except OSError:
        continue
    uid = int(status.split('Uid:')[1].split()[0])
    name = status.split('Name:')[1].split()[0]
    if uid != mine:
        others.append([int(pid), uid, name])
print(json.dumps(others))
`,
    );
    const others = JSON.parse(out) as Array<[number, number, string]>;
    // bwrap's init, pid 1 of her own namespace, is the one process that is not hers.
    assert.deepEqual(others, [[1, 0, 'bwrap']], `visible: ${out}`);
  });

  it('a plain Jupyter server has no hub endpoint: no JUPYTERHUB_* variables, no forwarder, no hub socket', async () => {
    const out = await inKernel(
      'alice',
      `
import os, json
cmdlines = []
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        cmdlines.append(open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode())
    except OSError:
        pass
print(json.dumps({
    'env': sorted(k for k in os.environ if k.startswith('JUPYTERHUB_')),
    'forwarder': any('hub-forward' in c for c in cmdlines),
    'hubDir': os.path.exists('/run/sifu-hub'),
}))
`,
    );
    assert.deepEqual(JSON.parse(out), { env: [], forwarder: false, hubDir: false }, out);
  });

  it("cannot read bob's home, token or socket", async () => {
    const bobRoute = sifu.manager.route('bob', '');
    assert.ok(bobRoute);
    const bobSocket = httpAddressOf(bobRoute.target) as { socketPath: string };
    const out = await inKernel(
      'alice',
      `
import os, json, socket
found = {}
for path in [${JSON.stringify(join(sifu.dataDir, 'homes', 'bob', 'secret.txt'))}, '/home/bob/secret.txt']:
    try:
        found[path] = ${JSON.stringify(BOB_MARKER)} in open(path).read()
    except OSError as e:
        found[path] = type(e).__name__
token = False
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        token = token or ${JSON.stringify(bobRoute.secret)}.encode() in open(f'/proc/{pid}/environ', 'rb').read()
    except OSError:
        pass
found['token'] = token
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(${JSON.stringify(bobSocket.socketPath)})
    found['socket'] = 'CONNECTED'
except OSError as e:
    found['socket'] = type(e).__name__
print(json.dumps(found))
`,
    );
    const found = JSON.parse(out) as Record<string, unknown>;
    for (const [what, result] of Object.entries(found)) {
      assert.ok(result !== true && result !== 'CONNECTED', `${what}: ${String(result)}`);
    }
  });

  it("cannot read Sifu's data dir (sifu.sqlite)", async () => {
    const out = await inKernel(
      'alice',
      `
for path in [${JSON.stringify(join(sifu.dataDir, 'sifu.sqlite'))}, ${JSON.stringify(sifu.dataDir)}]:
    try:
        open(path, 'rb').read(16) if path.endswith('.sqlite') else __import__('os').listdir(path)
        print('READ', path)
    except OSError as e:
        print('REFUSED', type(e).__name__)
`,
    );
    assert.doesNotMatch(out, /READ/, out);
  });

  it('reaches neither the hub, the notebook port, the store nor the metadata stand-in', async () => {
    const ports = {
      hub: Number(new URL(sifu.hubUrl).port),
      notebook: Number(new URL(sifu.notebookUrl).port),
      postgres: postgresPort,
      metadata: metadataPort,
    };
    const out = await inKernel(
      'alice',
      `
import socket, json
result = {}
for name, port in ${JSON.stringify(Object.entries(ports))}:
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect(('127.0.0.1', port))
        result[name] = 'CONNECTED'
    except OSError as e:
        result[name] = type(e).__name__
    finally:
        s.close()
print(json.dumps(result))
`,
    );
    let result: Record<string, string> = {};
    try {
      result = JSON.parse(out) as Record<string, string>;
    } catch {
      assert.fail(`the kernel printed no result: ${out.slice(0, 2_000)}`);
    }
    assert.deepEqual(Object.keys(result).sort(), Object.keys(ports).sort(), out);
    for (const [name, outcome] of Object.entries(result)) assert.notEqual(outcome, 'CONNECTED', name);
  });

  it("runs as a uid of her own, neither root nor bob's, and writes nowhere but her home", async () => {
    const bobUid = (await stat(join(sifu.dataDir, 'homes', 'bob'))).uid;
    const aliceUid = (await stat(join(sifu.dataDir, 'homes', 'alice'))).uid;
    const out = await inKernel(
      'alice',
      `
import os, json
result = {'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups()}
for path in ['/usr/sifu-escape', '/etc/sifu-escape', '/home/sifu-escape', os.path.expanduser('~/mine.txt')]:
    try:
        open(path, 'w').write('x')
        result[path] = 'WROTE'
    except OSError as e:
        result[path] = type(e).__name__
print(json.dumps(result))
`,
    );
    const result = JSON.parse(out) as Record<string, unknown>;
    assert.equal(result.uid, aliceUid, 'the uid that owns her home');
    assert.notEqual(result.uid, 0);
    assert.notEqual(result.uid, bobUid);
    assert.deepEqual(result.groups, []);
    assert.notEqual(result['/usr/sifu-escape'], 'WROTE');
    assert.notEqual(result['/etc/sifu-escape'], 'WROTE');
    assert.notEqual(result['/home/sifu-escape'], 'WROTE');
    assert.equal(result['/home/alice/mine.txt'], 'WROTE', 'her home is hers');
  });

  it("hits her pids limit with a fork bomb, and bob's server keeps answering", async () => {
    const out = await inKernel(
      'alice',
      `
import os, signal, time
children = []
try:
    for i in range(${PIDS_LIMIT * 4}):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
    print('FORKED', len(children))
except OSError as e:
    print('LIMITED', len(children), type(e).__name__)
finally:
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    for pid in children:
        os.waitpid(pid, 0)
`,
    );
    const match = /^LIMITED (\d+) BlockingIOError/.exec(out);
    assert.ok(match, out);
    assert.ok(Number(match[1]) < PIDS_LIMIT, out);
    assert.equal((await serverApi('bob')).status, 200, "bob's server is unaffected");
  });

  it("hits her memory limit with a memory hog, and bob's server keeps answering", async () => {
    const out = await inKernel(
      'alice',
      `
import subprocess, sys
hog = "b = bytearray(${MEM_LIMIT_MB * 2} * 2**20)\\nfor i in range(0, len(b), 4096): b[i] = 1\\nprint('ALLOCATED')"
done = subprocess.run([sys.executable, '-c', hog], capture_output=True, text=True, timeout=60)
print('EXIT', done.returncode, done.stdout.strip())
`,
    );
    assert.match(out, /^EXIT -9\b/m, `the hog was killed by the OOM killer: ${out}`);
    assert.equal((await serverApi('bob')).status, 200, "bob's server is unaffected");
  });

  // Last: it stops alice's server.
  it('leaves no process of hers behind when her server is stopped, setsid and double-forked ones included', async () => {
    const aliceUid = (await stat(join(sifu.dataDir, 'homes', 'alice'))).uid;
    const out = await inKernel(
      'alice',
      `
import os, subprocess, time
subprocess.Popen(['setsid', 'sleep', '1000'], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1000)
    os._exit(0)
time.sleep(0.5)
print('STARTED')
`,
    );
    assert.match(out, /STARTED/);
    const before = await processesOfUid(aliceUid);
    assert.ok(
      before.some((p) => p.name === 'sleep'),
      `her sleepers run: ${JSON.stringify(before)}`,
    );

    const stop = await api(sifu, '/users/alice/server', { method: 'DELETE', token: ADMIN_TOKEN });
    assert.ok([202, 204].includes(stop.status), JSON.stringify(stop));
    await waitFor('her route to go', async () => sifu.manager.route('alice', '') === undefined);
    await waitFor(
      'her processes to end',
      async () => (await processesOfUid(aliceUid)).length === 0,
      10_000,
    ).catch(() => {});
    assert.deepEqual(await processesOfUid(aliceUid), [], 'no process of alice survives');
    assert.equal((await serverApi('bob')).status, 200, "bob's server is unaffected");
  });
});

async function listen(): Promise<number> {
  const server = createServer((socket) => socket.end('hello\n'));
  listeners.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function startServer(user: string): Promise<void> {
  const start = await api(sifu, `/users/${user}/server`, { method: 'POST', token: ADMIN_TOKEN });
  assert.ok([201, 202].includes(start.status), JSON.stringify(start));
  const progress = sifu.manager.progress(user, '');
  await progress?.done;
  assert.ok(sifu.manager.route(user, ''), `${user}'s server is ready: ${progress?.error?.logDetail ?? ''}`);
}

/** A request straight to a learner's server on its socket, as the proxy makes it. */
async function serverApi(
  user: string,
  path = 'api',
  method = 'GET',
): Promise<{ status: number; body: string }> {
  const route = sifu.manager.route(user, '');
  assert.ok(route, `${user} has a running server`);
  const address = httpAddressOf(route.target);
  assert.ok(address);
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...address,
        method,
        path: `/user/${user}/${path}`,
        headers: { host: hostHeaderOf(route.target), authorization: `token ${route.secret}` },
        timeout: 20_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.on('error', reject);
    req.end();
  });
}

const kernels = new Map<string, string>();

/** Runs `code` in the user's kernel (one per user, made on first use) and returns what it printed. */
async function inKernel(user: string, code: string): Promise<string> {
  let kernel = kernels.get(user);
  if (!kernel) {
    const created = await serverApi(user, 'api/kernels', 'POST');
    assert.equal(created.status, 201, created.body);
    kernel = (JSON.parse(created.body) as { id: string }).id;
    kernels.set(user, kernel);
  }
  const route = sifu.manager.route(user, '');
  assert.ok(route);
  const address = httpAddressOf(route.target);
  const path = `/user/${user}/api/kernels/${kernel}/channels`;
  // A unix socket, or (a server from before them) a loopback port.
  const url =
    address && 'socketPath' in address
      ? `ws+unix://${address.socketPath}:${path}`
      : `${route.target.replace(/^http/, 'ws')}${path}`;
  const ws = new WebSocket(url, {
    headers: { authorization: `token ${route.secret}`, host: 'localhost' },
  });
  const msgId = randomUUID();
  const message = {
    header: {
      msg_id: msgId,
      msg_type: 'execute_request',
      username: user,
      session: randomUUID(),
      version: '5.3',
      date: new Date().toISOString(),
    },
    parent_header: {},
    metadata: {},
    content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false },
    channel: 'shell',
    buffers: [],
  };
  try {
    return await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(
        () => reject(new Error(`no reply within 90 s; output so far: ${out}`)),
        90_000,
      );
      ws.on('error', reject);
      ws.on('open', () => ws.send(JSON.stringify(message)));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as {
          msg_type: string;
          parent_header: { msg_id?: string };
          content: {
            text?: string;
            ename?: string;
            evalue?: string;
            traceback?: string[];
            execution_state?: string;
          };
        };
        if (msg.parent_header.msg_id !== msgId) return;
        if (msg.msg_type === 'stream') out += msg.content.text ?? '';
        if (msg.msg_type === 'error') out += `ERROR ${msg.content.ename}: ${msg.content.evalue}\n`;
        // The shell's execute_reply may overtake the output on iopub (two channels, one socket): the
        // kernel's iopub `idle` for this request comes after every output of it.
        if (msg.msg_type === 'status' && msg.content.execution_state === 'idle') {
          clearTimeout(timer);
          resolve(out.trim());
        }
      });
    });
  } finally {
    ws.close();
  }
}

/** Live processes of the host whose real uid is `uid`. */
async function processesOfUid(uid: number): Promise<Array<{ pid: number; name: string }>> {
  const found: Array<{ pid: number; name: string }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
    const uidLine = /^Uid:\s+(\d+)/m.exec(status);
    if (uidLine && Number(uidLine[1]) === uid && !/^State:\s+Z/m.test(status)) {
      found.push({ pid: Number(entry), name: /^Name:\s+(\S+)/m.exec(status)?.[1] ?? '?' });
    }
  }
  return found;
}
