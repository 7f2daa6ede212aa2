import { DomainError, requiredString, requiredUuid } from '@citybase/platform';
import type { FieldFilter } from '@citybase/contracts/citybase/data/v1/data';
import { COLUMN_NAME, DATASET_ID, exportBlocked } from '../catalog/catalog.domain';
import type { DatasetWithFields, FieldRow } from '../catalog/catalog.store';
import type { GrantedField, MaskingName } from '../grants/grants.domain';
import { quoteIdent } from '../sql';

/**
 * A pull's position: the (txid, seq) of the last row served. Rows are served in (txid, seq) order
 * and only from transactions older than every transaction still running at the pull's start
 * (txid < pg_snapshot_xmin), so a transaction that commits a lower seq after a higher one is served
 * later, in its own commit position: never skipped, never repeated (ADR 0011).
 */
export interface Cursor {
  txid: string;
  seq: string;
}

export const START: Cursor = { txid: '0', seq: '0' };
const DIGITS = /^[0-9]{1,20}$/;

export function encodeCursor(c: Cursor): string {
  return c.txid === '0' && c.seq === '0' ? '' : Buffer.from(`v1:${c.txid}:${c.seq}`).toString('base64url');
}

export function decodeCursor(text: string, field = 'cursor'): Cursor {
  if (text === '') return START;
  const bad = () => DomainError.invalid(field, 'is not a cursor from a previous pull of this feed');
  if (text.length > 80 || !/^[A-Za-z0-9_-]+$/.test(text)) throw bad();
  const parts = Buffer.from(text, 'base64url').toString('utf8').split(':');
  if (parts.length !== 3 || parts[0] !== 'v1' || !DIGITS.test(parts[1]!) || !DIGITS.test(parts[2]!))
    throw bad();
  const c = { txid: BigInt(parts[1]!).toString(), seq: BigInt(parts[2]!).toString() };
  if (BigInt(c.seq) > 9223372036854775807n || encodeCursor(c) !== text) throw bad();
  return c;
}

export interface PullQuery {
  grantId: string;
  datasetId: string;
  cursor: Cursor;
  cursorText: string;
  limit: number;
  filters: { field: string; values: string[] }[];
  groupBy: string[];
}

export function toPullQuery(
  req: {
    grantId: string;
    datasetId: string;
    cursor: string;
    limit: bigint | number;
    filters: FieldFilter[];
    groupBy: string[];
  },
  limits: { defaultLimit: number; maxLimit: number },
): PullQuery {
  const limit = Number(req.limit);
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > limits.maxLimit)
    throw DomainError.invalid(
      'limit',
      `must be from 0 to ${limits.maxLimit} (0 means ${limits.defaultLimit})`,
    );
  const filters = req.filters.map((f, i) => {
    const field = requiredString(`filters[${i}].field`, f.field, COLUMN_NAME);
    if (f.values.length === 0 || f.values.length > 1000)
      throw DomainError.invalid(`filters[${i}].values`, 'must hold 1 to 1000 values');
    return {
      field,
      values: f.values.map((v, j) => requiredString(`filters[${i}].values[${j}]`, v, { max: 256 })),
    };
  });
  const groupBy = req.groupBy.map((g, i) => requiredString(`group_by[${i}]`, g, COLUMN_NAME));
  return {
    grantId: requiredUuid('grant_id', req.grantId),
    datasetId: requiredString('dataset_id', req.datasetId, DATASET_ID),
    cursor: decodeCursor(req.cursor ?? ''),
    cursorText: req.cursor ?? '',
    limit: limit === 0 ? limits.defaultLimit : limit,
    filters,
    groupBy,
  };
}

/**
 * A filter or a grouping may only name a field granted in clear: a predicate on a masked field
 * would reveal what the mask hides (trino #17694). INVALID_ARGUMENT names the request field and the
 * dataset field.
 */
export function checkFiltersAndGroups(q: PullQuery, granted: GrantedField[]): void {
  const check = (path: string, name: string) => {
    const g = granted.find((f) => f.name === name);
    if (!g) throw DomainError.invalid(path, `${name} is not a field of this grant`, 'FIELD_NOT_GRANTED');
    if (g.masking !== 'CLEAR')
      throw DomainError.invalid(
        path,
        `${name} is masked (${g.masking}): a masked field can be neither filtered nor grouped by`,
        'MASKED_FIELD_IN_QUERY',
      );
  };
  q.filters.forEach((f, i) => check(`filters[${i}].field`, f.field));
  q.groupBy.forEach((g, i) => check(`group_by[${i}]`, g));
}

/** The granted fields of the dataset as they stand in the catalog now: a blocked one stops the pull. */
export function servedFields(
  d: DatasetWithFields,
  granted: GrantedField[],
  blocked: (datasetId: string, field: string) => Error,
): { field: FieldRow; masking: MaskingName }[] {
  return granted.map((g) => {
    const field = d.fields.find((f) => f.name === g.name);
    if (!field || exportBlocked(field)) throw blocked(d.dataset_id, g.name);
    return { field, masking: g.masking };
  });
}

