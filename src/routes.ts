/**
 * The one owner of notebook paths, `/user/<name>/[<server>/]`: building them, parsing them, and the
 * route a path leads to. Pure, no I/O, table-tested.
 */
import { createHash } from 'node:crypto';
import { isValidUsername } from './names.js';

/** Where `/user/<userName>/[<serverName>/]` goes. */
export interface Route {
  userName: string;
  serverName: string;
  /**
   * Where the server listens: an origin (`http://127.0.0.1:45678`), or `unix:<absolute path>` for a server
   * on a unix socket (reachable by nothing but Sifu and the server's own sandbox).
   */
  target: string;
  /** The server's secret token; the proxy adds `Authorization: token <secret>` upstream. */
  secret: string;
  /**
   * Set when the server runs on another host: `target` is that host's relay (`http://<internal>:3336`),
   * and the proxy sends this key in `X-Sifu-Relay-Key` so the relay admits the request.
   */
  relayKey?: string;
}

/** The header a replica presents its peers' relays with (the key all replicas share). */
export const RELAY_KEY_HEADER = 'x-sifu-relay-key';

/** Where a route target points, for a client connection: a unix socket path, or a host and port. */
export type TargetAddress = { path: string } | { host: string; port: number };

/** Parses a route target (see {@link Route.target}); undefined for anything else. */
export function targetAddress(target: string): TargetAddress | undefined {
  if (target.startsWith('unix:/')) {
    const path = target.slice('unix:'.length);
    return path.includes('\0') || path.includes('/../') ? undefined : { path };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' || url.username !== '' || url.password !== '') return undefined;
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') return undefined;
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port === '' ? 80 : Number(url.port) };
}

/** `node:http` request options that reach a target (`socketPath`, or `host` and `port`). */
export function httpAddressOf(
  target: string,
): { socketPath: string } | { host: string; port: number } | undefined {
  const address = targetAddress(target);
  if (!address) return undefined;
  return 'path' in address ? { socketPath: address.path } : address;
}

/** The `Host` header a request to a target carries (`localhost` for a unix socket). */
export const hostHeaderOf = (target: string): string =>
  target.startsWith('unix:') ? 'localhost' : new URL(target).host;

/** The base URL a server is started with and served under: `/user/<name>/` or `/user/<name>/<server>/`. */
export const baseUrlOf = (userName: string, serverName: string): string =>
  serverName ? `/user/${userName}/${serverName}/` : `/user/${userName}/`;

/**
 * Where notebooks are served: the notebook public origin and whether each learner has an origin of
 * their own under it (`<label>.<host>`, as JupyterHub's subdomains) or all share it.
 */
export interface NotebookOrigins {
  /** The notebook public origin, e.g. `http://localhost:3335` or `https://notebooks.example.org`. */
  notebookOrigin: string;
  /** One origin per learner: `<scheme>://<userHostLabel(name)>.<notebook host>[:port]`. */
  userOrigins: boolean;
}

const PLAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The DNS label of a user's origin: the name itself when it is a plain label (letters, digits, inner
 * `-`, at most 63, no `--`), else `u--` and a hash of the name (names may hold `.` and `_`, and reach 64).
 * `--` is never in a plain label, so the two kinds cannot meet.
 */
export function userHostLabel(userName: string): string {
  if (PLAIN_LABEL.test(userName) && !userName.includes('--')) return userName;
  return `u--${createHash('sha256').update(userName).digest('hex').slice(0, 32)}`;
}

/** Memoized: both run on every proxied request with per-user origins. */
const baseHostnames = new Map<string, string>();
const userOrigins = new Map<string, string>();

function baseHostname(notebookOrigin: string): string {
  let hostname = baseHostnames.get(notebookOrigin);
  if (hostname === undefined) {
    hostname = new URL(notebookOrigin).hostname;
    if (baseHostnames.size >= 16) baseHostnames.clear();
    baseHostnames.set(notebookOrigin, hostname);
  }
  return hostname;
}

/** The origin a user's notebooks are served from (the shared notebook origin when origins are shared). */
export function userOrigin(origins: NotebookOrigins, userName: string): string {
  if (!origins.userOrigins) return origins.notebookOrigin;
  const key = `${origins.notebookOrigin} ${userName}`;
  let origin = userOrigins.get(key);
  if (origin === undefined) {
    const url = new URL(origins.notebookOrigin);
    url.hostname = `${userHostLabel(userName)}.${url.hostname}`;
    origin = url.origin;
    if (userOrigins.size >= 10_000) userOrigins.clear();
    userOrigins.set(key, origin);
  }
  return origin;
}

/** `host[:port]` and nothing else: no path, user info or query that URL parsing would drop. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::\d{1,5})?$/i;

/**
 * What a request's `Host` names on the notebook port (ports ignored: a proxy in front may drop them, and
 * cookies do not isolate ports anyway): the bare notebook host, a user's host (its label), or neither.
 */
export function hostOfRequest(
  origins: NotebookOrigins,
  host: string | undefined,
): { kind: 'bare' } | { kind: 'user'; label: string } | { kind: 'other' } {
  const match = host === undefined ? null : HOST_HEADER.exec(host);
  if (match === null) return { kind: 'other' };
  const hostname = (match[1] as string).toLowerCase();
  const base = baseHostname(origins.notebookOrigin);
  if (hostname === base) return { kind: 'bare' };
  if (origins.userOrigins && hostname.endsWith(`.${base}`)) {
    const label = hostname.slice(0, -base.length - 1);
    if (!label.includes('.')) return { kind: 'user', label };
  }
  return { kind: 'other' };
}

