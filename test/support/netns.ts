/**
 * A small network of "hosts" on this machine, for multi-host tests: one network namespace per host, each
 * with a veth onto a bridge the harness makes in the root namespace, all on a /24 of 10.231.0.0/16 that
 * no interface here uses yet. The root namespace (the test) has the bridge's address, `.1`; hosts have
 * `.11`, `.12`, ... Nothing is routed anywhere else: no default route in the namespaces, no forwarding.
 *
 * Processes start inside a host with `nsenter --net=...` (not `ip netns exec`, which remounts /sys and so
 * hides /sys/fs/cgroup from what runs there). `kill(host)` ends every process of a host, including the
 * descendants that live in namespaces of their own (sandboxed learner servers), found through /proc.
 *
 * Root only (namespaces, links). Leftovers of an earlier run that died are removed at the next
 * `createHosts`: every network records the pid of the test process that made it, and a network whose
 * maker is gone is stale.
 */
import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface NetHost {
  /** The name the test gave, e.g. `a`. */
  name: string;
  /** The network namespace, `sifu-<run>-<name>` (its handle is `/run/netns/<ns>`). */
  ns: string;
  /** The host's address on the bridge, e.g. `10.231.7.11`. */
  address: string;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface HostNetwork {
  /** The root namespace's address on the bridge (where the test itself is reached), e.g. `10.231.7.1`. */
  bridgeAddress: string;
  bridge: string;
  hosts: NetHost[];
  /** The host named `name`; throws if there is none. */
  host(name: string): NetHost;
  /** Spawns `command` inside `host`'s network namespace. */
  spawn(host: NetHost, command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Runs `command` inside `host`'s network namespace to its end (never rejects for a non-zero exit). */
  exec(
    host: NetHost,
    command: string,
    args: string[],
    options?: { env?: NodeJS.ProcessEnv; timeoutMs?: number },
  ): Promise<ExecResult>;
  /** Every live process of `host`: those in its namespace and all their descendants. */
  processes(host: NetHost): number[];
  /** SIGKILLs every process of `host` (frozen first, so none forks away) and waits until they are gone. */
  kill(host: NetHost): Promise<number[]>;
  /** Kills what is left, deletes the namespaces, veths and the bridge. Idempotent. */
  remove(): Promise<void>;
}

const PREFIX_NS = 'sifu-';
const PREFIX_BRIDGE = 'sifub';
const PREFIX_VETH = 'sifuv';
/** What bridges and veths of this harness begin with (`sifub<run>`, `sifuv<run><n>`). */
const PREFIX_LINK = 'sifu';
/** Where each network records its maker's pid: `<run>` -> pid. */
const REGISTRY = '/run/sifu-netns-harness';
const RUN_ID = /^[0-9a-f]{6}$/;
const GONE_WAIT_MS = 10_000;

function ip(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'pipe', encoding: 'utf8' });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`ip ${args.join(' ')}: ${stderr.trim()}`, { cause: err });
  }
}

function ipQuiet(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
  } catch {}
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** pid -> parent pid of every process, read from /proc (the root pid namespace's view). */
function processTable(): Map<number, number> {
  const table = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // `pid (comm) state ppid ...`; comm may hold spaces and parentheses: read after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      table.set(Number(entry), Number(fields[1]));
    } catch {}
  }
  return table;
}

/** The pids whose network namespace is `ns` (what `ip netns pids` lists). */
function pidsInNamespace(ns: string, table: Map<number, number>): number[] {
  let target: { dev: number; ino: number };
  try {
    target = statSync(`/run/netns/${ns}`);
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const pid of table.keys()) {
    try {
      const net = statSync(`/proc/${pid}/ns/net`);
      if (net.ino === target.ino && net.dev === target.dev) found.push(pid);
    } catch {}
  }
  return found;
}

/** `roots` and all their descendants. */
function withDescendants(roots: number[], table: Map<number, number>): Set<number> {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of table) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const found = new Set<number>();
  const queue = roots.filter((pid) => table.has(pid));
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    if (found.has(pid)) continue;
    found.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  found.delete(process.pid);
  return found;
}

function processesOfNamespace(ns: string): number[] {
  const table = processTable();
  return [...withDescendants(pidsInNamespace(ns, table), table)];
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {}
}

/**
 * Stops every process of `ns` and its descendants until no new one appears (a stopped process cannot
 * fork), then SIGKILLs them all. Synchronous, so that it also serves at process exit.
 */
function killNamespaceNow(ns: string): number[] {
  const frozen = new Set<number>();
  for (let round = 0; round < 50; round++) {
    const table = processTable();
    const current = withDescendants([...pidsInNamespace(ns, table), ...frozen], table);
    const fresh = [...current].filter((pid) => !frozen.has(pid));
    if (fresh.length === 0) break;
    for (const pid of fresh) {
      signal(pid, 'SIGSTOP');
      frozen.add(pid);
    }
  }
  for (const pid of frozen) signal(pid, 'SIGKILL');
  return [...frozen];
}

function isGoneOrZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function waitGone(pids: number[]): Promise<void> {
  const until = Date.now() + GONE_WAIT_MS;
  while (pids.some((pid) => !isGoneOrZombie(pid))) {
    if (Date.now() > until) {
      throw new Error(`processes still alive after SIGKILL: ${pids.filter((p) => !isGoneOrZombie(p))}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function listNamespaces(): string[] {
  try {
    return readdirSync('/run/netns');
  } catch {
    return [];
  }
}

function listLinks(): string[] {
  return readdirSync('/sys/class/net');
}

function runOf(name: string): string | undefined {
  const match =
    /^sifub([0-9a-f]{6})$/.exec(name) ??
    /^sifuv([0-9a-f]{6})[0-9a-z]{2}$/.exec(name) ??
    /^sifu-([0-9a-f]{6})-[a-z0-9]+$/.exec(name);
  return match?.[1];
}

function makerAlive(run: string): boolean {
  try {
    const pid = Number(readFileSync(join(REGISTRY, run), 'utf8').trim());
    return pid > 0 && pid !== process.pid ? alive(pid) : pid === process.pid;
  } catch {
    return false;
  }
}

/** Removes networks (namespaces and bridges of this harness's naming) whose test process is gone. */
export function removeStaleNetworks(): string[] {
  const removed: string[] = [];
  const stale = (name: string) => {
    const run = runOf(name);
    return run !== undefined && !makerAlive(run);
  };
  for (const ns of listNamespaces().filter(stale)) {
    killNamespaceNow(ns);
    ipQuiet('netns', 'del', ns);
    removed.push(ns);
  }
  for (const link of listLinks().filter((l) => l.startsWith(PREFIX_LINK) && stale(l))) {
    ipQuiet('link', 'del', link);
    removed.push(link);
  }
  for (const run of safeReaddir(REGISTRY)) {
    if (RUN_ID.test(run) && !makerAlive(run)) rmSync(join(REGISTRY, run), { force: true });
  }
  return removed;
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A /24 of 10.231.0.0/16 that no interface of the root namespace has an address in. */
function unusedSubnet(): number {
  const used = execFileSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' });
  const routes = execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' });
  for (let tries = 0; tries < 100; tries++) {
    const octet = randomInt(1, 255);
    const prefix = `10.231.${octet}.`;
    if (!used.includes(prefix) && !routes.includes(prefix)) return octet;
  }
  throw new Error('no free /24 in 10.231.0.0/16');
}

/**
 * Makes one namespace per name (lower-case letters and digits, e.g. `['a', 'b', 'c']`) on a fresh bridge.
 * Call `remove()` when done; it also runs at process exit.
 */
export async function createHosts(names: string[]): Promise<HostNetwork> {
  if (process.getuid?.() !== 0) throw new Error('network namespaces need root');
  for (const name of names) {
    if (!/^[a-z0-9]{1,4}$/.test(name)) throw new Error(`host name '${name}': 1-4 lower-case letters, digits`);
  }
  if (names.length > 80) throw new Error('at most 80 hosts');
  removeStaleNetworks();

  const run = randomBytes(3).toString('hex');
  mkdirSync(REGISTRY, { recursive: true });
  writeFileSync(join(REGISTRY, run), String(process.pid));
  const octet = unusedSubnet();
  const bridge = `${PREFIX_BRIDGE}${run}`;
  const bridgeAddress = `10.231.${octet}.1`;
  const hosts: NetHost[] = names.map((name, i) => ({
    name,
    ns: `${PREFIX_NS}${run}-${name}`,
    address: `10.231.${octet}.${11 + i}`,
  }));

  const veths = hosts.map((_host, i) => `${PREFIX_VETH}${run}${i.toString(36).padStart(2, '0')}`);
  let removed = false;
  const removeNow = (): void => {
    if (removed) return;
    removed = true;
    process.off('exit', removeNow);
    for (const host of hosts) killNamespaceNow(host.ns);
    // Deleting a veth takes its peer at once; a namespace's own links go only when the kernel gets to it.
    for (const veth of veths) ipQuiet('link', 'del', veth);
    for (const host of hosts) ipQuiet('netns', 'del', host.ns);
    ipQuiet('link', 'del', bridge);
    rmSync(join(REGISTRY, run), { force: true });
  };
  process.on('exit', removeNow);

  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${bridgeAddress}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    for (const [i, host] of hosts.entries()) {
      const veth = veths[i] as string;
      ip('netns', 'add', host.ns);
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns);
      ip('link', 'set', veth, 'master', bridge);
      ip('link', 'set', veth, 'up');
      ip('-n', host.ns, 'link', 'set', 'lo', 'up');
      ip('-n', host.ns, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
      ip('-n', host.ns, 'link', 'set', 'eth0', 'up');
    }
  } catch (err) {
    removeNow();
    throw err;
  }

  const nsenter = (host: NetHost, command: string, args: string[]): string[] => [
    `--net=/run/netns/${host.ns}`,
    '--',
    command,
    ...args,
  ];

  return {
    bridgeAddress,
    bridge,
    hosts,
    host(name) {
      const found = hosts.find((h) => h.name === name);
      if (!found) throw new Error(`no host '${name}'`);
      return found;
    },
    spawn(host, command, args, options = {}) {
      return spawn('nsenter', nsenter(host, command, args), options);
    },
    exec(host, command, args, options = {}) {
      return new Promise((resolve) => {
        execFile(
          'nsenter',
          nsenter(host, command, args),
          { env: options.env ?? process.env, timeout: options.timeoutMs ?? 60_000, encoding: 'utf8' },
          (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });
    },
    processes(host) {
      return processesOfNamespace(host.ns);
    },
    async kill(host) {
      const killed = killNamespaceNow(host.ns);
      await waitGone(killed);
      return killed;
    },
    async remove() {
      if (removed) return;
      const killed = hosts.flatMap((host) => killNamespaceNow(host.ns));
      await waitGone(killed).catch(() => {});
      removeNow();
    },
  };
}
