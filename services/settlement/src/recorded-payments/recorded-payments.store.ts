import type { Pool, PoolClient } from '@citybase/platform';

export interface RecordedPaymentRow {
  payment_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  scenario: number;
  currency: string;
  amount_minor: bigint;
  channel: string;
  occurred_at: Date;
  recorded_at: Date;
  event_id: string;
}

export async function insertRecordedPayment(
  client: PoolClient,
  row: Omit<RecordedPaymentRow, 'recorded_at'>,
): Promise<void> {
  // No ON CONFLICT here on purpose: the inbox guarantees one application per event, and a
  // second PaymentCreated for the same payment would be a bug worth failing loudly on.
  await client.query(
    `INSERT INTO recorded_payments (payment_id, operator_id, project_id, merchant_id, scenario, currency, amount_minor, channel, occurred_at, event_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      row.payment_id,
      row.operator_id,
      row.project_id,
      row.merchant_id,
      row.scenario,
      row.currency,
      row.amount_minor,
      row.channel,
      row.occurred_at,
      row.event_id,
    ],
  );
}

export async function findRecordedPayment(
  db: Pool,
  paymentId: string,
): Promise<RecordedPaymentRow | undefined> {
  const { rows } = await db.query<RecordedPaymentRow>(
    'SELECT * FROM recorded_payments WHERE payment_id = $1',
    [paymentId],
  );
  return rows[0];
}
