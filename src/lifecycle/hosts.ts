import type { Logger } from 'pino';
import type { HostLoad, HostRecord, ServerRecord, Store } from '../store/store.js';
import { placeServer } from './placement.js';

export interface HostsOptions {
  store: Store;
  log: Logger;
  /** This host (`cluster.hostId`). */
  hostId: string;
  /** Where the other hosts reach this one's relay; null: no relay (one host). */
  relayUrl: string | null;
  /** The key every replica presents at a relay. */
  relayKey: string;
  heartbeatMs: number;
  goneAfterMs: number;
  /** This host's load, for the heartbeat. */
  load: () => Promise<HostLoad>;
  /** The lease holder of a server (released with its host). */
  holderOf: (server: ServerRecord) => string;
  /** Asks a host's relay whether it is alive (it may be cut off from the store only). */
  probe: (relayUrl: string) => Promise<boolean>;
  /**
   * This host was declared gone while it lived (cut off longer than `goneAfter`): its servers' rows are
   * gone and others may have started them elsewhere. Drop what it routes locally and stop those servers.
   */
  onFenced: () => Promise<void>;
  /** Servers another host's end made this one forget (routes to drop). */
  onLost: (servers: ServerRecord[]) => void;
}

/**
 * This host among the hosts sharing the store: its registration and heartbeat (with its load), what the
 * others are (relay addresses, liveness, drain), declaring a silent host gone, and placement.
 *
 * Gone is decided by the store, once: a host silent past `goneAfter` is declared by whichever live host
 * sees it first (`declareHostGone` is conditional on the epoch it saw, so two declarers never both act),
 * which forgets its servers and releases their leases in one transaction. A host declares others only
 * after it has itself heartbeaten without a failure for `goneAfter`: after the store was away (a restart,
 * a fail-over) every host gets that long to speak again, so none is declared for the store's silence.
 * A host whose relay still answers is not declared (it lost the store, not its learners). A declared host
 * that comes back finds its epoch fenced: it drops its local routes, stops its servers, registers anew.
 */
export class Hosts {
  private epoch = 0;
  private hosts = new Map<string, HostRecord>();
  /** Since when heartbeats have succeeded without a gap; null after a failure. */
  private healthySince: number | null = null;
  private readonly multiHost: boolean;

  constructor(private readonly options: HostsOptions) {
    this.multiHost = options.relayUrl !== null;
  }

  get hostId(): string {
    return this.options.hostId;
  }

  get relayKey(): string {
    return this.options.relayKey;
  }

  /** Registers this host (a new epoch) and reads the others. `announce` false: read only (a second worker). */
  async start(announce: boolean): Promise<void> {
    const { store, hostId, relayUrl } = this.options;
    if (announce) {
      const load = await this.options.load();
      // Another process of this host (a second `sifu serve`) may have registered it: join its epoch, so
      // that neither fences the other. A new epoch only for a new host or one that was declared gone.
      const known = await store.getHost(hostId);
      if (
        known &&
        !known.gone &&
        known.relayUrl === relayUrl &&
        (await store.heartbeat(hostId, known.epoch, load, new Date()))
      ) {
        this.epoch = known.epoch;
      } else {
        this.epoch = (await store.registerHost({ id: hostId, relayUrl, load }, new Date())).epoch;
      }
      this.healthySince = Date.now();
    }
    await this.refresh();
  }

  /** Re-reads the hosts table. */
  async refresh(): Promise<void> {
    const hosts = await this.options.store.listHosts();
    this.hosts = new Map(hosts.map((h) => [h.id, h]));
  }

  /** All hosts as last read. */
  list(): HostRecord[] {
    return [...this.hosts.values()];
  }

  /** True when `host` (a server row's) is this host, or a row from before hosts were recorded. */
  isLocal(host: string | null): boolean {
    return host === null || host === this.options.hostId;
  }

  /** The relay of a live host other than this one; undefined if it is gone, unknown or has no relay. */
  relayOf(host: string): string | undefined {
    const record = this.hosts.get(host);
    return record && !record.gone && record.relayUrl ? record.relayUrl : undefined;
  }

  /**
   * Where a new server goes (see `placeServer`): this host when it is alone, or when no other accepts
   * servers; undefined when every host (this one included) drains or is full.
   */
  async place(): Promise<string | undefined> {
    const { hostId, store, goneAfterMs } = this.options;
    if (!this.multiHost || this.hosts.size <= 1) {
      return this.hosts.get(hostId)?.draining ? undefined : hostId;
    }
    const counts = new Map<string, number>();
    for (const server of await store.listServers()) {
      const host = server.host ?? hostId;
      counts.set(host, (counts.get(host) ?? 0) + 1);
    }
    // A fresh view of drains and loads: placement is rare next to requests.
    await this.refresh();
    const hosts = this.list();
    const me = this.hosts.get(hostId);
    if (me) me.load = await this.options.load();
    return placeServer(hosts, hostId, counts, Date.now(), goneAfterMs);
  }

  /**
   * One heartbeat round: this host's heartbeat (registering again when fenced), the others re-read, and
   * any silent past `goneAfter` declared gone. Errors (the store away) end the round; the next one retries.
   */
  async beat(): Promise<void> {
    const { store, log, hostId, goneAfterMs } = this.options;
    let alive: boolean;
    try {
      alive = await store.heartbeat(hostId, this.epoch, await this.options.load(), new Date());
    } catch (err) {
      this.healthySince = null;
      throw err;
    }
    if (!alive) {
      log.warn({ host: hostId, epoch: this.epoch }, 'this host was declared gone; its servers are stopped');
      this.healthySince = null;
      await this.options.onFenced();
      await this.start(true);
      return;
    }
    this.healthySince ??= Date.now();
    await this.refresh();
    const now = Date.now();
    if (now - this.healthySince < goneAfterMs) return;
    for (const host of this.hosts.values()) {
      if (host.id === hostId || host.gone) continue;
      if (now - host.lastSeen.getTime() <= goneAfterMs) continue;
      await this.declare(host, new Date(now - goneAfterMs));
    }
  }

  private async declare(host: HostRecord, staleBefore: Date): Promise<void> {
    const { store, log } = this.options;
    if (host.relayUrl && (await this.options.probe(host.relayUrl))) {
      log.warn({ host: host.id }, 'a host is silent in the store but its relay answers; not declared gone');
      return;
    }
    const lost = await store.declareHostGone(host.id, host.epoch, staleBefore, this.options.holderOf);
    if (lost === null) return;
    host.gone = true;
    log.warn({ host: host.id, servers: lost.length }, 'host declared gone; its servers are forgotten');
    await store.addEvent('host.gone', null, { host: host.id, servers: lost.length });
    for (const server of lost) {
      await store.addEvent('server.lost', server.userName, { server: server.name, host: host.id });
    }
    this.options.onLost(lost);
  }
}
