/**
 * The multi-host harness (test/support/netns.ts) itself: hosts reach each other and the bridge, kill()
 * ends a host's processes (those in namespaces of their own too), remove() leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createHosts } from './support/netns.js';
import { waitFor } from './support/process.js';

/** A one-line HTTP server answering its own name, for `node -e` inside a namespace. */
const serveName = (address: string, name: string) =>
  `require('http').createServer((q, s) => s.end(${JSON.stringify(name)})).listen(8080, ${JSON.stringify(address)})`;

test('three hosts on a bridge: they reach each other and the bridge, kill() ends a host, remove() leaves nothing', async () => {
  const net = await createHosts(['a', 'b', 'c']);
  const root = createServer((_req, res) => res.end('root'));
  try {
    assert.equal(net.hosts.length, 3);
    assert.match(net.bridgeAddress, /^10\.231\.\d+\.1$/);
    for (const host of net.hosts) assert.ok(existsSync(`/run/netns/${host.ns}`), host.ns);

    await new Promise<void>((resolve) => root.listen(0, net.bridgeAddress, resolve));
    const rootPort = (root.address() as AddressInfo).port;
    const servers = net.hosts.map((host) =>
      net.spawn(host, process.execPath, ['-e', serveName(host.address, host.name)], { stdio: 'ignore' }),
    );
    const get = (from: (typeof net.hosts)[number], url: string) =>
      net.exec(from, 'curl', ['-sS', '--noproxy', '*', '--max-time', '5', url]);
    for (const host of net.hosts) {
      await waitFor(
        `${host.name} serving`,
        async () => (await get(host, `http://${host.address}:8080/`)).code === 0,
      );
    }
    for (const from of net.hosts) {
      for (const to of net.hosts) {
        const res = await get(from, `http://${to.address}:8080/`);
        assert.equal(res.stdout, to.name, `${from.name} -> ${to.name}: ${res.stderr}`);
      }
      const res = await get(from, `http://${net.bridgeAddress}:${rootPort}/`);
      assert.equal(res.stdout, 'root', `${from.name} -> bridge: ${res.stderr}`);
    }
    // Each host has its own loopback: b's 127.0.0.1 is not a's.
    assert.notEqual((await get(net.host('b'), `http://127.0.0.1:8080/`)).code, 0);

    // A host's processes include descendants in namespaces of their own (as sandboxed servers are).
    const b = net.host('b');
    // (A parent in b's namespace, as Sifu is of bwrap; unshare itself moves into the new namespace.)
    const nested = net.spawn(
      b,
      'sh',
      ['-c', 'unshare --net --fork sh -c "sleep 1000 & sleep 1000; wait"; wait'],
      { stdio: 'ignore' },
    );
    await waitFor('the nested sleepers', async () => net.processes(b).length >= 6);
    const before = net.processes(b);
    const killed = await net.kill(b);
    assert.deepEqual([...killed].sort(), [...before].sort());
    assert.deepEqual(net.processes(b), []);
    await waitFor(
      'the nested tree reaped',
      async () => nested.exitCode !== null || nested.signalCode !== null,
    );
    assert.equal(servers[1]?.signalCode, 'SIGKILL');
    // The others keep running.
    assert.equal((await get(net.host('a'), `http://${net.host('c').address}:8080/`)).stdout, 'c');
    assert.notEqual((await get(net.host('a'), `http://${b.address}:8080/`)).code, 0, 'b is gone');

    const left = [...net.processes(net.host('a')), ...net.processes(net.host('c'))];
    assert.ok(left.length >= 2);
    await net.remove();
    await net.remove(); // idempotent
    for (const pid of left)
      assert.ok(!existsSync(`/proc/${pid}/cmdline`) || isZombie(pid), `pid ${pid} left`);
    for (const host of net.hosts) assert.ok(!existsSync(`/run/netns/${host.ns}`), `${host.ns} left`);
    const run = net.bridge.slice('sifub'.length);
    assert.deepEqual(
      readdirSync('/sys/class/net').filter((link) => link.includes(run)),
      [],
      'no bridge or veth of the run is left',
    );
  } finally {
    root.close();
    await net.remove();
  }
});

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
