import {
  assertTenancy,
  CitybaseClaims,
  DomainError,
  inTenancy,
  keyPart,
  type Page as PageOf,
  pageCursor,
  MutationTarget,
  pageOf,
  PoolClient,
  TenancyRef,
  tenancyFilter,
} from '@citybase/platform';

// Pure rules shared by the features that store tenancy-placed rows (tenancy, merchants, people,
// access): keyset pages, the caller's visibility, who may read or write a row, and the pipeline
// target of a write. No I/O.

/**
 * Page tokens of a list sorted by (created_at, id): its cursor is the last row's created_at
 * (microseconds, UTC, as the stores' `cursor_at`) and id. One codec per list (`identity.<list>`),
 * so a token of one list is refused by another.
 */
export function createdAtPages(list: string) {
  return pageCursor(`identity.${list}`, keyPart.timestamp, keyPart.uuid);
}

/** Size and position of a page: `after` is [created_at, id] of the previous page's last row. */
export type Page = PageOf<[createdAt: string, id: string]>;

export interface Paged<T> {
  items: T[];
  nextPageToken: string;
}

/**
 * The page of a list sorted by (created_at, id) out of the rows its query fetched (one more than
 * the page size, to tell whether another page follows): the rows carry `cursor_at`, `idOf` their id.
 */
export function pagedByCreation<R extends { cursor_at: string }>(
  rows: R[],
  page: Page,
  pages: ReturnType<typeof createdAtPages>,
  idOf: (row: R) => string,
): Paged<R> {
  const { rows: items, nextPageToken } = pageOf(rows, page.size, pages, (r) => [r.cursor_at, idOf(r)]);
  return { items, nextPageToken };
}

/**
 * What a list query may return, from the caller's claims (tenancyFilter). Only UUID-shaped ids are
 * kept: ids in the database are lower-case UUIDs, so any other string could never match, and
 * passing it to a uuid[] parameter would fail the query.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type Visibility = { all: true } | { all: false; operatorIds: string[]; projectIds: string[] };

export function visibilityOf(claims: Pick<CitybaseClaims, 'scope' | 'tenancy'>): Visibility {
  const filter = tenancyFilter(claims);
  if (filter.all) return { all: true };
  return {
    all: false,
    operatorIds: filter.operatorIds.filter((id) => UUID.test(id)),
    projectIds: filter.projectIds.filter((id) => UUID.test(id)),
  };
}

/** A stored row placed in the tenancy tree: under an operator, and in a project unless it is operator-wide. */
export interface PlacedRow {
  operator_id: string;
  project_id?: string | null;
}

/** Where a row lies in the tenancy tree, as the claims checks (inTenancy, assertTenancy) take it. */
export function tenancyOf(row: PlacedRow): TenancyRef {
  return { operatorId: row.operator_id, projectId: row.project_id ?? undefined };
}

/**
 * The row a read answers: `missing()` (NOT_FOUND) when there is none or it lies outside the caller's
 * tenancy, exactly as if it did not exist (a read never tells a foreign caller what exists).
 */
export function readable<R extends PlacedRow>(
  claims: CitybaseClaims,
  row: R | undefined,
  missing: () => DomainError,
): R {
  if (!row || !inTenancy(claims, tenancyOf(row))) throw missing();
  return row;
}

/**
 * The row a write acts on or goes under: `missing()` (NOT_FOUND) when there is none,
 * PERMISSION_DENIED (TENANCY_FORBIDDEN) when it lies outside the caller's tenancy, as writes of this
 * service answer (see writeTarget for the rows the pipeline loads itself).
 */
export function writable<R extends PlacedRow>(
  claims: CitybaseClaims,
  row: R | undefined,
  missing: () => DomainError,
): R {
  if (!row) throw missing();
  assertTenancy(claims, tenancyOf(row));
  return row;
}

/**
 * The row a just-created or replayed resource id points at. Its absence is a bug (the id came from
 * this transaction or from a committed idempotency key), never a caller's mistake.
 */
export function stored<R>(row: R | undefined): R {
  if (row === undefined) throw new Error('identity: resource of an idempotency key is missing');
  return row;
}

/**
 * The stored row a write acts on or goes under, as the use-case pipeline's target (loaded in the
 * mutation's transaction, before its request key): missing, it is `missing()` (NOT_FOUND naming the
 * field); outside the caller's tenancy, PERMISSION_DENIED (TENANCY_FORBIDDEN), as writes of this
 * service answer (reads answer NOT_FOUND). `load` does the lookup and nothing else.
 */
export function writeTarget<T>(
  load: (client: PoolClient) => Promise<T | undefined>,
  tenancy: (row: T) => TenancyRef,
  missing: () => DomainError,
): MutationTarget<T> {
  return { load, tenancy, notFound: missing, outsideTenancy: 'forbidden' };
}
