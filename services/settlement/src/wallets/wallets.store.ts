import type { PoolClient } from '@citybase/platform';
import type { Queryable } from '../ledger/ledger.service';

/** SQL of wallet fee payments (migrations/0004_payouts.sql). */

export interface FeePaymentRow {
  fee_payment_id: string;
  operator_id: string;
  project_id: string;
  owner_ref: string;
  bill_ref: string;
  currency: string;
  amount_minor: bigint;
  tx_id: string;
  created_at: Date;
}

/** False when the bill was paid before. */
export async function insertFeePayment(
  client: PoolClient,
  f: Omit<FeePaymentRow, 'created_at'>,
): Promise<boolean> {
  const res = await client.query(
    `INSERT INTO wallet_fee_payments (fee_payment_id, operator_id, project_id, owner_ref, bill_ref, currency,
                                      amount_minor, tx_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (operator_id, project_id, bill_ref) DO NOTHING`,
    [
      f.fee_payment_id,
      f.operator_id,
      f.project_id,
      f.owner_ref,
      f.bill_ref,
      f.currency,
      f.amount_minor,
      f.tx_id,
    ],
  );
  return res.rowCount === 1;
}

export async function findFeePayment(db: Queryable, id: string): Promise<FeePaymentRow | undefined> {
  const { rows } = await db.query<FeePaymentRow>(
    'SELECT * FROM wallet_fee_payments WHERE fee_payment_id = $1',
    [id],
  );
  return rows[0];
}

export async function billPaid(
  db: Queryable,
  b: { operatorId: string; projectId: string; billRef: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    'SELECT 1 FROM wallet_fee_payments WHERE operator_id = $1 AND project_id = $2 AND bill_ref = $3',
    [b.operatorId, b.projectId, b.billRef],
  );
  return (rowCount ?? 0) > 0;
}
