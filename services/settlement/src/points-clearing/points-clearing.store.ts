import type { PoolClient } from '@citybase/platform';
import type { Queryable } from '../ledger/ledger.service';

/**
 * All SQL of points clearing (migrations/0007_points_clearing.sql), in the caller's transaction:
 * the obligations points announced, and the cycles that settle them.
 */

export interface ObligationRow {
  obligation_id: string;
  event_id: string;
  reservation_id: string;
  debtor_operator_id: string;
  debtor_project_id: string;
  creditor_operator_id: string;
  creditor_project_id: string;
  creditor_merchant_id: string;
  points: bigint;
  currency: string;
  amount_minor: bigint;
  tx_id: string;
  status: 'open' | 'settled';
  cycle_id: string | null;
  occurred_at: Date;
  received_at: Date;
}

export type NewObligation = Omit<ObligationRow, 'status' | 'cycle_id' | 'received_at'>;

/** Records an obligation once (a second announcement of the same obligation changes nothing). */
export async function insertObligation(client: PoolClient, o: NewObligation): Promise<boolean> {
  const { rowCount } = await client.query(
    `INSERT INTO points_clearing_obligations (obligation_id, event_id, reservation_id, debtor_operator_id,
                                              debtor_project_id, creditor_operator_id, creditor_project_id,
                                              creditor_merchant_id, points, currency, amount_minor, tx_id, occurred_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (obligation_id) DO NOTHING`,
    [
      o.obligation_id,
      o.event_id,
      o.reservation_id,
      o.debtor_operator_id,
      o.debtor_project_id,
      o.creditor_operator_id,
      o.creditor_project_id,
      o.creditor_merchant_id,
      o.points,
      o.currency,
      o.amount_minor,
      o.tx_id,
      o.occurred_at,
    ],
  );
  return rowCount === 1;
}

/** The currency of the oldest open obligation (the next cycle settles that currency). */
export async function nextOpenCurrency(db: Queryable): Promise<string | undefined> {
  const { rows } = await db.query<{ currency: string }>(
    `SELECT currency FROM points_clearing_obligations WHERE status = 'open' ORDER BY received_at LIMIT 1`,
  );
  return rows[0]?.currency;
}

/** Open obligations of a currency, oldest first, locked; rows another cycle holds are skipped. */
export async function lockOpenObligations(
  client: PoolClient,
  currency: string,
  limit: number,
): Promise<ObligationRow[]> {
  const { rows } = await client.query<ObligationRow>(
    `SELECT * FROM points_clearing_obligations
      WHERE status = 'open' AND currency = $1
      ORDER BY received_at, obligation_id LIMIT $2
      FOR UPDATE SKIP LOCKED`,
    [currency, limit],
  );
  return rows;
}

/** The cycle's row, and its obligations settled by it (each once: only open ones). Returns how many. */
export async function recordCycle(
  client: PoolClient,
  c: { cycleId: string; currency: string; txId: string | undefined; obligationIds: readonly string[] },
): Promise<number> {
  await client.query(
    `INSERT INTO points_clearing_cycles (cycle_id, currency, obligations, tx_id) VALUES ($1, $2, $3, $4)`,
    [c.cycleId, c.currency, c.obligationIds.length, c.txId ?? null],
  );
  const { rowCount } = await client.query(
    `UPDATE points_clearing_obligations SET status = 'settled', cycle_id = $1
      WHERE obligation_id = ANY($2::uuid[]) AND status = 'open'`,
    [c.cycleId, c.obligationIds],
  );
  return rowCount ?? 0;
}
