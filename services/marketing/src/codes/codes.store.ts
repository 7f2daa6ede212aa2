import type { Pool, PoolClient } from '@citybase/platform';

/**
 * All SQL of codes; tables code_batches and codes (migrations/0001_campaigns.sql). Codes go in by
 * multi-row INSERT of `unnest` arrays, one chunk per transaction (the job's progress).
 */

export interface CodeBatchRow {
  batch_id: string;
  campaign_id: string;
  requested: number;
  generated: number;
  status: 'RUNNING' | 'DONE';
  created_by: string;
  created_at: Date;
  finished_at: Date | null;
  /** of its campaign */
  operator_id: string;
  project_id: string;
}

type Db = Pool | PoolClient;

const BATCH_WITH_TENANCY = `SELECT b.*, c.operator_id, c.project_id
  FROM code_batches b JOIN campaigns c USING (campaign_id)`;

export async function findBatch(db: Db, batchId: string): Promise<CodeBatchRow | undefined> {
  const { rows } = await db.query<CodeBatchRow>(`${BATCH_WITH_TENANCY} WHERE b.batch_id = $1`, [batchId]);
  return rows[0];
}

/** Σ requested of the campaign's batches: the codes it has or will have. */
export async function requestedCodes(client: PoolClient, campaignId: string): Promise<bigint> {
  const { rows } = await client.query<{ n: bigint }>(
    'SELECT coalesce(sum(requested), 0)::bigint AS n FROM code_batches WHERE campaign_id = $1',
    [campaignId],
  );
  return rows[0]!.n;
}

export async function insertBatch(
  client: PoolClient,
  row: { batch_id: string; campaign_id: string; requested: number; created_by: string },
): Promise<void> {
  await client.query(
    `INSERT INTO code_batches (batch_id, campaign_id, requested, status, created_by)
     VALUES ($1, $2, $3, 'RUNNING', $4)`,
    [row.batch_id, row.campaign_id, row.requested, row.created_by],
  );
}

/** A running batch no other replica works on, under its lock (the job's lease). */
export async function leaseRunningBatch(client: PoolClient): Promise<CodeBatchRow | undefined> {
  const { rows } = await client.query<CodeBatchRow>(
    `SELECT b.*, '' AS operator_id, '' AS project_id FROM code_batches b
      WHERE status = 'RUNNING' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
  );
  return rows[0];
}

/** Inserts the codes (a code already taken, by any batch, is skipped); returns how many went in. */
export async function insertCodes(
  client: PoolClient,
  batch: { batch_id: string; campaign_id: string },
  codes: string[],
): Promise<number> {
  const { rowCount } = await client.query(
    `INSERT INTO codes (code, batch_id, campaign_id)
     SELECT unnest($1::text[]), $2, $3 ON CONFLICT (code) DO NOTHING`,
    [codes, batch.batch_id, batch.campaign_id],
  );
  return rowCount ?? 0;
}

/** generated += n; DONE when all are there. Returns the batch after. */
export async function addGenerated(client: PoolClient, batchId: string, n: number): Promise<CodeBatchRow> {
  const { rows } = await client.query<CodeBatchRow>(
    `UPDATE code_batches SET generated = generated + $2,
            status = CASE WHEN generated + $2 = requested THEN 'DONE' ELSE 'RUNNING' END,
            finished_at = CASE WHEN generated + $2 = requested THEN clock_timestamp() END
      WHERE batch_id = $1 RETURNING *, '' AS operator_id, '' AS project_id`,
    [batchId, n],
  );
  return rows[0]!;
}

/** One page (size + 1 rows) of a batch's codes by code. */
export async function listCodes(
  db: Db,
  batchId: string,
  size: number,
  after: string | undefined,
): Promise<{ code: string; coupon_id: string | null }[]> {
  const { rows } = await db.query<{ code: string; coupon_id: string | null }>(
    `SELECT code, coupon_id FROM codes WHERE batch_id = $1 AND ($2::text IS NULL OR code > $2)
      ORDER BY code LIMIT $3`,
    [batchId, after ?? null, size + 1],
  );
  return rows;
}
