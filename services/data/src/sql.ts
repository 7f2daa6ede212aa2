import type { Pool, PoolClient } from '@citybase/platform';

/** A pool or one of its connections: reads take either. */
export type Queryable = Pick<Pool | PoolClient, 'query'>;

/** A PostgreSQL identifier, quoted; `schema.table` is quoted part by part. */
export function quoteIdent(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join('.');
}
