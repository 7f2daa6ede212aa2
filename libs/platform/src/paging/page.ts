import { DomainError } from '../errors';
import { CursorOf, KeyPart, PAGE_TOKEN_FIELD, PageCursor } from './page-token';

/** What every list RPC's `page` holds (citybase.common.v1.PageRequest). */
export interface PageRequestLike {
  pageSize?: number;
  pageToken?: string;
}

export interface PageLimits {
  /** Size of a page when the request asks for 0 (the default). */
  defaultSize: number;
  /** Largest page_size a request may ask for. */
  maxSize: number;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;
export const PAGE_LIMITS: PageLimits = Object.freeze({
  defaultSize: DEFAULT_PAGE_SIZE,
  maxSize: MAX_PAGE_SIZE,
});
export const PAGE_SIZE_FIELD = 'page.page_size';

/** The page size a request asks for: 0 (or none) is the default; negative or above the maximum is INVALID_ARGUMENT. */
export function parsePageSize(size: number | undefined, limits: PageLimits = PAGE_LIMITS): number {
  const n = size ?? 0;
  if (!Number.isInteger(n) || n < 0 || n > limits.maxSize)
    throw DomainError.invalid(
      PAGE_SIZE_FIELD,
      `must be from 0 to ${limits.maxSize} (0 means ${limits.defaultSize})`,
    );
  return n === 0 ? limits.defaultSize : n;
}

export interface Page<C> {
  size: number;
  /** The sort key of the last row of the previous page; undefined for the first page. */
  after: C | undefined;
}

/** Size and cursor of a list request; bad input is INVALID_ARGUMENT naming page.page_size or page.page_token. */
export function parsePage<P extends readonly KeyPart[]>(
  page: PageRequestLike | undefined,
  cursor: PageCursor<P>,
  limits: PageLimits = PAGE_LIMITS,
): Page<CursorOf<P>> {
  const size = parsePageSize(page?.pageSize, limits);
  const token = page?.pageToken ?? '';
  return { size, after: token === '' ? undefined : cursor.decode(token, PAGE_TOKEN_FIELD) };
}

/**
 * One page of `rows` (the store fetched size + 1 of them) and the token of the next page: empty when
 * there is no further row, else the token of the last row returned.
 */
export function pageOf<R, P extends readonly KeyPart[]>(
  rows: readonly R[],
  size: number,
  cursor: PageCursor<P>,
  keyOf: (row: R) => CursorOf<P>,
): { rows: R[]; nextPageToken: string } {
  if (rows.length <= size) return { rows: [...rows], nextPageToken: '' };
  const page = rows.slice(0, size);
  const last = page[page.length - 1];
  return { rows: page, nextPageToken: last === undefined ? '' : cursor.encode(keyOf(last)) };
}
