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
  /** Who asked (claims.sub, or "settlement" for an instructed refund) and under which request id: data, no key. */
  client_id: string;
  request_id: string;
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

/**
 * What refunds need to know of the payment refunded. Read, locked and (refunded_minor) updated in
 * the payments table (feature payments) directly, in the refund's transaction: behind
 * PaymentsService it would close a module cycle (payments applies refund notifications and polls
 * refunds through RefundsService).
 */
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

export interface NewRefund {
  /** The caller (claims.sub), or SETTLEMENT_CLIENT_ID for an instructed refund. */
  clientId: string;
  cmd: RefundPaymentCommand;
  channel: string;
  firstCheckDelayMs: number;
  /** The settlement instruction it carries out; '' (default) for RefundPayment. */
  instructionId?: string;
}

export async function insertRefund(client: PoolClient, refundId: string, r: NewRefund): Promise<RefundRow> {
  const { rows } = await client.query<RefundRow>(
    `INSERT INTO refunds (refund_id, payment_id, client_id, request_id, channel, currency, amount_minor,
                          reason, status, next_check_at, instruction_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10), $11)
     RETURNING *`,
    [
      refundId,
      r.cmd.paymentId,
      r.clientId,
      r.cmd.requestId,
      r.channel,
      r.cmd.currency,
      r.cmd.amountMinor,
      r.cmd.reason,
      RefundStatus.REFUND_STATUS_PROCESSING,
      r.firstCheckDelayMs / 1000,
      r.instructionId ?? '',
    ],
  );
  const row = rows[0];
  if (!row) throw new Error(`refund ${refundId} was not inserted`);
  return row;
}

/** The refund carrying out a settlement instruction, if there is one (at most one: unique index). */
export async function findRefundOfInstruction(db: Db, instructionId: string): Promise<RefundRow | undefined> {
  const { rows } = await db.query<RefundRow>('SELECT * FROM refunds WHERE instruction_id = $1', [
    instructionId,
  ]);
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

/** Processing refunds due for a look at the channel, leased to this channel-poll pass. */
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
