/**
 * Activity reporting: the culler learns that a route is in use, at most once per interval per
 * route, so the hook stays cheap whatever the traffic.
 */

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
    intervalMs = 1000,
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

/**
 * The per-chunk hook of one relayed WebSocket (both directions): a chunk that is not only pings and
 * pongs is the route's activity. Made here, away from the upgrade's scope, so that the hook living as
 * long as the socket does not keep the upgrade request and its headers alive with it.
 */
export function webSocketActivity(
  tracker: ActivityTracker,
  userName: string,
  serverName: string,
): (chunk: Buffer) => void {
  return (chunk) => {
    if (!onlyPingPong(chunk)) tracker.touch(userName, serverName);
  };
}