/**
 * A notebook URL as browsers open it: the user's origin, the server's base URL and, optionally, a
 * path under it (e.g. `notebooks/course-x/intro.ipynb`, already encoded).
 */
export const notebookUrl = (origins: NotebookOrigins, userName: string, path = '', serverName = ''): string =>
  `${userOrigin(origins, userName)}${baseUrlOf(userName, serverName)}${path}`;

/**
 * The user whose notebook a URL is, when it is one: a `/user/<name>/` path on that user's own origin
 * (on the shared origin when origins are shared). Anything else, a path on another user's origin
 * included, is null.
 */
export function notebookUrlOwner(origins: NotebookOrigins, url: URL): string | null {
  const path = parseUserPath(url.pathname);
  if (!path.ok) return null;
  return url.origin === userOrigin(origins, path.userName) ? path.userName : null;
}

/** Whether a notebook public URL's host is a DNS name (per-user origins possible), not an IP literal. */
export function isDnsHost(origin: string): boolean {
  const hostname = new URL(origin).hostname;
  return !hostname.startsWith('[') && !/^\d+\.\d+\.\d+\.\d+$/.test(hostname);
}

/** The path under a server's base URL where Jupyter opens a notebook file of the home, e.g. `course-x/intro.ipynb`. */
export const notebookFilePath = (relPath: string): string =>
  `notebooks/${relPath.split('/').map(encodeURIComponent).join('/')}`;

/*
 * Parsing: the name is everything between `/user/` and the next `/` (or `?` / end). It is percent-decoded,
 * must be a valid user name (src/auth/names.ts) and may not contain `..`; `%2f` inside it is refused before
 * decoding, so an encoded slash can never move the boundary between name and path.
 */

export type UserPathRefusal = 'not-user-path' | 'bad-name' | 'bad-encoding' | 'dot-segment';

export type ParsedUserPath =
  | {
      ok: true;
      userName: string;
      /** '' for the default server; a named server's name after {@link resolveNamedServer}. */
      serverName: string;
      /** The path after `/user/<name>/`, without the query string; '' for the server's root. */
      rest: string;
      /** `/user/<name>` without the trailing slash: the caller redirects to add it. */
      missingSlash: boolean;
    }
  | { ok: false; reason: UserPathRefusal };

const PREFIX = '/user/';

/** Parses a request target (path and query, as in `req.url`). */
export function parseUserPath(url: string): ParsedUserPath {
  if (!url.startsWith(PREFIX)) return { ok: false, reason: 'not-user-path' };
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const nameEnd = path.indexOf('/', PREFIX.length);
  const rawName = nameEnd === -1 ? path.slice(PREFIX.length) : path.slice(PREFIX.length, nameEnd);
  const userName = decodeName(rawName);
  if (userName === undefined) return { ok: false, reason: 'bad-encoding' };
  if (!isValidUsername(userName)) return { ok: false, reason: 'bad-name' };
  const rest = nameEnd === -1 ? '' : path.slice(nameEnd + 1);
  if (hasDotSegment(rest)) return { ok: false, reason: 'dot-segment' };
  return { ok: true, userName, serverName: '', rest, missingSlash: nameEnd === -1 };
}

/**
 * `/user/<name>/<server>/...`: when the first segment after the user's prefix names one of their named
 * servers (`isServer`), the path is that server's, with the rest after it. A route table decides, as in
 * JupyterHub; server names that Jupyter uses at the top of a server (`api`, `tree`, ...) are refused when a
 * server is named (see {@link RESERVED_SERVER_NAMES}), so no named server hides the default server's pages.
 */
export function resolveNamedServer(
  path: ParsedUserPath,
  isServer: (userName: string, serverName: string) => boolean,
): ParsedUserPath {
  if (!path.ok || path.serverName !== '' || path.rest === '') return path;
  const slash = path.rest.indexOf('/');
  const segment = slash === -1 ? path.rest : path.rest.slice(0, slash);
  if (segment === '' || !isServer(path.userName, segment)) return path;
  return {
    ok: true,
    userName: path.userName,
    serverName: segment,
    rest: slash === -1 ? '' : path.rest.slice(slash + 1),
    missingSlash: slash === -1,
  };
}

/** Top-level paths of a Jupyter server: never a named server's name (it would shadow the default's). */
export const RESERVED_SERVER_NAMES: ReadonlySet<string> = new Set([
  'api',
  'tree',
  'lab',
  'notebooks',
  'edit',
  'files',
  'view',
  'static',
  'custom',
  'nbextensions',
  'kernelspecs',
  'terminals',
  'login',
  'logout',
  'nbconvert',
  'doc',
  'voila',
  'hub',
  'metrics',
]);

function decodeName(raw: string): string | undefined {
  if (!raw.includes('%')) return raw;
  if (/%2f|%5c/i.test(raw)) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * True if a path contains a `..` segment, raw or percent-encoded (`%2e%2e`), also when hidden behind
 * an encoded slash or a backslash. Browsers resolve dot segments before sending, so only crafted
 * requests have them; refusing keeps every request inside the server's base URL.
 */
export function hasDotSegment(path: string): boolean {
  if (!path.includes('.') && !/%2e/i.test(path)) return false;
  for (const segment of path.split('/')) {
    let decoded = segment;
    if (segment.includes('%')) {
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        decoded = segment;
      }
    }
    for (const part of decoded.split(/[/\\]/)) if (part === '..') return true;
  }
  return false;
}
