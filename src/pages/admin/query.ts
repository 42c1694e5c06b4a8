/**
 * The admin page's query strings, read into what the views need: pure functions, no I/O. Bad input gets
 * a clear 400 (`SIFU_ERR_BAD_REQUEST` naming the parameter) or is clamped (page numbers), never a 500.
 */
import { SifuError } from '../../errors.js';
import { normalizeUsername } from '../../names.js';
import type { ServerRecord, UserRecord } from '../../store/store.js';

export const USERS_PER_PAGE = 50;
export const USER_SORTS = ['name', 'last_activity', 'created'] as const;
export type UserSort = (typeof USER_SORTS)[number];
export const SERVER_STATES = ['any', 'ready', 'pending', 'stopped'] as const;
export type StateFilter = (typeof SERVER_STATES)[number];
export type ServerState = Exclude<StateFilter, 'any'>;
export const EVENT_LIMITS = [50, 100, 200, 500] as const;

/** A query parameter as one string: absent or empty is undefined; repeated (`?a=1&a=2`) is refused. */
function single(query: Record<string, unknown>, key: string): string | undefined {
  const value = query[key];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw badParameter(key, 'must be given once');
  return value;
}

function badParameter(key: string, why: string): SifuError {
  return new SifuError('SIFU_ERR_BAD_REQUEST', `the parameter '${key}' ${why}`);
}

function oneOf<T extends string>(
  query: Record<string, unknown>,
  key: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = single(query, key);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw badParameter(key, `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** A page number as asked: anything that is not a positive integer reads as 1 (clamped to the last later). */
function pageNumber(raw: string | undefined): number {
  if (raw === undefined || !/^\d{1,9}$/.test(raw)) return 1;
  return Math.max(1, Number(raw));
}

export interface UsersQuery {
  /** Name substring, lower case ('' for all). */
  search: string;
  sort: UserSort;
  order: 'asc' | 'desc';
  state: StateFilter;
  page: number;
}

export function parseUsersQuery(query: Record<string, unknown>): UsersQuery {
  const search = (single(query, 'q') ?? '').trim().toLowerCase();
  if (search.length > 64) throw badParameter('q', 'is longer than a user name can be (64)');
  const sort = oneOf(query, 'sort', USER_SORTS, 'name');
  // Names read best A to Z; times, newest first.
  const order = oneOf(query, 'order', ['asc', 'desc'], sort === 'name' ? 'asc' : 'desc');
  const state = oneOf(query, 'state', SERVER_STATES, 'any');
  return { search, sort, order, state, page: pageNumber(single(query, 'page')) };
}

/** The query string of a users list, without the parameters left at their defaults. */
export function usersQueryString(query: UsersQuery, changes: Partial<UsersQuery> = {}): string {
  const q = { ...query, ...changes };
  const params = new URLSearchParams();
  if (q.search) params.set('q', q.search);
  if (q.sort !== 'name') params.set('sort', q.sort);
  if (q.order !== (q.sort === 'name' ? 'asc' : 'desc')) params.set('order', q.order);
  if (q.state !== 'any') params.set('state', q.state);
  if (q.page > 1) params.set('page', String(q.page));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** What the list shows of one server: its row and what this process knows of it. */
export interface ServerView {
  record: ServerRecord;
  state: ServerState;
}

export interface UserRow {
  user: UserRecord;
  servers: ServerView[];
}

/** A user's state for the filter: ready if any server is, else pending if any is, else stopped. */
export function userState(row: UserRow): ServerState {
  if (row.servers.some((s) => s.state === 'ready')) return 'ready';
  if (row.servers.some((s) => s.state === 'pending')) return 'pending';
  return 'stopped';
}

const time = (d: Date | null): number => (d ? d.getTime() : Number.NEGATIVE_INFINITY);

export interface UsersPage {
  rows: UserRow[];
  /** Users matching the search and filter, on every page. */
  total: number;
  /** The page shown: the one asked, clamped to [1, pages]. */
  page: number;
  pages: number;
}

/** Filters, sorts (ties by name) and cuts one page out of `rows`. */
export function pageOfUsers(rows: UserRow[], query: UsersQuery, perPage = USERS_PER_PAGE): UsersPage {
  const matching = rows.filter(
    (r) => r.user.name.includes(query.search) && (query.state === 'any' || userState(r) === query.state),
  );
  const direction = query.order === 'asc' ? 1 : -1;
  const key = (r: UserRow): number =>
    query.sort === 'created' ? time(r.user.createdAt) : time(r.user.lastActivity);
  matching.sort((a, b) => {
    if (query.sort !== 'name') {
      const ka = key(a);
      const kb = key(b);
      // Never active sorts last whichever the order.
      if (ka !== kb) {
        if (ka === Number.NEGATIVE_INFINITY) return 1;
        if (kb === Number.NEGATIVE_INFINITY) return -1;
        return (ka - kb) * direction;
      }
    }
    const byName = a.user.name < b.user.name ? -1 : a.user.name > b.user.name ? 1 : 0;
    return query.sort === 'name' ? byName * direction : byName;
  });
  const pages = Math.max(1, Math.ceil(matching.length / perPage));
  const page = Math.min(query.page, pages);
  return {
    rows: matching.slice((page - 1) * perPage, page * perPage),
    total: matching.length,
    page,
    pages,
  };
}

export interface EventsQuery {
  type: string | undefined;
  user: string | undefined;
  limit: number;
  /** Older than this event id (the "Older events" page); undefined for the newest. */
  before?: number;
}

const EVENT_TYPE = /^[a-z0-9][a-z0-9_.:-]{0,63}$/i;

export function parseEventsQuery(query: Record<string, unknown>): EventsQuery {
  const type = single(query, 'type')?.trim() || undefined;
  if (type !== undefined && !EVENT_TYPE.test(type)) {
    throw badParameter('type', 'is an event type like server.stop (letters, digits, ".", "_", ":", "-")');
  }
  const user = parseMemberQuery(query);
  const rawLimit = single(query, 'limit');
  const asked = rawLimit !== undefined && /^\d{1,9}$/.test(rawLimit) ? Number(rawLimit) : 100;
  const limit = Math.min(Math.max(asked, 1), EVENT_LIMITS[EVENT_LIMITS.length - 1] as number);
  const rawBefore = single(query, 'before');
  if (rawBefore === undefined || rawBefore === '') return { type, user, limit };
  if (!/^[1-9]\d{0,14}$/.test(rawBefore)) throw badParameter('before', 'is an event id (a positive number)');
  return { type, user, limit, before: Number(rawBefore) };
}

/** `?user=` of the groups list: a member's name, or undefined for every group. */
export function parseMemberQuery(query: Record<string, unknown>): string | undefined {
  const raw = single(query, 'user')?.trim() || undefined;
  if (raw === undefined) return undefined;
  try {
    return normalizeUsername(raw);
  } catch {
    throw badParameter('user', 'is not a valid user name');
  }
}
