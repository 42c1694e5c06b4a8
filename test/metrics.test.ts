/**
 * `/hub/metrics` as an operator's Prometheus sees it: the built Sifu (default config, real Jupyter)
 * scraped by Debian's Prometheus with a `read:metrics` token, two learners' servers started through the
 * API, and PromQL over the scraped data agreeing with what the API reports. Also: who may read the
 * metrics, the option that opens them, the Grafana dashboard's expressions, and the metrics of a
 * process group (`workers: 2`) answered as one.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api } from './support/api.js';
import { BUILT_ADMIN_TOKEN, type BuiltSifu, startBuiltSifu } from './support/built-sifu.js';
import { waitFor } from './support/process.js';
import { type Prometheus, startPrometheus } from './support/prometheus.js';
import { Client, REPO } from './support/sifu.js';

const admin = BUILT_ADMIN_TOKEN;

/** One series' value from exposition text (`name{labels} value`), summed over every line that matches. */
function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const set = match[2] ?? '';
    if (!Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) continue;
    sum += Number(match[3]);
    seen = true;
  }
  assert.ok(seen, `no ${name} ${JSON.stringify(labels)} in the scrape`);
  return sum;
}

async function scrape(sifu: { hubUrl: string }, token?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${sifu.hubUrl}/hub/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, text: await res.text() };
}

