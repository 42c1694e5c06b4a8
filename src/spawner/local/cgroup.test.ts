import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  cgroupExists,
  cgroupPids,
  createServerCgroup,
  detectCgroups,
  joinCgroup,
  killCgroup,
  missingFromSupport,
  removeServerCgroup,
  type ServerCgroup,
  toServerCgroup,
} from './cgroup.js';

const root = process.getuid?.() === 0 ? undefined : 'needs root';

/**
 * A shell whose children escape its process group and session (only the cgroup still holds them). It
 * waits for a line on stdin before forking, as bwrap waits on its block descriptor.
 */
function escapingTree(): { pid: number; go: () => void } {
  const child = spawn('/bin/sh', ['-c', 'read go; setsid sleep 300 & (sleep 300 &) ; exec sleep 300'], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.unref();
  return { pid: child.pid as number, go: () => child.stdin?.end('go\n') };
}

async function exercise(cgroup: ServerCgroup): Promise<void> {
  // Moved before it forks: everything it starts is born inside.
  const tree = escapingTree();
  await joinCgroup(cgroup, tree.pid);
  tree.go();
  for (let i = 0; i < 100 && (await cgroupPids(cgroup)).length < 3; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok((await cgroupPids(cgroup)).length >= 3, `members: ${await cgroupPids(cgroup)}`);
  await killCgroup(cgroup);
  assert.deepEqual(await cgroupPids(cgroup), []);
  await removeServerCgroup(cgroup);
  assert.equal(await cgroupExists(cgroup), false);
  await removeServerCgroup(cgroup);
}

describe('server cgroups', { skip: root }, () => {
  it('detects a writable hierarchy here and says what a server would go without', async () => {
    const support = await detectCgroups();
    assert.notEqual(support.version, 0, JSON.stringify(support));
    assert.deepEqual(missingFromSupport(support), []);
    assert.deepEqual(
      missingFromSupport({ version: 0, reason: 'none' }).length > 0,
      true,
      'no cgroup: the warning names what is missing',
    );
  });

  it('reports nothing writable as version 0 with the reason', async () => {
    const support = await detectCgroups('/nonexistent-cgroup-root');
    assert.equal(support.version, 0);
  });

  it('applies the limits and ends every process, setsid and forked ones included', async () => {
    const support = await detectCgroups();
    const name = `sifu-test-${process.pid}-${Date.now()}`;
    const cgroup = await createServerCgroup(support, name, {
      memoryBytes: 64 * 2 ** 20,
      pids: 32,
      cpus: 0.5,
    });
    assert.ok(cgroup);
    if (cgroup.version === 1) {
      const { pids, memory, cpu } = cgroup.dirs as Record<string, string>;
      assert.equal((await readFile(join(pids as string, 'pids.max'), 'utf8')).trim(), '32');
      assert.equal(
        (await readFile(join(memory as string, 'memory.limit_in_bytes'), 'utf8')).trim(),
        String(64 * 2 ** 20),
      );
      assert.equal((await readFile(join(cpu as string, 'cpu.cfs_quota_us'), 'utf8')).trim(), '50000');
    } else {
      const dir = cgroup.dirs.unified as string;
      assert.equal((await readFile(join(dir, 'pids.max'), 'utf8')).trim(), '32');
      assert.equal((await readFile(join(dir, 'cpu.max'), 'utf8')).trim(), '50000 100000');
    }
    await exercise(cgroup);
  });

  it('kills through cgroup.kill on a v2 hierarchy', {
    skip:
      !existsSync('/sys/fs/cgroup/unified/cgroup.procs') &&
      !existsSync('/sys/fs/cgroup/cgroup.kill') &&
      'no v2 hierarchy',
  }, async () => {
    const base = existsSync('/sys/fs/cgroup/unified/cgroup.procs')
      ? '/sys/fs/cgroup/unified'
      : '/sys/fs/cgroup';
    const dir = join(base, `sifu-test-${process.pid}-${Date.now()}`);
    await mkdir(dir);
    await exercise({ version: 2, dirs: { unified: dir } });
  });

  it('refuses stored cgroups outside the cgroup mount', () => {
    assert.throws(() => toServerCgroup({ version: 1, dirs: { pids: '/etc' } }));
    assert.throws(() => toServerCgroup({ version: 1, dirs: { pids: '/sys/fs/cgroup/pids/../../../etc' } }));
    assert.throws(() => toServerCgroup({ version: 3, dirs: {} }));
    assert.equal(toServerCgroup(undefined), undefined);
  });
});
