import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep } from '../cancelled.js';

/**
 * One cgroup per local server: its memory, pids and CPU limits, and the one way to end every process it
 * made (a learner's `setsid` or double fork leaves the process group, never the cgroup). cgroup v2
 * (`cgroup.kill`, `memory.max`, `pids.max`, `cpu.max`) where the unified hierarchy has the controllers,
 * else v1 (a directory per controller; freeze, kill every member, thaw). Detected once, at start.
 */
export type CgroupSupport =
  | { version: 2; root: string }
  | { version: 1; roots: Partial<Record<V1Controller, string>> }
  | { version: 0; reason: string };

type V1Controller = 'pids' | 'memory' | 'cpu' | 'freezer';
const V1_CONTROLLERS: readonly V1Controller[] = ['pids', 'memory', 'cpu', 'freezer'];

/** A server's cgroup, as kept in its state: one directory (v2) or one per controller (v1). */
export interface ServerCgroup {
  version: 1 | 2;
  /** v2: `{ unified: dir }`; v1: controller -> dir. */
  dirs: Record<string, string>;
}

export interface CgroupLimits {
  memoryBytes?: number;
  pids?: number;
  /** CPUs, e.g. 1.5. */
  cpus?: number;
}

/** Sifu's own directory in each hierarchy; servers' cgroups are made below it. */
const PARENT = 'sifu';
const CPU_PERIOD_US = 100_000;
/** After a kill only a process stuck in the kernel (uninterruptible I/O) lingers; past this, give up. */
const EMPTY_WAIT_MS = 5_000;

/**
 * Finds a cgroup hierarchy Sifu can make servers' cgroups in: v2 at `root` when it lists the memory and
 * pids controllers, else the v1 controllers mounted under `root`. Probes by making Sifu's parent
 * directory, so that "not writable" (a container without cgroup rights) is found now, not at a start.
 */
export async function detectCgroups(root = '/sys/fs/cgroup'): Promise<CgroupSupport> {
  const controllers = await readFile(join(root, 'cgroup.controllers'), 'utf8').catch(() => undefined);
  if (controllers !== undefined) {
    const names = controllers.trim().split(/\s+/);
    if (!names.includes('memory') || !names.includes('pids')) {
      return { version: 0, reason: `cgroup v2 at ${root} lacks the memory or pids controller (${names})` };
    }
    try {
      await mkdir(join(root, PARENT), { recursive: true });
      const wanted = ['memory', 'pids', ...(names.includes('cpu') ? ['cpu'] : [])];
      // Controllers reach a cgroup only if every ancestor delegates them.
      const enable = wanted.map((c) => `+${c}`).join(' ');
      await writeFile(join(root, 'cgroup.subtree_control'), enable);
      await writeFile(join(root, PARENT, 'cgroup.subtree_control'), enable);
      return { version: 2, root: join(root, PARENT) };
    } catch (err) {
      return { version: 0, reason: `cgroup v2 at ${root} is not writable: ${String(err)}` };
    }
  }
  const roots: Partial<Record<V1Controller, string>> = {};
  const problems: string[] = [];
  for (const controller of V1_CONTROLLERS) {
    const dir = join(root, controller);
    try {
      await access(join(dir, 'cgroup.procs'));
      await mkdir(join(dir, PARENT), { recursive: true });
      roots[controller] = join(dir, PARENT);
    } catch (err) {
      problems.push(`${controller}: ${String(err)}`);
    }
  }
  if (roots.pids && roots.memory) return { version: 1, roots };
  return { version: 0, reason: `no writable cgroup v2 or v1 (pids and memory) under ${root}: ${problems}` };
}

/** What `detectCgroups` found that a server goes without, for the warning at start; empty when nothing. */
export function missingFromSupport(support: CgroupSupport): string[] {
  if (support.version === 0)
    return ['memory, pids and CPU limits', 'killing every process at stop (the pid namespace still is)'];
  if (support.version === 2) return [];
  const missing: string[] = [];
  if (!support.roots.cpu) missing.push('the CPU limit');
  if (!support.roots.freezer) missing.push('freezing before the kill (a fork loop may outrun it)');
  return missing;
}

