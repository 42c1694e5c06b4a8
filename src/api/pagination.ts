import type { FastifyRequest } from 'fastify';
import { SifuError } from '../errors.js';

/** JupyterHub's media type for a paginated list: `{items, _pagination}` instead of a bare array. */
export const PAGINATION_MEDIA_TYPE = 'application/jupyterhub-pagination+json';
/** JupyterHub's `api_page_default_limit` and `api_page_max_limit`. */
export const PAGE_DEFAULT_LIMIT = 50;
export const PAGE_MAX_LIMIT = 200;

export interface Page {
  offset: number;
  limit: number;
  /** The client sent `Accept: application/jupyterhub-pagination+json`. */
  paginated: boolean;
}

function wholeNumber(raw: unknown, name: string): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^-?\d{1,9}$/.test(raw)) {
    throw new SifuError('SIFU_ERR_BAD_REQUEST', `${name} must be a whole number`);
  }
  return Math.abs(Number(raw));
}

/**
 * `offset` and `limit` as JupyterHub reads them: absolute values, the limit at most 200 and at least 1;
 * without the pagination media type the default limit is the maximum, so that old clients see as much
 * as JupyterHub shows them.
 */
export function pageOf(req: FastifyRequest): Page {
  const query = req.query as Record<string, unknown>;
  const paginated = (req.headers.accept ?? '').includes(PAGINATION_MEDIA_TYPE);
  const offset = wholeNumber(query.offset, 'offset') ?? 0;
  const asked = wholeNumber(query.limit, 'limit') ?? (paginated ? PAGE_DEFAULT_LIMIT : PAGE_MAX_LIMIT);
  return { offset, limit: Math.max(1, Math.min(PAGE_MAX_LIMIT, asked)), paginated };
}

/** One page of `items`: a bare array, or JupyterHub's paginated model with the next page's URL. */
export function pageAnswer<T>(req: FastifyRequest, page: Page, items: readonly T[]): unknown {
  const slice = items.slice(page.offset, page.offset + page.limit);
  if (!page.paginated) return slice;
  const nextOffset = page.offset + page.limit;
  let next: { offset: number; limit: number; url: string } | null = null;
  if (nextOffset < items.length) {
    const url = new URL(req.url, 'http://hub.invalid');
    url.searchParams.set('offset', String(nextOffset));
    url.searchParams.set('limit', String(page.limit));
    next = { offset: nextOffset, limit: page.limit, url: `${url.pathname}${url.search}` };
  }
  return {
    items: slice,
    _pagination: { offset: page.offset, limit: page.limit, total: items.length, next },
  };
}

/** A query flag as JupyterHub reads one: present (`?flag`, `?flag=1`, `?flag=true`) and not false. */
export function queryFlag(req: FastifyRequest, name: string): boolean {
  const value = (req.query as Record<string, unknown>)[name];
  if (value === undefined) return false;
  return typeof value === 'string' && !/^(0|false|no)$/i.test(value);
}
