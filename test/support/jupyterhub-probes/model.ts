import { substitute } from './shape.js';

/**
 * The language of the JupyterHub REST probes: what a probe sends, as whom, what it expects back, and the
 * models of JupyterHub's `rest-api.yml` (components/schemas) as shapes. The probes themselves are in the
 * files beside this one, one per group of paths.
 */

/**
 * Who sends the request: the admin token, the learner fixture `{user}` (a token it made itself, holding
 * what its owner holds), the second learner `{other}`, nobody, or a token the hub never issued.
 */
export type Caller = 'admin' | 'user' | 'other' | 'none' | 'bad-token';

/**
 * State a probe needs, put in place (with the admin token) just before it runs:
 * - `fresh-user`: the user `{fresh}` exists (a name of this probe's own);
 * - `fresh-user-server-running`: so does `{fresh}`, and its default server is ready;
 * - `fresh-group`: the group `{freshGroup}` exists;
 * - `fresh-token`: `{user}` has a new token, `{freshToken}` with id `{freshTokenId}`;
 * - `user-in-group`: `{user}` is a member of `{group}`;
 * - `server-running` / `server-stopped`: `{user}`'s default server is ready (and no other of theirs
 *   running) / not running;
 * - `named-server-running` / `named-server-stopped`: `{user}`'s server `{server}` is ready (their
 *   default one stopped) / stopped but not removed;
 * - `named-servers-at-limit`: `{user}` has as many named servers as the hub allows (two: `{server}`
 *   stopped but kept, and another running).
 */
export type SetupStep =
  | 'fresh-user'
  | 'fresh-user-server-running'
  | 'fresh-group'
  | 'fresh-token'
  | 'user-in-group'
  | 'server-running'
  | 'server-stopped'
  | 'named-server-running'
  | 'named-server-stopped'
  | 'named-servers-at-limit';

/**
 * A JSON shape: a type name, alternatives, an exact value, an array or map of one shape, or an object
 * whose listed fields must be present with their shapes (other fields are allowed).
 */
export type Shape =
  | 'string'
  | 'number'
  | 'boolean'
  | 'null'
  | 'object'
  | 'array'
  | 'date-time'
  | 'any'
  | { oneOf: Shape[] }
  | { equals: unknown }
  | { arrayOf: Shape }
  | { mapOf: Shape }
  | { fields: Record<string, Shape> };

export interface ProbeResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON; undefined when empty or not JSON. */
  json: unknown;
}

/** What a probe's `check` may use: the run's names and further requests (admin token by default). */
export interface ProbeContext {
  /** `user`, `other`, `group`, `server`, `fresh`, `freshGroup`, `userToken`, `userTokenId`, `now`, ... */
  values: Record<string, string>;
  request(
    method: string,
    path: string,
    init?: { as?: Caller; token?: string; body?: unknown; headers?: Record<string, string>; readMs?: number },
  ): Promise<ProbeResponse>;
}

export interface Probe {
  /** Stable, `<area>.<what>`; docs/api.md names probes by it. */
  id: string;
  /** The operation of rest-api.yml this reads, e.g. `GET /users/{name}`. */
  operation: string;
  /**
   * The JupyterHub release that brought the behaviour, when newer than 3.0 (the calibrated floor):
   * such probes run against Sifu but not in the calibration against JupyterHub 3.0.
   */
  since?: '3.2' | '4.x' | '5.x';
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Under `/hub/api`; `{user}` and the other names of ProbeContext.values are filled in. */
  path: string;
  /** `server`: `path` is on the origin serving `/user/<name>/` (through the proxy), not under `/hub/api`. */
  base?: 'api' | 'server';
  as: Caller;
  headers?: Record<string, string>;
  /** JSON body (placeholders filled in); a string is sent as it is, with the JSON content type. */
  body?: unknown;
  setup?: SetupStep[];
  expect: {
    status: number | number[];
    /** Response headers that must be present and match. */
    headers?: Record<string, RegExp>;
    json?: Shape;
    /** A further check of the answer or of its effect: a description of what is wrong, or nothing. */
    check?: (res: ProbeResponse, ctx: ProbeContext) => string | undefined | Promise<string | undefined>;
    /** Read the body for at most this long (event streams); default 30 s. */
    streamMs?: number;
  };
}

const nullable = (shape: Shape): Shape => ({ oneOf: [shape, 'null'] });

