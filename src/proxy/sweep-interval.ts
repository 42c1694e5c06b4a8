/**
 * How often the proxy's idle sweeps run for an idle bound of `idleMs` (raw client connections, pooled
 * server connections, relayed WebSockets): once a second, or four times per bound when it is shorter
 * (tests), so a connection is closed at most a quarter of its bound (or a second) late.
 */
export const sweepIntervalMs = (idleMs: number, most = 1_000): number =>
  Math.min(most, Math.max(10, idleMs / 4));
