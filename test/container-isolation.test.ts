import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { CONTAINER_USER } from '../src/spawner/container-security.js';
import { dockerForTests, removeLabelled } from './support/docker.js';
import { runInKernel } from './support/kernel.js';
import { ADMIN_TOKEN, api, Client, JUPYTER, startTestSifu, type TestSifu } from './support/sifu.js';

/**
 * Finding 9 of issue 9, attacked from inside a learner's kernel on `docker` and on `swarm`: real Jupyter
 * from the offline notebook image, code run over the kernel WebSocket through Sifu's proxy. alice's code
 * tries what a learner's code did before (containers as root on the host network): the hub and notebook
 * ports, a listener standing in for PostgreSQL and one for the metadata service (TCP on the host's
 * 127.0.0.1), the metadata address itself, bob's home and bob's server, Sifu's environment, the engine's
 * socket, and writing into the image. Each probe answers only with a type name or errno, never with data.
 */
const docker = new Docker();
const instance = `test-iso-${randomBytes(4).toString('hex')}`;
/** Put into this process's environment, which the in-process Sifu shares: no container may show it. */
const CANARY = `sifu-canary-${randomBytes(12).toString('hex')}`;
process.env.SIFU_TEST_CANARY = CANARY;

const PROBE = `
import base64, errno, json, os, socket, time

def tcp(host, port, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.connect((host, port))
        return {'result': 'connected'}
    except OSError as e:
        return {'result': type(e).__name__, 'errno': errno.errorcode.get(e.errno, str(e.errno)),
                'ms': round((time.monotonic() - t0) * 1000)}
    finally:
        s.close()

def unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return 'connected'
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()

def read(path):
    try:
        with open(path, 'rb') as f:
            return {'result': 'read', 'data': f.read().decode('latin-1')}
    except OSError as e:
        return {'result': type(e).__name__}

def write(path):
    try:
        with open(path, 'w') as f:
            f.write('x')
        return 'written'
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def environs():
    found = []
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            r = read(f'/proc/{pid}/environ')
            if r['result'] == 'read':
                found.append(r['data'])
    return found

args = json.loads(ARGS)
bob = args['bobTarget']
env_text = '\\n'.join(environs())
result = {
    'uid': os.getuid(),
    'gid': os.getgid(),
    'tcp': {name: tcp('127.0.0.1', port) for name, port in args['ports'].items()},
    'metadata': tcp('169.254.169.254', 80, 1.0),
    'bobServer': unix(bob[len('unix:'):]) if bob.startswith('unix:')
        else tcp(bob.split('//')[1].split(':')[0], int(bob.rsplit(':', 1)[1]))['result'],
    'bobHome': [os.path.exists(p) for p in args['bobHomes']],
    'bobSecretFound': any(args['bobSecret'] in read(os.path.join(p, 'bob-secret.txt')).get('data', '')
                          for p in args['bobHomes'] + ['/home/learner']),
    'canaryInEnv': args['canary'] in env_text,
    'secretInEnv': args['aliceSecret'] in env_text or args['adminToken'] in env_text,
    'engineSocket': [os.path.exists(p) for p in ('/var/run/docker.sock', '/run/docker.sock')],
    'writeRoot': write('/sifu-was-here'),
    'writeHome': write(os.path.join(os.path.expanduser('~'), 'probe.txt')),
    'writeTmp': write('/tmp/probe.txt'),
    'interfaces': sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]),
}
base64.b64encode(json.dumps(result).encode()).decode()
`;

interface ProbeResult {
  uid: number;
  gid: number;
  tcp: Record<string, { result: string; errno?: string; ms?: number }>;
  metadata: { result: string; errno?: string; ms?: number };
  bobServer: string;
  bobHome: boolean[];
  bobSecretFound: boolean;
  canaryInEnv: boolean;
  secretInEnv: boolean;
  engineSocket: boolean[];
  writeRoot: string;
  writeHome: string;
  writeTmp: string;
  interfaces: string[];
}

/** How many processes of this host (containers share its pid space from outside) run exactly `argv`. */
async function hostProcessesWith(argv: string[]): Promise<number> {
  let count = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === `${argv.join('\0')}\0`) count += 1;
  }
  return count;
}

/** A TCP listener on the host's 127.0.0.1 standing in for a service learners must not reach. */
async function standIn(): Promise<{ server: Server; port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port, connections: () => connections };
}

let image = '';
const standIns: Array<Awaited<ReturnType<typeof standIn>>> = [];
before(async () => {
  image = await dockerForTests({ swarm: true });
  standIns.push(await standIn(), await standIn());
});
after(async () => {
  for (const s of standIns) s.server.close();
  await removeLabelled(docker, `sifu.instance=${instance}`);
});

/** Starts a user's server through the API, its home holding `bob-secret.txt` when given. */
async function startServer(sifu: TestSifu, user: string, secretFile?: string): Promise<void> {
  const home = join(sifu.dataDir, 'homes', user);
  await mkdir(home, { recursive: true });
  await chown(home, CONTAINER_USER.uid, CONTAINER_USER.gid);
  if (secretFile) await writeFile(join(home, 'bob-secret.txt'), secretFile);
  await api(sifu, `/users/${user}`, { method: 'POST', token: ADMIN_TOKEN });
  const res = await api(sifu, `/users/${user}/server`, { method: 'POST', token: ADMIN_TOKEN });
  assert.ok([201, 202].includes(res.status), `start ${user}: ${res.status} ${JSON.stringify(res.body)}`);
  const progress = sifu.manager.progress(user, '');
  await progress?.done;
  assert.ok(sifu.manager.route(user, ''), `${user} is running: ${progress?.error?.logDetail ?? ''}`);
}

