/**
 * Every metric Sifu exports at `/hub/metrics`, in one registry. JupyterHub's names (and labels) where they
 * mean the same thing, so its dashboards and alerts work unchanged; `sifu_*` for what JupyterHub has not.
 * Each room records where the thing happens; values that are a state (running servers, users) are read
 * at scrape time from the source the composition root sets (`setHubGauges`).
 *
 * With `workers` > 1 each worker has this registry and the supervisor sums them (`cluster.ts`): each
 * metric's `aggregator` says how (counters and histograms add up; a state every worker sees alike is
 * taken once).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();

const registers = [registry];

/** Seconds, for request-sized things: 5 ms .. 10 s. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds, for a server start: they take a while (JupyterHub's buckets). */
const SPAWN_BUCKETS = [0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 180, 300, 600];

export const requestDuration = new Histogram({
  name: 'jupyterhub_request_duration_seconds',
  help: 'Duration of hub HTTP requests (handler: the route pattern)',
  labelNames: ['method', 'handler', 'code'] as const,
  buckets: REQUEST_BUCKETS,
  registers,
});

/** `status` values JupyterHub uses; Sifu records success and failure (a burst queues, it is not refused). */
export const SPAWN_STATUSES = [
  'success',
  'failure',
  'already-pending',
  'throttled',
  'too-many-users',
] as const;
export const spawnDuration = new Histogram({
  name: 'jupyterhub_server_spawn_duration_seconds',
  help: 'Time a server start took, from the claim to answering (or failing)',
  labelNames: ['status'] as const,
  buckets: SPAWN_BUCKETS,
  registers,
});

export const serverPollDuration = new Histogram({
  name: 'jupyterhub_server_poll_duration_seconds',
  help: 'Time taken to poll whether a server is running',
  labelNames: ['status'] as const,
  buckets: REQUEST_BUCKETS,
  registers,
});

export const serverStopDuration = new Histogram({
  name: 'jupyterhub_server_stop_seconds',
  help: 'Time taken to stop a server',
  labelNames: ['status'] as const,
  buckets: SPAWN_BUCKETS,
  registers,
});

export const checkRoutesDuration = new Histogram({
  name: 'jupyterhub_check_routes_duration_seconds',
  help: "Time taken to bring this process's routes in line with the store",
  buckets: REQUEST_BUCKETS,
  registers,
});

export const proxyPollDuration = new Histogram({
  name: 'jupyterhub_proxy_poll_duration_seconds',
  help: 'Time taken to read every route (the running servers in the store) while checking routes',
  buckets: REQUEST_BUCKETS,
  registers,
});

export const proxyAddDuration = new Histogram({
  name: 'jupyterhub_proxy_add_duration_seconds',
  help: 'Time taken to publish a ready server as routable (its row marked running, its route added)',
  labelNames: ['status'] as const,
  buckets: REQUEST_BUCKETS,
  registers,
});

export const proxyDeleteDuration = new Histogram({
  name: 'jupyterhub_proxy_delete_duration_seconds',
  help: 'Time taken to withdraw a stopping server from routing (its route removed, its row no longer running)',
  labelNames: ['status'] as const,
  buckets: REQUEST_BUCKETS,
  registers,
});

export const hubStartupDuration = new Histogram({
  name: 'jupyterhub_hub_startup_duration_seconds',
  help: 'Time from the start of this Sifu process to serving (the store opened, servers re-adopted)',
  buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers,
});

export const initSpawnersDuration = new Histogram({
  name: 'jupyterhub_init_spawners_duration_seconds',
  help: 'Time taken to re-adopt the servers the store says are running, at start',
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers,
});

/** How often the event loop is probed; a busy loop shows as intervals longer than this. */
export const EVENT_LOOP_RESOLUTION_S = 0.05;
export const eventLoopInterval = new Histogram({
  name: 'jupyterhub_event_loop_interval_seconds',
  help: `Time between two runs of a ${EVENT_LOOP_RESOLUTION_S * 1000} ms timer (longer: the event loop was busy)`,
  buckets: [0.05, 0.06, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10],
  registers,
});