/** components/schemas/Server. */
export const SERVER: Shape = {
  fields: {
    name: 'string',
    ready: 'boolean',
    stopped: 'boolean',
    pending: nullable('string'),
    url: 'string',
    progress_url: 'string',
    started: nullable('date-time'),
    last_activity: nullable('date-time'),
    user_options: nullable('object'),
  },
};

/** components/schemas/User, as an admin reads it. */
export const USER: Shape = {
  fields: {
    kind: { equals: 'user' },
    name: 'string',
    admin: 'boolean',
    roles: { arrayOf: 'string' },
    groups: { arrayOf: 'string' },
    server: nullable('string'),
    pending: nullable('string'),
    last_activity: nullable('date-time'),
    servers: { mapOf: SERVER },
  },
};

/** components/schemas/Token. */
export const TOKEN: Shape = {
  fields: {
    id: 'string',
    user: 'string',
    roles: { arrayOf: 'string' },
    scopes: { arrayOf: 'string' },
    note: nullable('string'),
    created: 'date-time',
    expires_at: nullable('date-time'),
    last_activity: nullable('date-time'),
    session_id: nullable('string'),
  },
};

/** components/schemas/NewToken: a Token plus the token itself. */
export const NEW_TOKEN: Shape = {
  fields: { ...(TOKEN as { fields: Record<string, Shape> }).fields, token: 'string' },
};

/** components/schemas/Group as JupyterHub 3.0 sends it (`properties` came in 3.2). */
export const GROUP: Shape = {
  fields: {
    kind: { equals: 'group' },
    name: 'string',
    users: { arrayOf: 'string' },
    roles: { arrayOf: 'string' },
  },
};

/** components/schemas/Pagination. */
export const PAGINATION: Shape = {
  fields: {
    offset: 'number',
    limit: 'number',
    total: 'number',
    next: nullable({ fields: { offset: 'number', limit: 'number', url: 'string' } }),
  },
};

export const paginated = (item: Shape): Shape => ({
  fields: { items: { arrayOf: item }, _pagination: PAGINATION },
});

/** The Accept header that asks JupyterHub (2.0 on) for `{items, _pagination}` instead of a bare list. */
export const PAGINATION_ACCEPT = { accept: 'application/jupyterhub-pagination+json' };

/** JupyterHub's error body: `{status, message}`. */
export const ERROR: Shape = { fields: { status: 'number', message: 'string' } };

// Checks used by several probes. Each returns what is wrong, or nothing.

const namesOf = (list: unknown): string[] | undefined =>
  Array.isArray(list) ? list.map((item) => (item as { name?: string }).name ?? '') : undefined;

/** The answer is a list of models that names every one of `present` and none of `absent`. */
export function listsNames(present: string[], absent: string[] = []) {
  return (res: ProbeResponse, ctx: ProbeContext): string | undefined => {
    const body = res.json as { items?: unknown } | undefined;
    const names = namesOf(Array.isArray(body) ? body : body?.items);
    if (!names) return 'the answer is not a list';
    for (const key of present) {
      const name = ctx.values[key] as string;
      if (!names.includes(name)) return `${name} is not listed`;
    }
    for (const key of absent) {
      const name = ctx.values[key] as string;
      if (names.includes(name)) return `${name} is listed`;
    }
    return undefined;
  };
}

/**
 * A second request, as the admin unless said, must answer `status`. Probes of "unknown X: 404" use it to
 * show the route itself exists (a hub without it answers 404 to anything).
 */
export async function afterwards(
  ctx: ProbeContext,
  method: string,
  path: string,
  status: number,
  init: { as?: Caller; body?: unknown } = {},
): Promise<string | undefined> {
  const res = await ctx.request(method, path, { as: init.as ?? 'admin', body: init.body, readMs: 3_000 });
  return res.status === status
    ? undefined
    : `then ${method} ${substitute(path, ctx.values)} answered ${res.status}, not ${status}`;
}

/** The user model of `name` as the admin reads it (with stopped servers if asked). */
export async function userModel(
  ctx: ProbeContext,
  name: string,
  includeStopped = false,
): Promise<Record<string, any> | undefined> {
  const res = await ctx.request('GET', `/users/${name}${includeStopped ? '?include_stopped_servers' : ''}`);
  return res.status === 200 ? (res.json as Record<string, any>) : undefined;
}

/** The events of a `text/event-stream` body. */
export function events(text: string): Array<Record<string, unknown>> {
  return text
    .split(/\n\n/)
    .map((block) => block.split('\n').find((line) => line.startsWith('data:')))
    .filter((line): line is string => line !== undefined)
    .flatMap((line) => {
      try {
        return [JSON.parse(line.slice(5)) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}
