import type { Client, Pool } from 'pg';

/**
 * Row counts of the given tables in one query, keyed by table name: "nothing was written" compares
 * two of these. Table names are the test's own constants, never input.
 */
export async function rowCounts(
  db: Client | Pool,
  tables: readonly string[],
): Promise<Record<string, number>> {
  const { rows } = await db.query<Record<string, number>>(
    `SELECT ${tables.map((t) => `(SELECT count(*)::int FROM ${t}) AS ${t}`).join(', ')}`,
  );
  return rows[0] as Record<string, number>;
}
