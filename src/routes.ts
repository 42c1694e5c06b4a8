/**
 * The one owner of notebook paths, `/user/<name>/[<server>/]`: building them, parsing them, and the
 * route a path leads to. Pure, no I/O, table-tested.
 */
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
}

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
 * A notebook URL as browsers open it: the notebook origin, the server's base URL and, optionally, a
 * path under it (e.g. `notebooks/course-x/intro.ipynb`, already encoded).
 */
export const notebookUrl = (notebookOrigin: string, userName: string, path = '', serverName = ''): string =>
  `${notebookOrigin}${baseUrlOf(userName, serverName)}${path}`;

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
      /** '' for the default server (named servers come later). */
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