for (const backend of ['docker', 'swarm'] as const) {
  describe(`from inside a learner's kernel on ${backend}`, () => {
    let sifu: TestSifu;
    let probe: ProbeResult;
    const bobSecret = `bob-${randomBytes(16).toString('hex')}`;

    before(async () => {
      sifu = await startTestSifu({
        command: JUPYTER,
        overrides: {
          spawner: { backend, startTimeout: 90, pollInterval: 3600, docker: { image, instance } },
        },
      });
      await startServer(sifu, 'bob', bobSecret);
      await startServer(sifu, 'alice');
      const alice = new Client();
      const { res } = await alice.signIn(sifu, 'alice');
      await res.arrayBuffer();
      const bobRoute = sifu.manager.route('bob', '');
      const aliceRoute = sifu.manager.route('alice', '');
      const port = (url: string) => Number(new URL(url).port);
      const args = {
        ports: {
          hub: port(sifu.hubUrl),
          notebook: port(sifu.notebookUrl),
          postgres: standIns[0]?.port,
          metadataStandIn: standIns[1]?.port,
        },
        bobTarget: bobRoute?.target,
        bobHomes: [join(sifu.dataDir, 'homes', 'bob'), '/home/bob', '/home/learner/../bob'],
        bobSecret,
        canary: CANARY,
        aliceSecret: aliceRoute?.secret,
        adminToken: ADMIN_TOKEN,
      };
      const code = `ARGS = ${JSON.stringify(JSON.stringify(args))}\n${PROBE}`;
      const answer = await runInKernel(sifu, alice, 'alice', code);
      assert.match(answer, /^'[A-Za-z0-9+/=]+'$/, `the probe ran: ${answer}`);
      probe = JSON.parse(Buffer.from(answer.slice(1, -1), 'base64').toString()) as ProbeResult;
    });
    after(() => sifu?.cleanup());

    test('the code runs as the unprivileged container user, never root', (t) => {
      t.diagnostic(`probe: ${JSON.stringify(probe)}`);
      assert.notEqual(probe.uid, 0);
      assert.deepEqual([probe.uid, probe.gid], [CONTAINER_USER.uid, CONTAINER_USER.gid]);
    });

    test("connecting to the hub, the notebook port, PostgreSQL's and the metadata service's stand-ins on the host's 127.0.0.1 fails", () => {
      for (const [name, answer] of Object.entries(probe.tcp))
        assert.notEqual(answer.result, 'connected', `${name} was reached: ${JSON.stringify(answer)}`);
      for (const s of standIns) assert.equal(s.connections(), 0, 'no connection reached a stand-in');
    });

    test('the metadata address fails at once: there is no route to it', () => {
      assert.notEqual(probe.metadata.result, 'connected');
      assert.equal(probe.metadata.errno, 'ENETUNREACH', JSON.stringify(probe.metadata));
      assert.ok((probe.metadata.ms ?? 1e9) < 500, `failed in ${probe.metadata.ms} ms`);
    });

    test("another learner's server and home are out of reach", () => {
      assert.notEqual(probe.bobServer, 'connected', "bob's server was reached");
      assert.deepEqual(probe.bobHome.filter(Boolean), [], "bob's home is not visible at any path tried");
      assert.equal(probe.bobSecretFound, false, "bob's file was read");
    });

    test("no process in reach holds Sifu's environment or a secret; the engine socket is absent", () => {
      assert.equal(probe.canaryInEnv, false, "Sifu's environment is readable from the kernel");
      assert.equal(probe.secretInEnv, false, 'a secret is in an environment the kernel can read');
      assert.deepEqual(probe.engineSocket, [false, false], 'the engine socket is in the container');
    });

    test('no process she started survives stopping her server, not even one in a session of its own', async () => {
      const marker = `${4_000_000 + Math.floor(Math.random() * 1_000_000)}`;
      const alice = new Client();
      const { res } = await alice.signIn(sifu, 'alice');
      await res.arrayBuffer();
      const started = await runInKernel(
        sifu,
        alice,
        'alice',
        `import subprocess; subprocess.Popen(['setsid', 'sleep', '${marker}']).pid > 0`,
      );
      assert.equal(started, 'True');
      const running = () => hostProcessesWith(['sleep', marker]);
      assert.ok((await running()) > 0, 'the detached process runs (seen from the host)');
      await sifu.manager.stop('alice', '');
      assert.equal(await running(), 0, 'it ended with her server');
    });

    test('the image is read-only, and the only network interface is loopback (docker) or a lone internal one (swarm)', () => {
      assert.equal(probe.writeRoot, 'EROFS');
      assert.deepEqual(
        [probe.writeHome, probe.writeTmp],
        ['written', 'written'],
        'her home and /tmp stay writable',
      );
      if (backend === 'docker') assert.deepEqual(probe.interfaces, ['lo']);
      else assert.ok(probe.interfaces.includes('lo') && probe.interfaces.length <= 2, `${probe.interfaces}`);
    });
  });
}