/** The SQL expression of a field's value as served: masked in the database, never in clear past it. */
export function maskedExpr(field: FieldRow, masking: MaskingName, saltParam: string): string | undefined {
  const c = quoteIdent(field.name);
  const text = `${c}::text`;
  switch (masking) {
    case 'DROP':
      return undefined;
    case 'CLEAR':
      // 64-bit integers and decimals as strings: JSON numbers would lose digits in most readers
      if (field.type === 'int64' || field.type === 'decimal') return text;
      // json (not jsonb) keeps its text verbatim, line breaks too; a feed's rows are lines
      if (field.type === 'json') return `${c}::jsonb`;
      return c;
    case 'HASH':
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE encode(sha256(convert_to(${saltParam} || ${text}, 'UTF8')), 'hex') END`;
    case 'LAST4':
      return `CASE WHEN ${c} IS NULL THEN NULL ELSE '****' || right(${text}, 4) END`;
    case 'MONTH':
      return `to_char(${c}, 'YYYY-MM')`;
    case 'AMOUNT_BAND': {
      const digits = `length(trunc(${c})::bigint::text)`;
      return `CASE WHEN ${c} IS NULL THEN NULL WHEN ${c} < 0 THEN 'negative' WHEN ${c} < 10 THEN '0-9'
        ELSE rpad('1', ${digits}, '0') || '-' || repeat('9', ${digits}) END`;
    }
    case 'DISTRICT':
      return `"district"`;
  }
}

export interface FeedSql {
  sql: string;
  params: unknown[];
}

/**
 * The rows query of one batch: each row's JSON built (and masked) by PostgreSQL, in cursor order,
 * inside the grant's tenancy and row filter and the request's filters, and the batch handed back as
 * one row: `n` rows, their NDJSON `text` (lines joined by "\n", none after the last) and the cursor
 * (`t`, `s`) of its last row. One value per batch instead of a row each keeps the data process out
 * of per-row work (docs/data.md "Performance: feed_rows_per_s"). Parameters $1..$4 are the cursor's
 * txid and seq, the bound (snapshot xmin) and the batch size.
 */
export function rowsQuery(
  table: string,
  fields: { field: FieldRow; masking: MaskingName }[],
  scope: RowScope,
  filters: { field: string; values: string[] }[],
  salt: string,
): FeedSql {
  const params: unknown[] = [null, null, null, null];
  // the salt is a parameter only when a field is hashed (PostgreSQL refuses unused parameters)
  if (fields.some((x) => x.masking === 'HASH')) params.push(salt);
  const cols = fields.flatMap(({ field, masking }) => {
    const e = maskedExpr(field, masking, '$5::text');
    return e === undefined ? [] : [`'${field.name}', ${e}`];
  });
  const where = scopeWhere(scope, filters, params);
  return {
    sql: `WITH b AS (
            SELECT txid, seq, json_build_object(${cols.join(', ')})::text AS j
              FROM ${quoteIdent(table)}
             WHERE (txid, seq) > ($1::xid8, $2::bigint) AND txid < $3::xid8${where}
             ORDER BY txid, seq LIMIT $4
          )
          SELECT a.n, a.text, l.t, l.s
            FROM (SELECT count(*)::int AS n, string_agg(j, E'\\n' ORDER BY txid, seq) AS text FROM b) a
            LEFT JOIN LATERAL (SELECT txid::text AS t, seq::text AS s FROM b ORDER BY txid DESC, seq DESC LIMIT 1) l
              ON true`,
    params,
  };
}

/** One row per group with its count, over the rows between the cursor and the bound ($1..$3). */
export function groupsQuery(
  table: string,
  groupBy: string[],
  scope: RowScope,
  filters: { field: string; values: string[] }[],
): FeedSql & { lastSql: string } {
  const params: unknown[] = [null, null, null];
  const where = scopeWhere(scope, filters, params);
  const range = `(txid, seq) > ($1::xid8, $2::bigint) AND txid < $3::xid8${where}`;
  const cols = groupBy.map((g) => `'${g}', ${quoteIdent(g)}`);
  return {
    sql: `SELECT json_build_object(${[...cols, `'count', count(*)`].join(', ')})::text AS j
            FROM ${quoteIdent(table)} WHERE ${range}
           GROUP BY ${groupBy.map(quoteIdent).join(', ')} ORDER BY ${groupBy.map(quoteIdent).join(', ')}`,
    lastSql: `SELECT txid::text AS t, seq::text AS s FROM ${quoteIdent(table)} WHERE ${range}
               ORDER BY txid DESC, seq DESC LIMIT 1`,
    params,
  };
}

/** The rows a grant covers: its grantor's tenancy, then its row filter. */
export interface RowScope {
  operatorId: string;
  projectId: string;
  districts: string[];
  projectIds: string[];
}

function scopeWhere(
  scope: RowScope,
  filters: { field: string; values: string[] }[],
  params: unknown[],
): string {
  const parts: string[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    params.push(value);
    parts.push(sql(`$${params.length}`));
  };
  if (scope.operatorId !== '') add((p) => `"operator_id" = ${p}`, scope.operatorId);
  if (scope.projectId !== '') add((p) => `"project_id" = ${p}`, scope.projectId);
  if (scope.districts.length > 0) add((p) => `"district" = ANY(${p}::text[])`, scope.districts);
  if (scope.projectIds.length > 0) add((p) => `"project_id" = ANY(${p}::text[])`, scope.projectIds);
  for (const f of filters) add((p) => `${quoteIdent(f.field)}::text = ANY(${p}::text[])`, f.values);
  return parts.map((p) => ` AND ${p}`).join('');
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Seconds until the next UTC day, when a day's quota starts again. */
export function secondsToNextUtcDay(now: Date): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - now.getTime()) / 1000));
}
