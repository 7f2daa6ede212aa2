import type { PoolClient } from '@citybase/platform';
import type { Queryable } from '../sql';

export async function usedToday(client: Queryable, grantId: string): Promise<bigint> {
  const { rows } = await client.query<{ rows: string }>(
    `SELECT rows::text FROM grant_usage WHERE grant_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date`,
    [grantId],
  );
  return BigInt(rows[0]?.rows ?? '0');
}

export async function addUsage(client: PoolClient, grantId: string, rows: number): Promise<void> {
  await client.query(
    `INSERT INTO grant_usage (grant_id, day, rows) VALUES ($1, (now() AT TIME ZONE 'UTC')::date, $2)
     ON CONFLICT (grant_id, day) DO UPDATE SET rows = grant_usage.rows + EXCLUDED.rows`,
    [grantId, rows],
  );
}

/** The bound of a pull: every transaction below it has ended (pg_snapshot_xmin of a fresh snapshot). */
export async function snapshotBound(client: Queryable): Promise<string> {
  const { rows } = await client.query<{ xmin: string }>(
    `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`,
  );
  return rows[0]!.xmin;
}

/** The grant's state between batches: revocation and expiry stop a pull under way. */
export async function grantState(
  client: Queryable,
  grantId: string,
): Promise<{ status: string; valid_until: Date; version: string } | undefined> {
  const { rows } = await client.query<{ status: string; valid_until: Date; version: string }>(
    `SELECT status, valid_until, version::text FROM grants WHERE grant_id = $1`,
    [grantId],
  );
  return rows[0];
}

export async function insertPull(
  client: PoolClient,
  p: { pullId: string; grantId: string; clientId: string; datasetId: string; openedSeq: number },
): Promise<void> {
  await client.query(
    `INSERT INTO pulls (pull_id, grant_id, client_id, dataset_id, opened_seq) VALUES ($1, $2, $3, $4, $5)`,
    [p.pullId, p.grantId, p.clientId, p.datasetId, p.openedSeq],
  );
}

export async function closePull(
  client: PoolClient,
  pullId: string,
  closedSeq: number,
  manifest: unknown,
  evidence: unknown,
): Promise<void> {
  await client.query(`UPDATE pulls SET closed_seq = $2, manifest = $3, evidence = $4 WHERE pull_id = $1`, [
    pullId,
    closedSeq,
    JSON.stringify(manifest),
    JSON.stringify(evidence),
  ]);
}

export async function findPull(
  client: Queryable,
  pullId: string,
): Promise<
  { pull_id: string; grant_id: string; client_id: string; manifest: unknown; evidence: unknown } | undefined
> {
  const { rows } = await client.query<{
    pull_id: string;
    grant_id: string;
    client_id: string;
    manifest: unknown;
    evidence: unknown;
  }>(
    `SELECT pull_id, grant_id, client_id, manifest, evidence FROM pulls WHERE pull_id = $1 AND closed_seq IS NOT NULL`,
    [pullId],
  );
  return rows[0];
}
