import type { PoolClient, Pool } from '@citybase/platform';
import { PaymentScenario, PaymentStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import type { RecordPaymentCommand } from './payments.domain';

export interface PaymentRow {
  payment_id: string;
  request_id: string;
  request_hash: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  scenario: PaymentScenario;
  currency: string;
  amount_minor: bigint;
  payer_ref: string;
  description: string;
  status: PaymentStatus;
  channel: string;
  created_at: Date;
}

/** Inserts the payment unless its request_id is taken; returns undefined on a taken key. */
export async function insertPayment(
  client: PoolClient,
  paymentId: string,
  cmd: RecordPaymentCommand,
  hash: string,
): Promise<PaymentRow | undefined> {
  const { rows } = await client.query<PaymentRow>(
    `INSERT INTO payments (payment_id, request_id, request_hash, operator_id, project_id, merchant_id, scenario,
                           currency, amount_minor, payer_ref, description, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (request_id) DO NOTHING
     RETURNING *`,
    [
      paymentId,
      cmd.requestId,
      hash,
      cmd.operatorId,
      cmd.projectId,
      cmd.merchantId,
      cmd.scenario,
      cmd.currency,
      cmd.amountMinor,
      cmd.payerRef,
      cmd.description,
      PaymentStatus.PAYMENT_STATUS_CREATED,
    ],
  );
  return rows[0];
}

export async function findByRequestId(
  db: PoolClient | Pool,
  requestId: string,
): Promise<PaymentRow | undefined> {
  const { rows } = await db.query<PaymentRow>('SELECT * FROM payments WHERE request_id = $1', [requestId]);
  return rows[0];
}

export async function findById(db: PoolClient | Pool, paymentId: string): Promise<PaymentRow | undefined> {
  const { rows } = await db.query<PaymentRow>('SELECT * FROM payments WHERE payment_id = $1', [paymentId]);
  return rows[0];
}
