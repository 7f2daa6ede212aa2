import type { Pool, PoolClient } from '@citybase/platform';
import { PaymentScenario, PaymentStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import type { CreatePaymentCommand, PaymentTransition } from './payments.domain';

export interface PaymentRow {
  payment_id: string;
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
  expires_at: Date;
  pay_url: string;
  channel_transaction_id: string;
  completed_at: Date | null;
  failure_reason: string;
  profit_sharing: boolean;
  refunded_minor: bigint;
  /** The checkout whose money part this is ('' for a payment of its own). */
  checkout_id: string;
  version: number;
  updated_at: Date;
  checks: number;
}

type Db = Pool | PoolClient;

/**
 * Inserts a new payment (the use-case pipeline has claimed its request key, whose resource id
 * `paymentId` is).
 */
export async function insertPayment(
  client: PoolClient,
  paymentId: string,
  cmd: CreatePaymentCommand,
  firstCheckDelayMs: number,
): Promise<PaymentRow> {
  const { rows } = await client.query<PaymentRow>(
    `INSERT INTO payments (payment_id, operator_id, project_id, merchant_id, scenario, currency, amount_minor,
                           payer_ref, description, status, expires_at, profit_sharing, next_check_at, checkout_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now() + make_interval(secs => $11), $12,
             now() + make_interval(secs => $13), $14)
     RETURNING *`,
    [
      paymentId,
      cmd.operatorId,
      cmd.projectId,
      cmd.merchantId,
      cmd.scenario,
      cmd.currency,
      cmd.amountMinor,
      cmd.payerRef,
      cmd.description,
      PaymentStatus.PAYMENT_STATUS_CREATED,
      cmd.expiresInSeconds,
      cmd.profitSharing,
      firstCheckDelayMs / 1000,
      cmd.checkoutId ?? '',
    ],
  );
  const row = rows[0];
  if (!row) throw new Error(`payment ${paymentId} was not inserted`);
  return row;
}

export async function findById(db: Db, paymentId: string): Promise<PaymentRow | undefined> {
  const { rows } = await db.query<PaymentRow>('SELECT * FROM payments WHERE payment_id = $1', [paymentId]);
  return rows[0];
}

export async function lockById(client: PoolClient, paymentId: string): Promise<PaymentRow | undefined> {
  const { rows } = await client.query<PaymentRow>('SELECT * FROM payments WHERE payment_id = $1 FOR UPDATE', [
    paymentId,
  ]);
  return rows[0];
}

/**
 * The compare-and-set of every status change: applies `t` only if the payment is still in one of
 * `t.from`. Returns the updated row, or undefined if another source changed the status first.
 */
export async function compareAndSetStatus(
  client: PoolClient,
  paymentId: string,
  t: PaymentTransition,
  nextCheckDelayMs: number,
  order?: { channelId: string; state: ChannelOrderState; detail?: string },
): Promise<PaymentRow | undefined> {
  // the order's state at the channel is written with the status when there is one to write (same
  // rule as setChannelOrderState: 'paid' is never overwritten); one round trip for both
  const { rows } = await client.query<PaymentRow>(
    `WITH after AS (
       UPDATE payments
          SET status = $3,
              channel = $4,
              pay_url = COALESCE($5, pay_url),
              channel_transaction_id = COALESCE($6, channel_transaction_id),
              completed_at = COALESCE($7, completed_at),
              failure_reason = COALESCE($8, failure_reason),
              version = version + 1,
              updated_at = now(),
              checks = 0,
              next_check_at = now() + make_interval(secs => $9)
        WHERE payment_id = $1 AND status = ANY($2::smallint[])
        RETURNING *),
     order_state AS (
       INSERT INTO payment_channel_orders (payment_id, channel_id, state, attempt, detail)
       SELECT payment_id, $10, $11, 1, $12 FROM after WHERE $10::text IS NOT NULL
       ON CONFLICT (payment_id, channel_id) DO UPDATE
         SET state = CASE WHEN payment_channel_orders.state = 'paid' THEN 'paid' ELSE EXCLUDED.state END,
             detail = EXCLUDED.detail, updated_at = now())
     SELECT * FROM after`,
    [
      paymentId,
      t.from,
      t.to,
      t.channel,
      t.payUrl ?? null,
      t.channelTransactionId ?? null,
      t.completedAt ?? null,
      t.failureReason ?? null,
      nextCheckDelayMs / 1000,
      order?.channelId ?? null,
      order?.state ?? null,
      (order?.detail ?? '').slice(0, 500),
    ],
  );
  return rows[0];
}

/**
 * Takes the routing lease of a payment not yet routed and reads it with the orders already tried
 * for it (one round trip); undefined if it is routed already or another caller holds the lease.
 */
export async function takeRoutingLease(
  db: Db,
  paymentId: string,
  leaseMs: number,
): Promise<{ payment: PaymentRow; tried: ChannelOrderRow[] } | undefined> {
  const { rows } = await db.query<PaymentRow & { routing_until: Date; tried: ChannelOrderRow[] }>(
    `UPDATE payments SET routing_until = now() + make_interval(secs => $2)
      WHERE payment_id = $1
        AND (status = ${PaymentStatus.PAYMENT_STATUS_CREATED}
             OR (status = ${PaymentStatus.PAYMENT_STATUS_UNKNOWN} AND pay_url = ''))
        AND (routing_until IS NULL OR routing_until < now())
     RETURNING *,
       (SELECT coalesce(json_agg(json_build_object('payment_id', o.payment_id, 'channel_id', o.channel_id,
                                                   'state', o.state, 'attempt', o.attempt, 'detail', o.detail)
                                 ORDER BY o.created_at, o.channel_id), '[]'::json)
          FROM payment_channel_orders o WHERE o.payment_id = $1) AS tried`,
    [paymentId, leaseMs / 1000],
  );
  const row = rows[0];
  if (!row) return undefined;
  const { tried, routing_until: _lease, ...payment } = row;
  return { payment, tried };
}

/**
 * Locks the payment for a transition that ends its routing: the lease is released with the
 * transaction's commit (one round trip for both).
 */
export async function lockEndingRouting(
  client: PoolClient,
  paymentId: string,
): Promise<PaymentRow | undefined> {
  const { rows } = await client.query<PaymentRow>(
    'UPDATE payments SET routing_until = NULL WHERE payment_id = $1 RETURNING *',
    [paymentId],
  );
  return rows[0];
}

/**
 * Records a channel's notification about the payment's order by its id and locks the payment (one
 * round trip). `recorded` is false if it was recorded already (a duplicate).
 */
export async function recordOrderNotificationAndLock(
  client: PoolClient,
  n: { channelId: string; notificationId: string; paymentId: string },
): Promise<{ recorded: boolean; payment: PaymentRow }> {
  const { rows } = await client.query<PaymentRow & { recorded: boolean }>(
    `WITH recorded AS (
       INSERT INTO channel_notifications (channel_id, notification_id, payment_id, kind)
       VALUES ($1, $2, $3, 'order') ON CONFLICT DO NOTHING RETURNING 1)
     SELECT p.*, EXISTS (SELECT 1 FROM recorded) AS recorded FROM payments p WHERE p.payment_id = $3 FOR UPDATE`,
    [n.channelId, n.notificationId, n.paymentId],
  );
  const row = rows[0];
  if (!row) throw new Error(`payment ${n.paymentId} does not exist`);
  const { recorded, ...payment } = row;
  return { recorded, payment };
}

export async function releaseRoutingLease(db: Db, paymentId: string): Promise<void> {
  await db.query('UPDATE payments SET routing_until = NULL WHERE payment_id = $1', [paymentId]);
}

/** The payment, and whether another caller holds its routing lease right now. */
export async function findWithRoutingState(
  db: Db,
  paymentId: string,
): Promise<(PaymentRow & { routing: boolean }) | undefined> {
  const { rows } = await db.query<PaymentRow & { routing: boolean }>(
    `SELECT *, routing_until IS NOT NULL AND routing_until > now() AS routing FROM payments WHERE payment_id = $1`,
    [paymentId],
  );
  return rows[0];
}

export type ChannelOrderState = 'pending' | 'open' | 'closed' | 'rejected' | 'paid';

export interface ChannelOrderRow {
  payment_id: string;
  channel_id: string;
  state: ChannelOrderState;
  attempt: number;
  detail: string;
}

/** Remembers that an order of the payment is being opened at the channel (before the call). */
export async function recordChannelOrderAttempt(db: Db, paymentId: string, channelId: string): Promise<void> {
  await db.query(
    `INSERT INTO payment_channel_orders (payment_id, channel_id, state, attempt)
     VALUES ($1, $2, 'pending', 1)
     ON CONFLICT (payment_id, channel_id) DO UPDATE
       SET attempt = payment_channel_orders.attempt + 1, updated_at = now(),
           state = CASE WHEN payment_channel_orders.state IN ('paid', 'open') THEN payment_channel_orders.state
                        ELSE 'pending' END`,
    [paymentId, channelId],
  );
}

export async function setChannelOrderState(
  db: Db,
  paymentId: string,
  channelId: string,
  state: ChannelOrderState,
  detail = '',
): Promise<void> {
  // 'paid' is what the channel said last about money: it is never overwritten
  await db.query(
    `INSERT INTO payment_channel_orders (payment_id, channel_id, state, attempt, detail)
     VALUES ($1, $2, $3, 1, $4)
     ON CONFLICT (payment_id, channel_id) DO UPDATE
       SET state = CASE WHEN payment_channel_orders.state = 'paid' THEN 'paid' ELSE EXCLUDED.state END,
           detail = EXCLUDED.detail, updated_at = now()`,
    [paymentId, channelId, state, detail.slice(0, 500)],
  );
}

export async function channelOrders(db: Db, paymentId: string): Promise<ChannelOrderRow[]> {
  const { rows } = await db.query<ChannelOrderRow>(
    `SELECT payment_id, channel_id, state, attempt, detail FROM payment_channel_orders
      WHERE payment_id = $1 ORDER BY created_at, channel_id`,
    [paymentId],
  );
  return rows;
}

/**
 * Claims open payments that are due (next check or expiry passed) for this channel-poll pass: they are
 * leased for `leaseMs` so other processes skip them, and their next check is pushed back.
 */
export async function claimDuePayments(
  client: PoolClient,
  limit: number,
  leaseMs: number,
  intervalMs: number,
): Promise<PaymentRow[]> {
  const { rows } = await client.query<PaymentRow>(
    `WITH due AS (
       SELECT payment_id FROM payments
        WHERE status IN (${PaymentStatus.PAYMENT_STATUS_CREATED}, ${PaymentStatus.PAYMENT_STATUS_PROCESSING},
                         ${PaymentStatus.PAYMENT_STATUS_UNKNOWN})
          AND LEAST(next_check_at, expires_at) <= now()
          AND (reconciled_until IS NULL OR reconciled_until < now())
          AND (routing_until IS NULL OR routing_until < now())
        ORDER BY LEAST(next_check_at, expires_at)
        LIMIT $1
        FOR UPDATE SKIP LOCKED)
     UPDATE payments p
        SET reconciled_until = now() + make_interval(secs => $2),
            checks = p.checks + 1,
            next_check_at = now() + make_interval(secs => LEAST($3 * power(2, LEAST(p.checks, 12)), GREATEST($3, 300)))
       FROM due WHERE p.payment_id = due.payment_id
     RETURNING p.*`,
    [limit, leaseMs / 1000, intervalMs / 1000],
  );
  return rows;
}

export async function releaseReconcileLease(db: Db, paymentId: string): Promise<void> {
  await db.query('UPDATE payments SET reconciled_until = NULL WHERE payment_id = $1', [paymentId]);
}

export interface StrayChannelOrder {
  payment_id: string;
  project_id: string;
  channel_id: string;
  state: ChannelOrderState;
}

/**
 * Orders opened (or possibly opened) at a channel the payment was not routed to in the end: they
 * must be closed so that the payer can never pay them too. Not while routing is still going on.
 */
export async function claimStrayChannelOrders(
  client: PoolClient,
  limit: number,
  leaseMs: number,
): Promise<StrayChannelOrder[]> {
  const { rows } = await client.query<StrayChannelOrder>(
    `SELECT o.payment_id, p.project_id, o.channel_id, o.state
       FROM payment_channel_orders o JOIN payments p USING (payment_id)
      WHERE o.state IN ('pending', 'open')
        AND o.channel_id <> p.channel
        AND p.status <> ${PaymentStatus.PAYMENT_STATUS_CREATED}
        AND (p.routing_until IS NULL OR p.routing_until < now())
        AND o.updated_at < now() - make_interval(secs => $2)
      ORDER BY o.updated_at
      LIMIT $1
      FOR UPDATE OF o SKIP LOCKED`,
    [limit, leaseMs / 1000],
  );
  // leased (updated_at is the lease's start) so that another process does not pick the same ones at once
  for (const r of rows) {
    await client.query(
      `UPDATE payment_channel_orders SET updated_at = now() WHERE payment_id = $1 AND channel_id = $2`,
      [r.payment_id, r.channel_id],
    );
  }
  return rows;
}

/**
 * Records a channel notification by its id; false if it was recorded already (a duplicate: its
 * effect was applied with it, in the transaction that recorded it).
 */
export async function recordNotification(
  client: PoolClient,
  n: { channelId: string; notificationId: string; paymentId: string; kind: string },
): Promise<boolean> {
  const { rowCount } = await client.query(
    `INSERT INTO channel_notifications (channel_id, notification_id, payment_id, kind)
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [n.channelId, n.notificationId, n.paymentId, n.kind],
  );
  return rowCount === 1;
}