/** A token of a new user `name` with exactly `scopes`. */
async function tokenOf(sifu: BuiltSifu, name: string, scopes: string[]): Promise<string> {
  assert.equal((await api(sifu, `/users/${name}`, { method: 'POST', token: admin })).status, 201);
  const made = await api(sifu, `/users/${name}/tokens`, { method: 'POST', token: admin, body: { scopes } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  return made.body.token as string;
}

/** Starts `name`'s server through the API and waits until the API says it is ready. */
async function startServer(sifu: BuiltSifu, name: string): Promise<void> {
  const started = await api(sifu, `/users/${name}/server`, { method: 'POST', token: admin });
  assert.ok([201, 202].includes(started.status), JSON.stringify(started.body));
  await waitFor(
    `${name}'s server to be ready`,
    async () => (await api(sifu, `/users/${name}`, { token: admin })).body?.servers?.['']?.ready === true,
    90_000,
  );
}

/** Running servers as `GET /hub/api/users` reports them. */
async function runningFromApi(sifu: BuiltSifu): Promise<number> {
  const users = await api(sifu, '/users', { token: admin });
  assert.equal(users.status, 200);
  return (users.body as Array<{ servers: Record<string, { ready: boolean }> }>).reduce(
    (n, user) => n + Object.values(user.servers ?? {}).filter((s) => s.ready).length,
    0,
  );
}

async function stopServers(sifu: BuiltSifu | undefined, names: string[]): Promise<void> {
  if (!sifu) return;
  // Learners' servers outlive Sifu by design: stopped here, even after a failure half-way.
  for (const name of names) {
    await api(sifu, `/users/${name}/server`, { method: 'DELETE', token: admin }).catch(() => {});
  }
}

describe('metrics scraped by Prometheus', () => {
  let sifu: BuiltSifu;
  let prometheus: Prometheus | undefined;
  let scraperToken = '';
  const learners = ['ada', 'grace'];

  before(async () => {
    sifu = await startBuiltSifu({ SIFU_CULLER_ENABLED: 'false' });
    scraperToken = await tokenOf(sifu, 'scraper', ['read:metrics']);
  });
  after(async () => {
    await prometheus?.stop();
    await stopServers(sifu, learners);
    await sifu?.stop();
  });

  test('PromQL over the scraped data returns the running servers the API reports; spawns are counted', async () => {
    for (const name of learners) {
      assert.equal((await api(sifu, `/users/${name}`, { method: 'POST', token: admin })).status, 201);
    }
    await Promise.all(learners.map((name) => startServer(sifu, name)));
    const fromApi = await runningFromApi(sifu);
    assert.equal(fromApi, 2);

    prometheus = await startPrometheus({
      target: new URL(sifu.hubUrl).host,
      metricsPath: '/hub/metrics',
      bearerToken: scraperToken,
    });
    const p = prometheus;
    // The first scrape that Prometheus stored after the servers were ready.
    const running = await waitFor(
      'a scrape with the running servers',
      async () => {
        const result = await p.query('jupyterhub_running_servers');
        return result.length > 0 ? result : undefined;
      },
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${p.output()}`);
    });
    assert.equal(running.length, 1);
    assert.equal(Number(running[0]?.value[1]), fromApi);
    const up = await p.query('up{job="sifu"}');
    assert.equal(up[0]?.value[1], '1', 'Prometheus scraped with its token');

    // Two starts, both successful: the histogram's count says so, in Prometheus and in the scrape.
    const spawns = await p.query('sum(jupyterhub_server_spawn_duration_seconds_count{status="success"})');
    assert.equal(Number(spawns[0]?.value[1]), learners.length);
    const direct = await scrape(sifu, scraperToken);
    assert.equal(direct.status, 200);
    assert.match(direct.text, /^# TYPE jupyterhub_server_spawn_duration_seconds histogram$/m);
    assert.equal(
      sampleSum(direct.text, 'jupyterhub_server_spawn_duration_seconds_count', { status: 'success' }),
      2,
    );
    assert.equal(
      sampleSum(direct.text, 'jupyterhub_server_spawn_duration_seconds_count', { status: 'failure' }),
      0,
    );
    assert.equal(
      sampleSum(direct.text, 'jupyterhub_hub_startup_duration_seconds_count'),
      1,
      'one process started',
    );
    // Users: the two learners and the scraper; the hub's requests so far are in the request histogram.
    assert.equal(sampleSum(direct.text, 'jupyterhub_total_users'), 3);
    // One start asked of the API per learner, under the route's pattern (not the path with its name).
    assert.equal(
      sampleSum(direct.text, 'jupyterhub_request_duration_seconds_count', {
        method: 'POST',
        handler: '/hub/api/users/:name/server',
      }),
      learners.length,
    );
  });

  test('a learner stopped: the next scrape and PromQL follow the API', async () => {
    const p = prometheus as Prometheus;
    assert.equal((await api(sifu, '/users/grace/server', { method: 'DELETE', token: admin })).status, 204);
    const fromApi = await runningFromApi(sifu);
    assert.equal(fromApi, 1);
    await waitFor(
      'Prometheus to see one running server',
      async () => Number((await p.query('jupyterhub_running_servers'))[0]?.value[1]) === fromApi,
      30_000,
    );
    const direct = await scrape(sifu, scraperToken);
    assert.equal(sampleSum(direct.text, 'jupyterhub_server_stop_seconds_count', { status: 'success' }), 1);
  });

  test('proxy responses are counted by class', async () => {
    const before = await scrape(sifu, scraperToken);
    const ada = new Client();
    const { res } = await ada.signIn(sifu, 'ada');
    assert.equal(res.status, 200);
    const at = (await scrape(sifu, scraperToken)).text;
    const count = (text: string, code: string) => sampleSum(text, 'sifu_proxy_requests_total', { code });
    for (let i = 0; i < 5; i++) {
      const status = await ada.request(`${sifu.notebookUrl}/user/ada/api/status`);
      assert.equal(status.status, 200);
      await status.arrayBuffer();
    }
    const missing = await ada.request(`${sifu.notebookUrl}/user/ada/api/contents/no-such-file`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    const after = (await scrape(sifu, scraperToken)).text;
    assert.equal(count(after, '2xx') - count(at, '2xx'), 5);
    assert.equal(count(after, '4xx') - count(at, '4xx'), 1);
    // Signing in went through the proxy too: a redirect (the handoff) and the page.
    assert.ok(count(at, '3xx') > count(before.text, '3xx'));
  });

  test('without the read:metrics scope: 403, with a stable code', async () => {
    const none = await fetch(`${sifu.hubUrl}/hub/metrics`);
    assert.equal(none.status, 403);
    assert.equal(((await none.json()) as { code: string }).code, 'SIFU_ERR_MISSING_SCOPE');
    const learnerToken = await tokenOf(sifu, 'learner', ['servers', 'tokens']);
    const other = await scrape(sifu, learnerToken);
    assert.equal(other.status, 403);
    assert.equal((JSON.parse(other.text) as { code: string }).code, 'SIFU_ERR_MISSING_SCOPE');
    const unknown = await scrape(sifu, 'no-such-token-0123456789');
    assert.equal(unknown.status, 403);
    // Admin implies read:metrics.
    assert.equal((await scrape(sifu, admin)).status, 200);
  });

  test('every expression of the Grafana dashboard parses in Prometheus and names metrics Sifu exports', async () => {
    const p = prometheus as Prometheus;
    const dashboard = JSON.parse(readFileSync(join(REPO, 'docs/grafana/sifu-dashboard.json'), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    const exported = new Set(
      [...(await scrape(sifu, scraperToken)).text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]),
    );
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((t) => ({ panel, expr: t.expr })));
    assert.ok(exprs.length >= 10);
    const titles = dashboard.panels.map((panel) => panel.title.toLowerCase()).join(' | ');
    for (const topic of [
      'running servers',
      'start duration',
      'hub request',
      'upstream errors',
      'pool',
      'queue',
    ]) {
      assert.ok(titles.includes(topic), `a panel about ${topic}`);
    }
    for (const { panel, expr } of exprs) {
      const names = [...expr.matchAll(/\b((?:jupyterhub|sifu)_[a-z0-9_]+)/g)].map((m) => m[1] as string);
      assert.ok(names.length > 0, `${panel.title}: ${expr} names no metric`);
      for (const name of names) {
        const base = name.replace(/_(bucket|count|sum)$/, '');
        assert.ok(exported.has(name) || exported.has(base), `${panel.title}: ${name} is not exported`);
      }
      // Grafana's interval variable, as Grafana would fill it in.
      await p.query(expr.replaceAll('$__rate_interval', '1m'));
    }
  });
});

describe('metrics options', () => {
  let sifu: BuiltSifu | undefined;
  after(async () => sifu?.stop());

  test('metrics.requireAuth off: anyone who reaches the hub port reads them', async () => {
    sifu = await startBuiltSifu({ SIFU_CULLER_ENABLED: 'false', SIFU_METRICS_REQUIRE_AUTH: 'false' });
    const open = await scrape(sifu);
    assert.equal(open.status, 200);
    assert.match(open.text, /^# TYPE jupyterhub_running_servers gauge$/m);
    assert.equal(sampleSum(open.text, 'jupyterhub_running_servers'), 0);
  });
});

describe('metrics of a process group (workers: 2)', () => {
  let sifu: BuiltSifu | undefined;
  after(async () => {
    await stopServers(sifu, ['ada']);
    await sifu?.stop();
  });

  test('/hub/metrics answers for every worker, whichever one is asked', async () => {
    sifu = await startBuiltSifu({ SIFU_CULLER_ENABLED: 'false', SIFU_WORKERS: '2' });
    const s = sifu;
    // A fresh connection each: the cluster hands connections to its workers in turn.
    const hubGet = (path: string, headers: Record<string, string>) => freshGet(`${s.hubUrl}${path}`, headers);
    const scrapeFresh = async () => {
      const res = await hubGet('/hub/metrics', { authorization: `token ${admin}` });
      assert.equal(res.status, 200, res.body);
      return res.body;
    };
    await waitFor('both workers in the metrics', async () => {
      const text = await scrapeFresh();
      return sampleSum(text, 'sifu_worker_processes') === 2;
    });
    assert.equal((await api(s, '/users/ada', { method: 'POST', token: admin })).status, 201);
    await startServer(s, 'ada');
    const ada = new Client();
    assert.equal((await ada.signIn(s, 'ada')).res.status, 200);

    const count2xx = async () => sampleSum(await scrapeFresh(), 'sifu_proxy_requests_total', { code: '2xx' });
    const before = await count2xx();
    const requests = 20;
    for (let i = 0; i < requests; i++) {
      const res = await freshGet(`${s.notebookUrl}/user/ada/api/status`, { cookie: ada.cookieHeader() });
      assert.equal(res.status, 200, res.body);
    }
    // Whichever worker answers each scrape, the counts are the group's: every request, once.
    for (let i = 0; i < 6; i++) assert.equal((await count2xx()) - before, requests);
    const text = await scrapeFresh();
    assert.equal(sampleSum(text, 'sifu_worker_processes'), 2);
    assert.equal(
      sampleSum(text, 'jupyterhub_hub_startup_duration_seconds_count'),
      2,
      'each worker started once',
    );
    assert.equal(sampleSum(text, 'jupyterhub_server_spawn_duration_seconds_count', { status: 'success' }), 1);
    // A state every worker sees alike is reported once, not once per worker.
    assert.equal(sampleSum(text, 'jupyterhub_running_servers'), 1);
    assert.equal(sampleSum(text, 'jupyterhub_total_users'), 1);
    // Node's own metrics come from the workers, which serve them.
    assert.ok(/^nodejs_eventloop_lag_p99_seconds /m.test(text), 'nodejs_* metrics exported');

    // The supervisor only forks and gathers: nothing wakes it while nobody asks. prom-client's event-loop
    // histogram (started at import, 10 ms) woke it about 100 times a second, an idle cost paid by every
    // message the workers relay.
    const pid = s.child.pid as number;
    const wakeups = async () =>
      Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]);
    const first = await wakeups();
    await new Promise((r) => setTimeout(r, 1000));
    const woken = (await wakeups()) - first;
    assert.ok(woken < 10, `the idle supervisor woke ${woken} times in a second`);
  });
});

/** A GET on a connection of its own (no keep-alive pool: each one may reach another worker). */
function freshGet(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { ...headers, connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('metrics of the burst queue', () => {
  let sifu: BuiltSifu | undefined;
  const learners = ['q1', 'q2', 'q3'];
  after(async () => {
    await stopServers(sifu, learners);
    await sifu?.stop();
  });

  test('starts beyond spawner.maxConcurrentStarts wait in line, and the queue gauge says how many', async () => {
    sifu = await startBuiltSifu({ SIFU_CULLER_ENABLED: 'false', SIFU_SPAWNER_MAX_CONCURRENT_STARTS: '1' });
    const s = sifu;
    for (const name of learners) {
      assert.equal((await api(s, `/users/${name}`, { method: 'POST', token: admin })).status, 201);
    }
    const asked = learners.map((name) => api(s, `/users/${name}/server`, { method: 'POST', token: admin }));
    const gauges = async () => {
      const text = (await scrape(s, admin)).text;
      return {
        waiting: sampleSum(text, 'sifu_start_queue_length'),
        starting: sampleSum(text, 'sifu_starts_running'),
      };
    };
    // One start at a time: while the first runs, the two others wait.
    await waitFor('two starts in line', async () => {
      const now = await gauges();
      return now.waiting === 2 && now.starting === 1;
    });
    for (const answer of await Promise.all(asked)) assert.ok([201, 202].includes(answer.status));
    await waitFor('every start done', async () => (await runningFromApi(s)) === learners.length, 120_000);
    assert.deepEqual(await gauges(), { waiting: 0, starting: 0 });
    const text = (await scrape(s, admin)).text;
    assert.equal(sampleSum(text, 'jupyterhub_server_spawn_duration_seconds_count', { status: 'success' }), 3);
    assert.equal(sampleSum(text, 'jupyterhub_running_servers'), 3);
  });
});
