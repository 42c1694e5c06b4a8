/**
 * Activity reporting: the culler learns that a route is in use, at most once per interval per
 * route, so the hook stays cheap whatever the traffic.
 */
import type { EventEmitter } from 'node:events';

export class Throttle {
  private readonly last = new Map<string, number>();

  constructor(private readonly intervalMs: number) {}

  /** True if `key` was not let through within the interval (and records `now` for it). */
  due(key: string, now: number): boolean {
    const last = this.last.get(key);
    if (last !== undefined && now - last < this.intervalMs) return false;
    if (this.last.size >= 50_000) this.prune(now);
    this.last.set(key, now);
    return true;
  }

  private prune(now: number): void {
    for (const [key, at] of this.last) if (now - at >= this.intervalMs) this.last.delete(key);
  }
}

/** Reports route activity through `report`, throttled to one call per `intervalMs` per route. */
export class ActivityTracker {
  private readonly throttle: Throttle;

  constructor(
    private readonly report: (userName: string, serverName: string, at: Date) => void,
    /** The least time between two reports for one route. */
    readonly intervalMs = 1000,
  ) {
    this.throttle = new Throttle(intervalMs);
  }

  touch(userName: string, serverName: string): void {
    const now = Date.now();
    if (!this.throttle.due(serverName === '' ? userName : `${userName}/${serverName}`, now)) return;
    try {
      this.report(userName, serverName, new Date(now));
    } catch {
      // Activity is advisory: a failing hook must never break the data path.
    }
  }
}

/**
 * True if a chunk holds only complete WebSocket ping/pong frames. Jupyter's server pings every
 * kernel WebSocket (notebook 6: every 30 s) and the browser answers by itself, so an open but
 * unattended tab would otherwise look busy to the culler forever. Such chunks still keep the socket
 * from being idle; they just are not learner activity. A heuristic on chunk boundaries: a ping that
 * shares a chunk with data counts as activity, which errs on the side of keeping the server.
 */
export function onlyPingPong(chunk: Buffer): boolean {
  let at = 0;
  while (at < chunk.length) {
    if (at + 2 > chunk.length) return false;
    const first = chunk[at] as number;
    // FIN set, no RSV bits, opcode ping (0x9) or pong (0xA): control frames are never fragmented.
    if (first !== 0x89 && first !== 0x8a) return false;
    const second = chunk[at + 1] as number;
    const length = second & 0x7f;
    if (length > 125) return false;
    at += 2 + (second & 0x80 ? 4 : 0) + length;
  }
  return at === chunk.length;
}

/** What a relayed WebSocket's chunks come from: its two sockets (anything that emits 'data' and 'close'). */
export type ChunkSource = Pick<EventEmitter, 'on' | 'removeListener'>;

/**
 * Watches one relayed WebSocket (both its sockets) for the route's activity: a chunk that is not only
 * pings and pongs. It listens only while a report could go out: once a chunk is reported, its listeners
 * come off for the tracker's interval (the throttle would let nothing through in it) and go back on after,
 * so a busy socket's chunks cost nothing beyond the pipe's own work most of the time. Pings and pongs
 * alone keep it listening. Made here, away from the upgrade's scope, so that living as long as the socket
 * does not keep the upgrade request and its headers alive with it.
 */
const WATCH = Symbol('sifu.activity-watch');
type Watched = ChunkSource & { [WATCH]?: WebSocketActivity };

// Shared listeners that find their watch on the socket (`this`): a watch per socket pair makes no closures.
function onWatchedChunk(this: Watched, chunk: Buffer): void {
  this[WATCH]?.chunk(chunk);
}
function onWatchedClose(this: Watched): void {
  this[WATCH]?.stop();
}
function resumeWatch(watch: WebSocketActivity): void {
  watch.resume();
}

/**
 * A chunk of a socket whose relay reads it itself (socket-relay.ts: no 'data' events), given to its watch
 * while that listens. A view of the shared read buffer: read during the call, not kept.
 */
export function relayedChunk(source: object, chunk: Buffer): void {
  const watch = (source as Watched)[WATCH];
  if (watch?.listening === true) watch.chunk(chunk);
}

export class WebSocketActivity {
  private sources: Watched[] = [];
  /** True while a chunk could be reported (read by {@link relayedChunk}). */
  listening = false;
  /** The sources emit no 'data': their relay hands chunks over through {@link relayedChunk}. */
  private relayed = false;
  private resumeTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly tracker: ActivityTracker,
    private readonly userName: string,
    private readonly serverName: string,
  ) {}

  /**
   * Starts watching `sources`' chunks, from their 'data' events or, `relayed`, from their relay; stops for
   * good when either closes.
   */
  watch(sources: ChunkSource[], relayed = false): void {
    this.sources = sources;
    this.relayed = relayed;
    for (const source of this.sources) {
      source[WATCH] = this;
      source.on('close', onWatchedClose);
    }
    this.listen(true);
  }

  /** The relayed WebSocket carried something other than pings and pongs (the native relay counts its chunks). */
  touched(): void {
    if (!this.stopped) this.tracker.touch(this.userName, this.serverName);
  }

  /** The least time between two reports (the tracker's interval). */
  get intervalMs(): number {
    return this.tracker.intervalMs;
  }

  chunk(chunk: Buffer): void {
    if (onlyPingPong(chunk)) return;
    this.touched();
    this.listen(false);
    this.resumeTimer = setTimeout(resumeWatch, this.tracker.intervalMs, this);
    this.resumeTimer.unref();
  }

  resume(): void {
    this.resumeTimer = undefined;
    if (!this.stopped) this.listen(true);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.resumeTimer);
    this.listen(false);
    for (const source of this.sources) source[WATCH] = undefined;
  }

  private listen(on: boolean): void {
    if (on === this.listening) return;
    this.listening = on;
    if (this.relayed) return;
    for (const source of this.sources) {
      if (on) source.on('data', onWatchedChunk);
      else source.removeListener('data', onWatchedChunk);
    }
  }
}