/** Makes a server's cgroup named `name` (unique per start) with `limits`. */
export async function createServerCgroup(
  support: CgroupSupport,
  name: string,
  limits: CgroupLimits,
): Promise<ServerCgroup | undefined> {
  if (support.version === 0) return undefined;
  if (support.version === 2) {
    const dir = join(support.root, name);
    await mkdir(dir);
    const cgroup: ServerCgroup = { version: 2, dirs: { unified: dir } };
    try {
      if (limits.memoryBytes !== undefined) {
        await writeFile(join(dir, 'memory.max'), String(limits.memoryBytes));
        // No swap beyond the limit, where the kernel offers the knob.
        await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => {});
      }
      if (limits.pids !== undefined) await writeFile(join(dir, 'pids.max'), String(limits.pids));
      if (limits.cpus !== undefined) {
        await writeFile(join(dir, 'cpu.max'), `${Math.round(limits.cpus * CPU_PERIOD_US)} ${CPU_PERIOD_US}`);
      }
    } catch (err) {
      await removeServerCgroup(cgroup).catch(() => {});
      throw err;
    }
    return cgroup;
  }
  const cgroup: ServerCgroup = { version: 1, dirs: {} };
  try {
    for (const [controller, root] of Object.entries(support.roots)) {
      const dir = join(root, name);
      await mkdir(dir);
      cgroup.dirs[controller] = dir;
    }
    const { pids, memory, cpu } = cgroup.dirs;
    if (memory && limits.memoryBytes !== undefined) {
      await writeFile(join(memory, 'memory.limit_in_bytes'), String(limits.memoryBytes));
      await writeFile(join(memory, 'memory.memsw.limit_in_bytes'), String(limits.memoryBytes)).catch(
        () => {},
      );
    }
    if (pids && limits.pids !== undefined) await writeFile(join(pids, 'pids.max'), String(limits.pids));
    if (cpu && limits.cpus !== undefined) {
      await writeFile(join(cpu, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      await writeFile(join(cpu, 'cpu.cfs_quota_us'), String(Math.round(limits.cpus * CPU_PERIOD_US)));
    }
  } catch (err) {
    await removeServerCgroup(cgroup).catch(() => {});
    throw err;
  }
  return cgroup;
}

/** Moves process `pid` into the cgroup (every hierarchy of it). */
export async function joinCgroup(cgroup: ServerCgroup, pid: number): Promise<void> {
  for (const dir of Object.values(cgroup.dirs)) await writeFile(join(dir, 'cgroup.procs'), String(pid));
}

/** The processes in the cgroup; none for a cgroup that is gone. */
export async function cgroupPids(cgroup: ServerCgroup): Promise<number[]> {
  const all = new Set<number>();
  for (const dir of Object.values(cgroup.dirs)) {
    const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line) all.add(Number(line));
  }
  return [...all];
}

/**
 * Ends every process in the cgroup and waits until it is empty. v2: `cgroup.kill`. v1: freeze (no
 * process forks or exits meanwhile), SIGKILL every member, thaw so the kills land; repeated until empty,
 * which without a freezer is what catches a fork loop.
 */
export async function killCgroup(cgroup: ServerCgroup): Promise<void> {
  const deadline = performance.now() + EMPTY_WAIT_MS;
  const unified = cgroup.dirs.unified;
  if (cgroup.version === 2 && unified) {
    await writeFile(join(unified, 'cgroup.kill'), '1').catch(ignoreGone);
  }
  const freezer = cgroup.dirs.freezer;
  for (let round = 0; ; round += 1) {
    const members = await cgroupPids(cgroup);
    if (members.length === 0) return;
    if (performance.now() > deadline) {
      throw new Error(
        `cgroup ${Object.values(cgroup.dirs)[0]} still has ${members.length} processes after SIGKILL`,
      );
    }
    if (cgroup.version === 1) {
      if (freezer) await writeFile(join(freezer, 'freezer.state'), 'FROZEN').catch(ignoreGone);
      for (const pid of await cgroupPids(cgroup)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Exited meanwhile.
        }
      }
      if (freezer) await writeFile(join(freezer, 'freezer.state'), 'THAWED').catch(ignoreGone);
    } else if (unified && round > 0) {
      await writeFile(join(unified, 'cgroup.kill'), '1').catch(ignoreGone);
    }
    await sleep(Math.min(10 * 2 ** round, 100));
  }
}

/** Removes the (empty) cgroup; one already gone is fine. */
export async function removeServerCgroup(cgroup: ServerCgroup): Promise<void> {
  for (const dir of Object.values(cgroup.dirs)) {
    await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

/** Whether the directories still exist (a stored cgroup found again after a restart). */
export async function cgroupExists(cgroup: ServerCgroup): Promise<boolean> {
  const first = Object.values(cgroup.dirs)[0];
  return (
    first !== undefined &&
    (await access(join(first, 'cgroup.procs')).then(
      () => true,
      () => false,
    ))
  );
}

function ignoreGone(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

/** Checks a stored cgroup: only directories under a cgroup mount, so stored state cannot aim elsewhere. */
export function toServerCgroup(raw: unknown): ServerCgroup | undefined {
  if (raw === undefined) return undefined;
  const value = raw as { version?: unknown; dirs?: unknown };
  if ((value.version !== 1 && value.version !== 2) || typeof value.dirs !== 'object' || value.dirs === null) {
    throw new Error(`malformed cgroup ${JSON.stringify(raw)}`);
  }
  const dirs: Record<string, string> = {};
  for (const [key, dir] of Object.entries(value.dirs)) {
    if (typeof dir !== 'string' || !dir.startsWith('/sys/fs/cgroup/') || dir.includes('/../')) {
      throw new Error(`malformed cgroup directory ${JSON.stringify(dir)}`);
    }
    dirs[key] = dir;
  }
  return { version: value.version, dirs };
}
