import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sandboxArgv } from './sandbox.js';

const spec = {
  home: '/srv/homes/ada',
  homeInside: '/home/ada',
  socketDir: '/var/lib/sifu/run/ada-1',
  uid: 200_007,
  gid: 200_007,
  argv: ['jupyter', 'notebook', '--sock=/run/sifu/jupyter.sock'],
  blockFd: 3,
  infoFd: 4,
};

/** The values following each occurrence of `flag`, `count` at a time. */
function after(argv: string[], flag: string, count: number): string[][] {
  const found: string[][] = [];
  argv.forEach((arg, i) => {
    if (arg === flag) found.push(argv.slice(i + 1, i + 1 + count));
  });
  return found;
}

describe('sandboxArgv', () => {
  const argv = sandboxArgv(spec);
  const bwrapPart = argv.slice(0, argv.indexOf('--'));

  it('unshares pid, ipc, uts and net, in a new session, and never dies with Sifu', () => {
    for (const flag of [
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--unshare-net',
      '--new-session',
    ]) {
      assert.ok(bwrapPart.includes(flag), flag);
    }
    assert.ok(!argv.includes('--die-with-parent'), 'servers outlive Sifu');
    assert.ok(!bwrapPart.includes('--share-net') && !bwrapPart.includes('--unshare-all'));
  });

  it('binds exactly the system read-only, the home and the socket directory read-write', () => {
    assert.deepEqual(after(bwrapPart, '--ro-bind', 2), [
      ['/usr', '/usr'],
      ['/etc', '/etc'],
    ]);
    assert.deepEqual(after(bwrapPart, '--bind', 2), [
      ['/srv/homes/ada', '/home/ada'],
      ['/var/lib/sifu/run/ada-1', '/run/sifu'],
    ]);
    assert.deepEqual(after(bwrapPart, '--tmpfs', 1), [['/tmp']]);
    assert.deepEqual(after(bwrapPart, '--proc', 1), [['/proc']]);
    assert.deepEqual(after(bwrapPart, '--dev', 1), [['/dev']]);
    assert.deepEqual(after(bwrapPart, '--chdir', 1), [['/home/ada']]);
  });

  it('makes the directories the uid must traverse 0755', () => {
    const home = bwrapPart.indexOf('/home');
    assert.deepEqual(bwrapPart.slice(home - 3, home + 1), ['--perms', '0755', '--dir', '/home']);
  });

  it('drops to the uid and gid with no groups, capabilities or new privileges, then runs the command', () => {
    const rest = argv.slice(argv.indexOf('--') + 1);
    assert.deepEqual(rest, [
      '/usr/bin/setpriv',
      '--reuid=200007',
      '--regid=200007',
      '--clear-groups',
      '--inh-caps=-all',
      '--ambient-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
      'jupyter',
      'notebook',
      '--sock=/run/sifu/jupyter.sock',
    ]);
  });

  it('binds read-only paths last (so the tmpfs cannot hide them), their parents traversable', () => {
    const more = sandboxArgv({ ...spec, readOnlyPaths: ['/tmp/tools/py', '/opt/conda'] });
    const bwrap = more.slice(0, more.indexOf('--'));
    assert.deepEqual(after(bwrap, '--ro-bind', 2).slice(2), [
      ['/tmp/tools/py', '/tmp/tools/py'],
      ['/opt/conda', '/opt/conda'],
    ]);
    assert.ok(bwrap.lastIndexOf('--tmpfs') < bwrap.indexOf('/tmp/tools/py'));
    assert.deepEqual(after(bwrap, '--dir', 1).flat(), ['/home', '/run', '/tmp', '/tmp/tools', '/opt']);
  });

  it('keeps a value with spaces or quotes one argument', () => {
    const odd = sandboxArgv({ ...spec, argv: ['python3', "it's a --unshare-net; rm -rf /"] });
    assert.equal(odd.at(-1), "it's a --unshare-net; rm -rf /");
  });
});

describe('sandboxArgv with a hub endpoint', () => {
  const argv = sandboxArgv({
    ...spec,
    hubChannel: {
      dir: '/var/lib/sifu/run/hub-0123',
      forwarder: '/opt/sifu/assets/hub-channel/hub-forward.py',
    },
  });
  const bwrapPart = argv.slice(0, argv.indexOf('--'));

  it('binds the endpoint and its forwarder read-only, keeps the network unshared, and runs the command behind the forwarder', () => {
    assert.ok(bwrapPart.includes('--unshare-net'));
    assert.deepEqual(after(bwrapPart, '--ro-bind', 2), [
      ['/usr', '/usr'],
      ['/etc', '/etc'],
      ['/var/lib/sifu/run/hub-0123', '/run/sifu-hub'],
      ['/opt/sifu/assets/hub-channel/hub-forward.py', '/run/sifu-hub-forward.py'],
    ]);
    // Nothing of the endpoint is writable from inside.
    assert.deepEqual(
      after(bwrapPart, '--bind', 2).map(([, inside]) => inside),
      ['/home/ada', '/run/sifu'],
    );
    const command = argv.slice(argv.lastIndexOf('--no-new-privs') + 2);
    assert.deepEqual(command, [
      '/usr/bin/python3',
      '/run/sifu-hub-forward.py',
      '8081',
      '/run/sifu-hub/hub.sock',
      '--',
      ...spec.argv,
    ]);
  });
});
