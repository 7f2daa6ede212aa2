import type { PoolClient } from '@citybase/platform';
import type { Queryable } from '../sql';

export interface EntryRow {
  seq: string;
  at: Date;
  kind: string;
  body: string;
  prev_hash: string;
  hash: string;
}

export interface CheckpointRow {
  tree_size: string;
  root: string;
  key_id: string;
  signature: string;
  signed_at: Date;
}

/** One writer at a time: the log's order is the order of this lock (held to the end of the transaction). */
export async function lockLog(client: PoolClient): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('citybase.data.access_log'))`);
}

export async function lastEntry(client: Queryable): Promise<{ seq: number; hash: string } | undefined> {
  const { rows } = await client.query<{ seq: string; hash: string }>(
    `SELECT seq::text, hash FROM access_log ORDER BY access_log.seq DESC LIMIT 1`,
  );
  return rows[0] && { seq: Number(rows[0].seq), hash: rows[0].hash };
}

export async function insertEntry(
  client: PoolClient,
  e: { seq: number; at: Date; kind: string; body: string; prevHash: string; hash: string },
): Promise<void> {
  await client.query(
    `INSERT INTO access_log (seq, at, kind, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6)`,
    [e.seq, e.at, e.kind, e.body, e.prevHash, e.hash],
  );
}

/** Entry hashes 1..size in order (the Merkle tree's leaves). */
export async function entryHashes(client: Queryable, size: number): Promise<string[]> {
  const { rows } = await client.query<{ hash: string }>(
    `SELECT hash FROM access_log WHERE seq <= $1 ORDER BY seq`,
    [size],
  );
  return rows.map((r) => r.hash);
}

export async function entriesFrom(client: Queryable, fromSeq: number): Promise<EntryRow[]> {
  const { rows } = await client.query<EntryRow>(
    `SELECT seq::text, at, kind, body, prev_hash, hash FROM access_log WHERE access_log.seq >= $1 ORDER BY access_log.seq`,
    [fromSeq],
  );
  return rows;
}

export async function entryAt(client: Queryable, seq: number): Promise<EntryRow | undefined> {
  const { rows } = await client.query<EntryRow>(
    `SELECT seq::text, at, kind, body, prev_hash, hash FROM access_log WHERE seq = $1`,
    [seq],
  );
  return rows[0];
}

export async function lastCheckpoint(client: Queryable): Promise<CheckpointRow | undefined> {
  const { rows } = await client.query<CheckpointRow>(
    `SELECT tree_size::text, root, key_id, signature, signed_at FROM access_log_checkpoints
      ORDER BY access_log_checkpoints.tree_size DESC LIMIT 1`,
  );
  return rows[0];
}

export async function checkpointsFrom(client: Queryable, minSize: number): Promise<CheckpointRow[]> {
  const { rows } = await client.query<CheckpointRow>(
    `SELECT tree_size::text, root, key_id, signature, signed_at FROM access_log_checkpoints
      WHERE access_log_checkpoints.tree_size >= $1 ORDER BY access_log_checkpoints.tree_size`,
    [minSize],
  );
  return rows;
}

export async function insertCheckpoint(
  client: PoolClient,
  c: { treeSize: number; root: string; keyId: string; signature: string },
): Promise<void> {
  await client.query(
    `INSERT INTO access_log_checkpoints (tree_size, root, key_id, signature) VALUES ($1, $2, $3, $4)
     ON CONFLICT (tree_size) DO NOTHING`,
    [c.treeSize, c.root, c.keyId, c.signature],
  );
}
