import type { Pool, PoolClient } from '@citybase/platform';
import {
  PaymentScenario,
  PaymentStatus,
  RefundStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import type { RefundPaymentCommand, RefundTransition } from './refunds.domain';

export interface RefundRow {
  refund_id: string;
  payment_id: string;
  client_id: string;
  request_id: string;
  request_hash: string;
  channel: string;
  currency: string;
  amount_minor: bigint;
  reason: string;
  status: RefundStatus;
  channel_refund_id: string;
  failure_reason: string;
  created_at: Date;
  completed_at: Date | null;
  updated_at: Date;
  /** The settlement instruction this refund carries out; '' for refunds asked for over gRPC. */
  instruction_id: string;
}

/** What refunds need to know of the payment refunded (read from the payments table). */
export interface RefundedPayment {
  payment_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  scenario: PaymentScenario;
  status: PaymentStatus;
  channel: string;
  currency: string;
  amount_minor: bigint;
  refunded_minor: bigint;
}

type Db = Pool | PoolClient;

const PAYMENT_COLUMNS = `payment_id, operator_id, project_id, merchant_id, scenario, status, channel, currency,
                         amount_minor, refunded_minor`;

/** Locks the payment: refunds of one payment are decided one at a time. */
export async function lockPayment(
  client: PoolClient,
  paymentId: string,
): Promise<RefundedPayment | undefined> {
  const { rows } = await client.query<RefundedPayment>(
    `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE payment_id = $1 FOR UPDATE`,
    [paymentId],
  );
  return rows[0];
}

export async function findPayment(db: Db, paymentId: string): Promise<RefundedPayment | undefined> {
  const { rows } = await db.query<RefundedPayment>(
    `SELECT ${PAYMENT_COLUMNS} FROM payments WHERE payment_id = $1`,
    [paymentId],
  );
  return rows[0];
}

/** Refunds of the payment that are succeeded or may still succeed (processing). */
export async function committedRefunds(client: PoolClient, paymentId: string): Promise<bigint> {
  const { rows } = await client.query<{ total: bigint }>(
    `SELECT COALESCE(sum(amount_minor), 0)::bigint AS total FROM refunds
      WHERE payment_id = $1 AND status IN (${RefundStatus.REFUND_STATUS_PROCESSING}, ${RefundStatus.REFUND_STATUS_SUCCEEDED})`,
    [paymentId],
  );
  return rows[0]?.total ?? 0n;
}

export async function insertRefund(
  client: PoolClient,
  refundId: string,
  clientId: string,
  cmd: RefundPaymentCommand,
  hash: string,
  channel: string,
  firstCheckDelayMs: number,
  instructionId = '',
): Promise<RefundRow | undefined> {
  const { rows } = await client.query<RefundRow>(
    `INSERT INTO refunds (refund_id, payment_id, client_id, request_id, request_hash, channel, currency, amount_minor,
                          reason, status, next_check_at, instruction_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11), $12)
     ON CONFLICT (client_id, request_id) DO NOTHING
     RETURNING *`,
    [
      refundId,
      cmd.paymentId,
      clientId,
      cmd.requestId,
      hash,
      channel,
      cmd.currency,
      cmd.amountMinor,
      cmd.reason,
      RefundStatus.REFUND_STATUS_PROCESSING,
      firstCheckDelayMs / 1000,
      instructionId,
    ],
  );
  return rows[0];
}

export async function findByRequestId(
  db: Db,
  clientId: string,
  requestId: string,
): Promise<RefundRow | undefined> {
  const { rows } = await db.query<RefundRow>(
    'SELECT * FROM refunds WHERE client_id = $1 AND request_id = $2',
    [clientId, requestId],
  );
  return rows[0];
}

export async function findRefund(db: Db, refundId: string): Promise<RefundRow | undefined> {
  const { rows } = await db.query<RefundRow>('SELECT * FROM refunds WHERE refund_id = $1', [refundId]);
  return rows[0];
}

/** Compare-and-set processing > succeeded | failed; undefined if the refund is no longer processing. */
export async function completeRefund(
  client: PoolClient,
  refundId: string,
  t: RefundTransition,
): Promise<RefundRow | undefined> {
  const { rows } = await client.query<RefundRow>(
    `UPDATE refunds
        SET status = $2, channel_refund_id = COALESCE(NULLIF($3, ''), channel_refund_id), completed_at = $4,
            failure_reason = COALESCE($5, failure_reason), updated_at = now()
      WHERE refund_id = $1 AND status = ${RefundStatus.REFUND_STATUS_PROCESSING}
      RETURNING *`,
    [refundId, t.to, t.channelRefundId ?? '', t.completedAt, t.failureReason ?? null],
  );
  return rows[0];
}

/** Adds a succeeded refund to the payment's refunded total; returns the new total. */
export async function addRefunded(
  client: PoolClient,
  paymentId: string,
  amountMinor: bigint,
): Promise<bigint> {
  const { rows } = await client.query<{ refunded_minor: bigint }>(
    `UPDATE payments SET refunded_minor = refunded_minor + $2, version = version + 1, updated_at = now()
      WHERE payment_id = $1 RETURNING refunded_minor`,
    [paymentId, amountMinor],
  );
  const row = rows[0];
  if (!row) throw new Error(`payment ${paymentId} does not exist`);
  return row.refunded_minor;
}

/** Processing refunds due for a look at the channel, leased to this reconciler run. */
export async function claimDueRefunds(
  client: PoolClient,
  limit: number,
  leaseMs: number,
  intervalMs: number,
): Promise<RefundRow[]> {
  const { rows } = await client.query<RefundRow>(
    `WITH due AS (
       SELECT refund_id FROM refunds
        WHERE status = ${RefundStatus.REFUND_STATUS_PROCESSING}
          AND next_check_at <= now()
          AND (reconciled_until IS NULL OR reconciled_until < now())
        ORDER BY next_check_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED)
     UPDATE refunds r
        SET reconciled_until = now() + make_interval(secs => $2),
            checks = r.checks + 1,
            next_check_at = now() + make_interval(secs => LEAST($3 * power(2, LEAST(r.checks, 12)), GREATEST($3, 300)))
       FROM due WHERE r.refund_id = due.refund_id
     RETURNING r.*`,
    [limit, leaseMs / 1000, intervalMs / 1000],
  );
  return rows;
}

export async function releaseReconcileLease(db: Db, refundId: string): Promise<void> {
  await db.query('UPDATE refunds SET reconciled_until = NULL WHERE refund_id = $1', [refundId]);
}