for (const status of SPAWN_STATUSES) spawnDuration.zero({ status });
for (const status of ['running', 'stopped']) serverPollDuration.zero({ status });
for (const status of ['success', 'failure']) {
  serverStopDuration.zero({ status });
  proxyAddDuration.zero({ status });
  proxyDeleteDuration.zero({ status });
}

/** The state gauges' source: set by the composition root (the routes and the store are not down here). */
export interface HubGauges {
  /** Servers this host runs (routed, answering). */
  runningServers(): number;
  /** Users, and those active in each period (JupyterHub's 24h/7d/30d). */
  users(): Promise<{ total: number; active: Record<ActivePeriod, number> }>;
}
export type ActivePeriod = '24h' | '7d' | '30d';
export const ACTIVE_PERIODS: Record<ActivePeriod, number> = {
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};

let gauges: HubGauges | undefined;

/** Sets where the state gauges read from; returns the function that unsets it (Sifu stopping). */
export function setHubGauges(source: HubGauges): () => void {
  gauges = source;
  return () => {
    if (gauges === source) gauges = undefined;
  };
}

new Gauge({
  name: 'jupyterhub_running_servers',
  help: 'Servers running on this host',
  registers,
  // Every worker of a host routes the host's servers: one answer, the most up to date.
  aggregator: 'max',
  collect() {
    this.set(gauges?.runningServers() ?? 0);
  },
});

/**
 * One read of the users per scrape, shared by the two gauges below: a registry starts every metric's
 * `collect` at once, so the read in flight is shared and forgotten when it settles. Kept longer (it was
 * kept a second), a scrape could report the users as they were before one just added.
 */
let usersRead: ReturnType<HubGauges['users']> | undefined;
function readUsers(): ReturnType<HubGauges['users']> | undefined {
  if (!gauges) return undefined;
  if (!usersRead) {
    const read = gauges.users();
    usersRead = read;
    const done = () => {
      if (usersRead === read) usersRead = undefined;
    };
    read.then(done, done);
  }
  return usersRead;
}

new Gauge({
  name: 'jupyterhub_total_users',
  help: 'Users known to the hub',
  registers,
  aggregator: 'max',
  async collect() {
    this.set((await readUsers())?.total ?? 0);
  },
});

new Gauge({
  name: 'jupyterhub_active_users',
  help: 'Users with activity in the last period (24h, 7d, 30d)',
  labelNames: ['period'] as const,
  registers,
  aggregator: 'max',
  async collect() {
    const users = await readUsers();
    for (const period of Object.keys(ACTIVE_PERIODS) as ActivePeriod[]) {
      this.set({ period }, users?.active[period] ?? 0);
    }
  },
});

/**
 * Proxy counts live in plain arrays the hot path increments (no label hashing, no allocation per
 * request); the counters read them at scrape time.
 */
const proxyByClass = new Float64Array(6);
const CODE_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** The notebook port answered (or relayed an answer) with `status`. */
export function recordProxyResponse(status: number): void {
  const index = (status / 100) | 0;
  if (index >= 1 && index <= 5) proxyByClass[index] = (proxyByClass[index] as number) + 1;
}

new Counter({
  name: 'sifu_proxy_requests_total',
  help: 'Responses of the notebook proxy, by status class',
  labelNames: ['code'] as const,
  registers,
  collect() {
    this.reset();
    CODE_CLASSES.forEach((code, i) => {
      this.inc({ code }, proxyByClass[i + 1] as number);
    });
  },
});

export const UPSTREAM_ERRORS = ['refused', 'broken', 'timeout'] as const;
export type UpstreamError = (typeof UPSTREAM_ERRORS)[number];
const upstreamErrors = new Float64Array(UPSTREAM_ERRORS.length);
const UPSTREAM_INDEX: Record<UpstreamError, number> = { refused: 0, broken: 1, timeout: 2 };

