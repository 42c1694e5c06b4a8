import { randomBytes } from 'node:crypto';
import type { Caller, Probe, ProbeContext, ProbeResponse, SetupStep } from './model.js';
import { bindShape, shapeMismatch, substitute, substituteDeep } from './shape.js';

/**
 * Runs the JupyterHub REST probes (jupyterhub-probes.ts) against any hub that speaks JupyterHub's API:
 * Sifu in the conformance test, JupyterHub itself in the calibration benchmark. The runner makes its own
 * users, tokens and group through the API with the admin token, runs the probes in table order (each
 * probe's `setup` puts the state it needs in place first) and removes what it made.
 */
/**
 * The hub to probe. It must allow named servers, NAMED_SERVER_LIMIT per user (JupyterHub's
 * `allow_named_servers` and `named_server_limit_per_user`), and start servers that become ready.
 */
export interface ProbeTarget {
  /** Origin serving `/hub/api/`. */
  apiUrl: string;
  /** A token holding every scope (JupyterHub: the admin role; Sifu: SIFU_ADMIN_TOKEN). */
  adminToken: string;
  /** Origin serving the servers' `/user/<name>/` paths (default: apiUrl, as with JupyterHub's proxy). */
  serverOrigin?: string;
  /** How long a server may take to become ready (default 60 s). */
  serverReadyTimeoutMs?: number;
}

export interface ProbeResult {
  id: string;
  since?: string;
  pass: boolean;
  /** What the probe expected, in words. */
  expected: string;
  /** What came back (status and the start of the body), or why the probe could not run. */
  got: string;
}

const NAMED_SERVER = 'nb1';
const SECOND_NAMED_SERVER = 'nb2';
const BODY_LIMIT = 600;

/** Reads a body for at most `ms` (an event stream may stay open): whatever arrived by then. */
async function readBody(res: Response, ms: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    let timer: NodeJS.Timeout | undefined;
    const chunk = await Promise.race([
      reader.read(),
      new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), left);
      }),
    ]);
    clearTimeout(timer);
    if (chunk === 'timeout' || chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  await reader.cancel().catch(() => {});
  return text;
}

function describeExpectation(probe: Probe): string {
  const statuses = [probe.expect.status].flat().join(' or ');
  const parts = [`${statuses}`];
  if (probe.expect.headers) parts.push(`headers ${Object.keys(probe.expect.headers).join(', ')}`);
  if (probe.expect.json) parts.push('JSON of the documented shape');
  if (probe.expect.check) parts.push('the documented effect');
  return parts.join(', ');
}

function describeResponse(res: ProbeResponse): string {
  const body = res.text.length > BODY_LIMIT ? `${res.text.slice(0, BODY_LIMIT)}...` : res.text;
  return `${res.status} ${body.replace(/\s+/g, ' ').trim()}`;
}

/** The named servers a user may have, as the probed hub must be configured. */
export const NAMED_SERVER_LIMIT = 2;

