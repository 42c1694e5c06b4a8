/**
 * Stalled clients (issue 9, finding 7): thousands of connections that send half a request and wait must
 * not take either port down. Sifu runs as shipped (dist/, default config) under `ulimit -n 1024`, so that
 * holding every stalled connection would run it out of descriptors, as 20,100 did at the default limit.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { capConnections, totalCap } from '../src/web/connection-limits.js';
import { type BuiltSifu, startBuiltSifu } from './support/built-sifu.js';

/** Opens a connection from `localAddress`, writes `head` and then nothing; resolves once connected. */
function stall(port: number, localAddress: string, head: string): Promise<net.Socket> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    socket.on('error', () => {});
    // Flowing, so that the server's answer and close are seen.
    socket.resume();
    socket.once('connect', () => {
      socket.write(head);
      resolve(socket);
    });
    // Refused at accept or reset: still a socket, already closed.
    socket.once('close', () => resolve(socket));
  });
}

const open = (sockets: net.Socket[]) => sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;

/** One plain request from 127.0.0.1 with a deadline: the status, or 0 when the port does not answer. */
async function probe(url: string): Promise<number> {
  try {
    const res = await fetch(url, {
      redirect: 'manual',
      headers: { accept: 'text/html' },
      signal: AbortSignal.timeout(5_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function settle(until: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!until() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
}

describe('stalled clients', () => {
  let sifu: BuiltSifu;
  const attackers: net.Socket[] = [];

  before(async () => {
    sifu = await startBuiltSifu(
      {
        SIFU_LIMITS_HEADERS_TIMEOUT: '2',
        SIFU_LIMITS_HUB_REQUEST_TIMEOUT: '3',
        SIFU_LIMITS_MAX_CONNECTIONS_PER_ADDRESS: '40',
      },
      { openFiles: 1024 },
    );
  });
  after(async () => {
    for (const socket of attackers) socket.destroy();
    await sifu?.stop();
  });

  test('1,600 stalled connections from 8 addresses leave both ports answering, and are cut off', async () => {
    const hubPort = Number(new URL(sifu.hubUrl).port);
    const notebookPort = Number(new URL(sifu.notebookUrl).port);
    const hub: net.Socket[] = [];
    const notebooks: net.Socket[] = [];
    for (let a = 2; a <= 9; a++) {
      const from = `127.0.0.${a}`;
      for (let i = 0; i < 100; i++) {
        // A sign-in whose body never comes, and notebook requests whose headers never end.
        hub.push(
          await stall(
            hubPort,
            from,
            'POST /hub/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
              'Content-Length: 100000\r\n\r\nusername=a',
          ),
        );
        notebooks.push(await stall(notebookPort, from, 'GET /user/ada/ HTTP/1.1\r\nHost: x\r\n'));
      }
    }
    attackers.push(...hub, ...notebooks);
    // Per address, no more than the cap is held (40 x 8 addresses on each port).
    await settle(() => open(hub) <= 320 && open(notebooks) <= 320, 2_000);
    assert.ok(open(hub) <= 320, `hub holds ${open(hub)} stalled connections`);
    assert.ok(open(notebooks) <= 320, `notebook port holds ${open(notebooks)} stalled connections`);

    // Meanwhile a learner from another address is served on both ports.
    assert.equal(await probe(`${sifu.hubUrl}/hub/health`), 200);
    assert.equal(await probe(`${sifu.notebookUrl}/user/ada/`), 302);

    // The stalled ones are cut off by the header and request timeouts.
    await settle(() => open(hub) === 0 && open(notebooks) === 0, 10_000);
    assert.deepEqual(
      [open(hub), open(notebooks)],
      [0, 0],
      'stalled sign-ins and notebook requests are cut off',
    );
    assert.equal(await probe(`${sifu.hubUrl}/hub/health`), 200);
    assert.ok(sifu.child.exitCode === null, `Sifu is still running:\n${sifu.output()}`);
  });

  test('a refused request whose body was not read ends its connection', async () => {
    const port = Number(new URL(sifu.notebookUrl).port);
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('data', (d) => {
      answer += d;
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(
      'PUT /user/ada/api/contents/x.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n' +
        'x'.repeat(1000),
    );
    await closed;
    assert.match(answer, /^HTTP\/1\.1 401 /);
    assert.match(answer, /\r\nconnection: close\r\n/i);
  });
});

describe('connection caps', () => {
  test('the automatic total is a share of the open-file limit, never tiny', () => {
    assert.equal(totalCap(500, 1024), 500);
    assert.equal(totalCap(0, 1024), 409);
    assert.equal(totalCap(0, 20_000), 8000);
    assert.equal(totalCap(0, 10), 64);
  });

  test('per address and in total', async () => {
    const server = net.createServer(() => {});
    capConnections(server, { total: 6, perAddress: 3 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const one = await Promise.all(Array.from({ length: 5 }, () => stall(port, '127.0.0.2', '')));
      await settle(() => open(one) <= 3, 2_000);
      assert.equal(open(one), 3, 'one address holds at most 3');
      const others = await Promise.all(
        ['127.0.0.3', '127.0.0.4', '127.0.0.5'].flatMap((a) => [stall(port, a, ''), stall(port, a, '')]),
      );
      await settle(() => open(one) + open(others) <= 6, 2_000);
      assert.equal(open(one) + open(others), 6, 'the server holds at most 6 in all');
      for (const s of [...one, ...others]) s.destroy();
    } finally {
      server.close();
    }
  });
});