/** A learner's server could not be reached (refused), broke the exchange, or did not answer in time. */
export function recordUpstreamError(reason: UpstreamError): void {
  const i = UPSTREAM_INDEX[reason];
  upstreamErrors[i] = (upstreamErrors[i] as number) + 1;
}

new Counter({
  name: 'sifu_proxy_upstream_errors_total',
  help: "Proxied requests a learner's server refused, broke or left unanswered",
  labelNames: ['reason'] as const,
  registers,
  collect() {
    this.reset();
    UPSTREAM_ERRORS.forEach((reason, i) => {
      this.inc({ reason }, upstreamErrors[i] as number);
    });
  },
});

/** WebSockets relayed after their 101, by relay: `native` (native-relay.ts's thread) or `javascript` (the event loop). */
export const webSocketsRelayed = new Counter({
  name: 'sifu_proxy_websockets_total',
  help: 'WebSockets relayed after their 101, by relay: native (its own thread) or javascript (the event loop)',
  labelNames: ['relay'] as const,
  registers,
});

export const warmPoolIdle = new Gauge({
  name: 'sifu_warm_pool_idle_servers',
  help: 'Warm servers ready to be claimed',
  registers,
});

export const warmPoolWarming = new Gauge({
  name: 'sifu_warm_pool_warming_servers',
  help: 'Warm servers being started',
  registers,
});

export const warmPoolClaims = new Counter({
  name: 'sifu_warm_pool_claims_total',
  help: 'Starts that asked the warm pool: warm (a pool server was claimed) or cold (none was idle)',
  labelNames: ['result'] as const,
  registers,
});
for (const result of ['warm', 'cold']) warmPoolClaims.inc({ result }, 0);

export const startQueueLength = new Gauge({
  name: 'sifu_start_queue_length',
  help: 'Starts waiting for a free slot (`spawner.maxConcurrentStarts`)',
  registers,
});

export const startsRunning = new Gauge({
  name: 'sifu_starts_running',
  help: 'Starts holding a slot',
  registers,
});

export const leaseConflicts = new Counter({
  name: 'sifu_home_lease_conflicts_total',
  help: "Starts refused because another server held the learner's home (the single-writer lease)",
  registers,
});

export const culledTotal = new Counter({
  name: 'sifu_culled_total',
  help: 'Idle servers stopped and idle users deleted by the culler',
  labelNames: ['kind'] as const,
  registers,
});
for (const kind of ['server', 'user']) culledTotal.inc({ kind }, 0);

new Gauge({
  name: 'sifu_worker_processes',
  help: 'Sifu processes whose metrics this answer includes (the workers of `sifu serve`)',
  registers,
  aggregator: 'sum',
  collect() {
    this.set(1);
  },
});

/** Seconds since `startedAt` (from `performance.now()`). */
export function secondsSince(startedAt: number): number {
  return (performance.now() - startedAt) / 1000;
}

let nodeMetrics = false;

/**
 * Probes the event loop every `EVENT_LOOP_RESOLUTION_S`, recording the interval actually seen, and starts
 * Node's own metrics (`process_*`, `nodejs_*`) in this process: only where metrics are served, so that
 * the supervisor of `sifu serve`'s workers, which only gathers theirs, keeps no timer. prom-client's
 * event-loop lag histogram samples at the probe's period (its default, 10 ms, woke an idle process 100
 * times a second), and both timers are started in the same turn of the loop: they fall due together and
 * wake it once. Returns the function that stops the probe (Node's metrics stay: they cannot be stopped).
 */
export function watchEventLoop(): () => void {
  if (!nodeMetrics) {
    nodeMetrics = true;
    collectDefaultMetrics({
      register: registry,
      eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_S * 1000,
    });
  }
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    eventLoopInterval.observe((now - last) / 1000);
    last = now;
  }, EVENT_LOOP_RESOLUTION_S * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