/** Runs every probe against `target`; resolves with one result per probe, in table order. */
export async function runProbes(
  target: ProbeTarget,
  probes: readonly Probe[],
  options: { log?: (line: string) => void } = {},
): Promise<ProbeResult[]> {
  const log = options.log ?? (() => {});
  const prefix = `p${randomBytes(3).toString('hex')}`;
  const user = `${prefix}-ada`;
  const other = `${prefix}-bob`;
  const group = `${prefix}-grp`;
  const tokens: Record<string, string> = {};
  const groupsMade = new Set<string>([group]);
  const readyTimeout = target.serverReadyTimeoutMs ?? 60_000;

  const request = async (
    method: string,
    path: string,
    init: {
      token?: string;
      body?: unknown;
      headers?: Record<string, string>;
      readMs?: number;
      base?: 'api' | 'server';
    } = {},
  ): Promise<ProbeResponse> => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.token !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
      headers.authorization = `token ${init.token}`;
    }
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/json';
      }
    }
    const url =
      init.base === 'server'
        ? `${target.serverOrigin ?? target.apiUrl}${path}`
        : `${target.apiUrl}/hub/api${path}`;
    const res = await fetch(url, {
      method,
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(60_000),
    });
    const text = await readBody(res, init.readMs ?? 30_000);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, text, json };
  };

  const tokenOf = (caller: Caller): string | undefined => {
    switch (caller) {
      case 'admin':
        return target.adminToken;
      case 'user':
        return tokens.user;
      case 'other':
        return tokens.other;
      case 'bad-token':
        return `not-a-token-${prefix}`;
      case 'none':
        return undefined;
    }
  };

  const asAdmin = (method: string, path: string, body?: unknown) =>
    request(method, path, { token: target.adminToken, body });

  const must = async (what: string, res: Promise<ProbeResponse>, ok: number[]): Promise<ProbeResponse> => {
    const answer = await res;
    if (!ok.includes(answer.status)) throw new Error(`${what}: ${describeResponse(answer)}`);
    return answer;
  };

  const serverOf = async (name: string, serverName: string, includeStopped = false) => {
    const res = await must(
      `GET /users/${name}`,
      asAdmin('GET', `/users/${name}${includeStopped ? '?include_stopped_servers' : ''}`),
      [200],
    );
    const servers = (res.json as { servers?: Record<string, { ready?: boolean; pending?: unknown }> })
      .servers;
    return servers?.[serverName];
  };

  const serverPath = (owner: string, serverName: string) =>
    serverName === '' ? `/users/${owner}/server` : `/users/${owner}/servers/${serverName}`;

  const waitForServer = async (owner: string, serverName: string, want: 'ready' | 'gone') => {
    const deadline = Date.now() + readyTimeout;
    for (;;) {
      const server = await serverOf(owner, serverName);
      if (want === 'ready' ? server?.ready === true : !server || (!server.ready && !server.pending)) return;
      if (Date.now() > deadline) {
        throw new Error(`server '${serverName}' of ${owner} not ${want} in time: ${JSON.stringify(server)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  /**
   * `serverName` of `owner` ready, and (for `{user}`) none of their other servers running: only the probe
   * `named.alongside-default` asks for two servers of one user at once.
   */
  const ensureRunning = async (serverName: string, owner = user) => {
    if (owner === user) {
      for (const other of ['', NAMED_SERVER, SECOND_NAMED_SERVER]) {
        if (other !== serverName && (await serverOf(owner, other))) await ensureStopped(other, owner);
      }
    }
    const server = await serverOf(owner, serverName);
    const path = serverPath(owner, serverName);
    if (server?.ready !== true && !server?.pending)
      await must(`POST ${path}`, asAdmin('POST', path, {}), [201, 202]);
    await waitForServer(owner, serverName, 'ready');
  };

  const ensureStopped = async (serverName: string, owner = user) => {
    const server = await serverOf(owner, serverName);
    const path = serverPath(owner, serverName);
    if (server) {
      await waitForServer(owner, serverName, 'ready').catch(() => {});
      await must(`DELETE ${path}`, asAdmin('DELETE', path), [202, 204]);
    }
    await waitForServer(owner, serverName, 'gone');
  };

  const runSetup = async (step: SetupStep, values: Record<string, string>) => {
    switch (step) {
      case 'fresh-user':
        await must(`POST /users/${values.fresh}`, asAdmin('POST', `/users/${values.fresh}`), [201]);
        return;
      case 'fresh-user-server-running':
        await must(`POST /users/${values.fresh}`, asAdmin('POST', `/users/${values.fresh}`), [201]);
        return ensureRunning('', values.fresh);
      case 'fresh-group':
        groupsMade.add(values.freshGroup as string);
        await must(
          `POST /groups/${values.freshGroup}`,
          asAdmin('POST', `/groups/${values.freshGroup}`),
          [201],
        );
        return;
      case 'fresh-token': {
        const made = await must(
          `POST /users/${user}/tokens`,
          asAdmin('POST', `/users/${user}/tokens`, { note: 'probe: to be revoked' }),
          [201],
        );
        const { id, token } = made.json as { id: string; token: string };
        values.freshTokenId = id;
        values.freshToken = token;
        return;
      }
      case 'user-in-group':
        await must(
          `POST /groups/${group}/users`,
          asAdmin('POST', `/groups/${group}/users`, { users: [user] }),
          [200],
        );
        return;
      case 'server-running':
        return ensureRunning('');
      case 'server-stopped':
        return ensureStopped('');
      case 'named-server-running':
        return ensureRunning(NAMED_SERVER);
      case 'named-server-stopped':
        // Stopped but kept: JupyterHub keeps a stopped named server's record until it is removed.
        await ensureRunning(NAMED_SERVER);
        return ensureStopped(NAMED_SERVER);
      case 'named-servers-at-limit':
        // NAMED_SERVER_LIMIT is 2: one kept while stopped and one running, as JupyterHub counts both.
        await ensureRunning(NAMED_SERVER);
        await ensureStopped(NAMED_SERVER);
        return ensureRunning(SECOND_NAMED_SERVER);
    }
  };

  const results: ProbeResult[] = [];
  const brokenSetups = new Map<SetupStep, string>();
  try {
    await must('POST /users', asAdmin('POST', '/users', { usernames: [user, other] }), [201]);
    for (const [who, name] of [
      ['user', user],
      ['other', other],
    ] as const) {
      const made = await must(
        `POST /users/${name}/tokens`,
        asAdmin('POST', `/users/${name}/tokens`, { note: 'probe fixture' }),
        [201],
      );
      const { id, token } = made.json as { id: string; token: string };
      tokens[who] = token;
      tokens[`${who}Id`] = id;
    }
    // Without groups on the hub the group probes fail, each on its own; the rest still run.
    await asAdmin('POST', `/groups/${group}`).catch(() => undefined);

    for (const [index, probe] of probes.entries()) {
      const values: Record<string, string> = {
        user,
        other,
        group,
        server: NAMED_SERVER,
        prefix,
        fresh: `${prefix}-f${index}`,
        freshGroup: `${prefix}-g${index}`,
        userToken: tokens.user as string,
        userTokenId: tokens.userId as string,
        now: new Date().toISOString(),
      };
      const expected = describeExpectation(probe);
      const ctx: ProbeContext = {
        values,
        request: (method, path, init = {}) =>
          request(method, substitute(path, values), {
            token: init.token ?? (init.as ? tokenOf(init.as) : target.adminToken),
            body: init.body === undefined ? undefined : substituteDeep(init.body, values),
            headers: init.headers,
            readMs: init.readMs,
          }),
      };
      let got = '';
      let pass = false;
      try {
        for (const step of probe.setup ?? []) {
          const broken = brokenSetups.get(step);
          if (broken) throw new Error(`setup ${step} failed before, not tried again: ${broken}`);
          try {
            await runSetup(step, values);
          } catch (err) {
            const message = (err as Error).message;
            // A server that never became ready will not for the next probe either: spare the wait.
            if (message.includes('in time')) brokenSetups.set(step, message);
            throw new Error(`setup ${step} failed: ${message}`);
          }
        }
        values.now = new Date().toISOString();
        const res = await request(probe.method, substitute(probe.path, values), {
          token: tokenOf(probe.as),
          body: probe.body === undefined ? undefined : substituteDeep(probe.body, values),
          headers: probe.headers
            ? (substituteDeep(probe.headers, values) as Record<string, string>)
            : undefined,
          readMs: probe.expect.streamMs,
          base: probe.base,
        });
        got = describeResponse(res);
        const problems: string[] = [];
        const statuses = [probe.expect.status].flat();
        if (!statuses.includes(res.status)) problems.push(`status ${res.status}`);
        for (const [name, pattern] of Object.entries(probe.expect.headers ?? {})) {
          const value = res.headers.get(name);
          if (value === null) problems.push(`no ${name} header`);
          else if (!pattern.test(value)) problems.push(`${name}: ${value}`);
        }
        if (problems.length === 0 && probe.expect.json) {
          const miss = shapeMismatch(res.json, bindShape(probe.expect.json, values));
          if (miss) problems.push(miss);
        }
        if (problems.length === 0 && probe.expect.check) {
          const miss = await probe.expect.check(res, ctx);
          if (miss) problems.push(miss);
        }
        pass = problems.length === 0;
        if (!pass) got = `${problems.join('; ')} — ${got}`;
      } catch (err) {
        got = (err as Error).message;
      }
      results.push({ id: probe.id, since: probe.since, pass, expected, got });
      log(`${pass ? 'pass' : 'FAIL'} ${probe.id}${pass ? '' : `: expected ${expected}; got ${got}`}`);
    }
  } finally {
    await cleanUp(asAdmin, prefix, groupsMade);
  }
  return results;
}

/** Stops and deletes every user whose name starts with the run's prefix, and the run's groups. */
async function cleanUp(
  asAdmin: (method: string, path: string, body?: unknown) => Promise<ProbeResponse>,
  prefix: string,
  groups: Set<string>,
): Promise<void> {
  const listed = await asAdmin('GET', '/users').catch(() => undefined);
  const names = Array.isArray(listed?.json)
    ? (listed.json as Array<{ name?: string }>)
        .map((u) => u.name ?? '')
        .filter((n) => n.startsWith(`${prefix}-`))
    : [`${prefix}-ada`, `${prefix}-bob`];
  for (const name of names) {
    for (const server of [NAMED_SERVER, SECOND_NAMED_SERVER]) {
      await asAdmin('DELETE', `/users/${name}/servers/${server}`, { remove: true }).catch(() => {});
    }
    await asAdmin('DELETE', `/users/${name}/server`).catch(() => {});
    // JupyterHub refuses to delete a user while a server is stopping: retry a while.
    for (let attempt = 0; attempt < 50; attempt++) {
      const res = await asAdmin('DELETE', `/users/${name}`).catch(() => undefined);
      if (!res || res.status === 204 || res.status === 404) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  for (const group of groups) await asAdmin('DELETE', `/groups/${group}`).catch(() => {});
}
