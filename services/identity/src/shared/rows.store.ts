import type { Pool, PoolClient } from '@citybase/platform';
import type { Page, Visibility } from './rows.domain';

// SQL helpers of the lists of tenancy-placed rows (tenancy, merchants); each feature's store names
// its own tables. Lists are keyset-paginated on (created_at, id); `cursor_at` is created_at rendered
// with its full microsecond precision (a JS Date keeps only milliseconds, which would repeat or skip
// rows at a page boundary).

export type Db = Pool | PoolClient;

export const CURSOR_AT = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at`;

export interface SqlCondition {
  sql: string;
  params: unknown[];
}

/** SQL condition and parameters narrowing rows to what `vis` allows, numbering params from `next`. */
export function visible(vis: Visibility, next: number, opts: { hasProject: boolean }): SqlCondition {
  if (vis.all) return { sql: 'true', params: [] };
  if (!opts.hasProject) return { sql: `operator_id = ANY($${next}::uuid[])`, params: [vis.operatorIds] };
  return {
    sql: `(operator_id = ANY($${next}::uuid[]) OR project_id = ANY($${next + 1}::uuid[]))`,
    params: [vis.operatorIds, vis.projectIds],
  };
}

/** Keyset condition after the page's cursor, numbering params from `next`. */
export function after(page: Page, idColumn: string, next: number): SqlCondition {
  if (!page.after) return { sql: 'true', params: [] };
  return {
    sql: `(created_at, ${idColumn}) > ($${next}::timestamptz, $${next + 1}::uuid)`,
    params: [...page.after],
  };
}

/** One page (plus one row, to tell whether there is a next page) of `table` under `where`. */
export async function listPage<R>(
  db: Db,
  table: string,
  idColumn: string,
  where: SqlCondition[],
  page: Page,
): Promise<R[]> {
  const params: unknown[] = [];
  const conditions: string[] = [];
  for (const w of where) {
    conditions.push(w.sql);
    params.push(...w.params);
  }
  params.push(page.size + 1);
  const { rows } = await db.query(
    `SELECT *, ${CURSOR_AT} FROM ${table}
      WHERE ${conditions.join(' AND ')}
      ORDER BY created_at, ${idColumn}
      LIMIT $${params.length}`,
    params,
  );
  return rows as R[];
}

/**
 * One page (as listPage) of the rows of `table` under one parent row (`parentColumn` = `parentId`)
 * that `vis` lets the caller see.
 */
export function listPageUnder<R>(
  db: Db,
  table: string,
  idColumn: string,
  parent: { column: string; id: string },
  vis: Visibility,
  page: Page,
): Promise<R[]> {
  const of = { sql: `${parent.column} = $1`, params: [parent.id] };
  const v = visible(vis, 2, { hasProject: true });
  return listPage(db, table, idColumn, [of, v, after(page, idColumn, 2 + v.params.length)], page);
}
