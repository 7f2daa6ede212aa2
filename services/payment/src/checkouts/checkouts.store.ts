import type { Pool, PoolClient } from '@citybase/platform';
import type { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import type { CreateCheckoutCommand, ListCheckoutsQuery, Parts } from './checkouts.domain';
import type { CheckoutState, Step } from './checkouts.transitions';

/**
 * All SQL of checkouts; mutations run in the caller's transaction.
 * Tables checkouts and checkout_refunds: migrations/0007_checkouts.sql.
 */

export interface CheckoutRow {
  checkout_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  scenario: PaymentScenario;
  user_id: string;
  points_holder_id: string;
  currency: string;
  total_minor: bigint;
  item_codes: string[];
  coupon_id: string;
  coupon_code: string;
  points: bigint;
  payer_ref: string;
  description: string;
  expires_in_seconds: number;
  reservation_ttl_seconds: number;
  profit_sharing: boolean;
  status: CheckoutState;
  step: Step;
  coupon_redemption_id: string;
  discount_minor: bigint;
  points_reservation_id: string;
  point_value_minor: bigint;
  points_value_minor: bigint;
  money_minor: bigint;
  payment_id: string | null;
  /** The money's refund when the checkout was released after its payment succeeded. */
  money_refund_id: string | null;
  coupon_confirmed: boolean;
  points_confirmed: boolean;
  coupon_cancelled: boolean;
  points_cancelled: boolean;
  release_reason: string;
  release_from: string;
  refusal_kind: string;
  refusal_code: string;
  refusal_field: string;
  refusal_message: string;
  refunded_total_minor: bigint;
  refunded_discount_minor: bigint;
  refunded_points: bigint;
  refunded_points_value_minor: bigint;
  refunded_money_minor: bigint;
  committed_refund_minor: bigint;
  expires_at: Date;
  completed_at: Date | null;
  next_attempt_at: Date | null;
  lease_until: Date | null;
  attempts: number;
  last_error: string;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export type CheckoutListRow = CheckoutRow & { cursor_at: string };

export type TenancyScope = { all: true } | { all: false; operatorIds: string[]; projectIds: string[] };

type Db = Pool | PoolClient;

export async function findCheckout(db: Db, checkoutId: string): Promise<CheckoutRow | undefined> {
  const { rows } = await db.query<CheckoutRow>('SELECT * FROM checkouts WHERE checkout_id = $1', [
    checkoutId,
  ]);
  return rows[0];
}

export async function findCheckoutOfPayment(db: Db, paymentId: string): Promise<CheckoutRow | undefined> {
  const { rows } = await db.query<CheckoutRow>('SELECT * FROM checkouts WHERE payment_id = $1', [paymentId]);
  return rows[0];
}

/** The row lock every change of a checkout happens under. */
export async function lockCheckout(client: PoolClient, checkoutId: string): Promise<CheckoutRow | undefined> {
  const { rows } = await client.query<CheckoutRow>(
    'SELECT * FROM checkouts WHERE checkout_id = $1 FOR UPDATE',
    [checkoutId],
  );
  return rows[0];
}

export async function insertCheckout(
  client: PoolClient,
  checkoutId: string,
  cmd: CreateCheckoutCommand,
  step: Step,
  reservationTtlSeconds: number,
  firstAttemptDelayMs: number,
): Promise<CheckoutRow> {
  const { rows } = await client.query<CheckoutRow>(
    `INSERT INTO checkouts (checkout_id, operator_id, project_id, merchant_id, scenario, user_id, points_holder_id,
                            currency, total_minor, item_codes, coupon_id, coupon_code, points, payer_ref, description,
                            expires_in_seconds, reservation_ttl_seconds, profit_sharing, step, expires_at,
                            money_minor, next_attempt_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
             clock_timestamp() + make_interval(secs => $16::int), $9,
             clock_timestamp() + make_interval(secs => $20::double precision))
     RETURNING *`,
    [
      checkoutId,
      cmd.operatorId,
      cmd.projectId,
      cmd.merchantId,
      cmd.scenario,
      cmd.userId,
      cmd.pointsHolderId,
      cmd.currency,
      cmd.totalMinor,
      cmd.itemCodes,
      cmd.couponId,
      cmd.couponCode,
      cmd.points,
      cmd.payerRef,
      cmd.description,
      cmd.expiresInSeconds,
      reservationTtlSeconds,
      cmd.profitSharing,
      step,
      firstAttemptDelayMs / 1000,
    ],
  );
  const row = rows[0];
  if (!row) throw new Error(`checkout ${checkoutId} was not inserted`);
  return row;
}

/** Columns a saga step may set. */
export type SagaPatch = Partial<
  Pick<
    CheckoutRow,
    | 'status'
    | 'step'
    | 'coupon_id'
    | 'coupon_redemption_id'
    | 'discount_minor'
    | 'points_reservation_id'
    | 'point_value_minor'
    | 'points_value_minor'
    | 'money_minor'
    | 'payment_id'
    | 'money_refund_id'
    | 'coupon_confirmed'
    | 'points_confirmed'
    | 'coupon_cancelled'
    | 'points_cancelled'
    | 'release_reason'
    | 'release_from'
    | 'refusal_kind'
    | 'refusal_code'
    | 'refusal_field'
    | 'refusal_message'
    | 'last_error'
  >
> & { completed?: boolean; dueInMs?: number | null };

/**
 * Compare-and-set of a saga's state: applied only when the row is still at `version` (another
 * replica or path did not move it meanwhile). Answers the row after, or undefined when it had moved.
 */
export async function patchCheckout(
  db: Db,
  checkoutId: string,
  version: number,
  patch: SagaPatch,
): Promise<CheckoutRow | undefined> {
  const sets: string[] = [];
  const values: unknown[] = [checkoutId, version];
  for (const [k, v] of Object.entries(patch)) {
    if (k === 'completed' || k === 'dueInMs' || v === undefined) continue;
    values.push(v);
    sets.push(`${k} = $${values.length}`);
  }
  if (patch.completed) sets.push('completed_at = clock_timestamp()');
  if (patch.dueInMs === null) sets.push('next_attempt_at = NULL, attempts = 0');
  else if (patch.dueInMs !== undefined) {
    values.push(patch.dueInMs / 1000);
    sets.push(`next_attempt_at = clock_timestamp() + make_interval(secs => $${values.length})`);
  }
  sets.push('version = version + 1', 'updated_at = clock_timestamp()');
  const { rows } = await db.query<CheckoutRow>(
    `UPDATE checkouts SET ${sets.join(', ')} WHERE checkout_id = $1 AND version = $2 RETURNING *`,
    values,
  );
  return rows[0];
}

/** A failed attempt: the row is due again after `delayMs`. */
export async function retryLater(db: Db, checkoutId: string, delayMs: number, error: string): Promise<void> {
  await db.query(
    `UPDATE checkouts SET attempts = attempts + 1, last_error = $3,
            next_attempt_at = clock_timestamp() + make_interval(secs => $2)
      WHERE checkout_id = $1`,
    [checkoutId, delayMs / 1000, error.slice(0, 500)],
  );
}

/**
 * Sagas due for the recovery job (an unfinished step whose attempt time has come, nobody holding
 * the lease), leased for `leaseMs` under FOR UPDATE SKIP LOCKED: two replicas never take the same
 * row at once. Answers the leased rows (the driver needs no second read).
 */
export async function claimDueCheckouts(
  client: PoolClient,
  limit: number,
  leaseMs: number,
): Promise<CheckoutRow[]> {
  const { rows } = await client.query<CheckoutRow>(
    `UPDATE checkouts SET lease_until = clock_timestamp() + make_interval(secs => $2)
      WHERE checkout_id IN (
        SELECT checkout_id FROM checkouts
         WHERE next_attempt_at <= clock_timestamp()
           AND (lease_until IS NULL OR lease_until < clock_timestamp())
         ORDER BY next_attempt_at
         LIMIT $1
         FOR UPDATE SKIP LOCKED)
      RETURNING *`,
    [limit, leaseMs / 1000],
  );
  return rows;
}

/**
 * Takes the lease of one saga (the request path driving its own checkout): the leased row, or
 * undefined when another driver holds it (or there is no such checkout).
 */
export async function takeLease(
  db: Db,
  checkoutId: string,
  leaseMs: number,
): Promise<CheckoutRow | undefined> {
  const { rows } = await db.query<CheckoutRow>(
    `UPDATE checkouts SET lease_until = clock_timestamp() + make_interval(secs => $2)
      WHERE checkout_id = $1 AND (lease_until IS NULL OR lease_until < clock_timestamp())
      RETURNING *`,
    [checkoutId, leaseMs / 1000],
  );
  return rows[0];
}

/**
 * Ends a driver's lease; answers whether the saga is due now (news that came while the lease was
 * held, such as the payment's outcome, whose own drive found the lease taken).
 */
export async function releaseLease(db: Db, checkoutId: string): Promise<boolean> {
  const { rows } = await db.query<{ due: boolean }>(
    `UPDATE checkouts SET lease_until = NULL WHERE checkout_id = $1
     RETURNING coalesce(next_attempt_at <= clock_timestamp(), false) AS due`,
    [checkoutId],
  );
  return rows[0]?.due ?? false;
}

/** Unfinished sagas past their expiry (plus `graceMs`) that have not been turned back yet. */
export async function markExpiredDue(db: Db, graceMs: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE checkouts SET next_attempt_at = clock_timestamp()
      WHERE checkout_id IN (
        SELECT checkout_id FROM checkouts
         WHERE step IN ('CLAIM_COUPON', 'RESERVE_COUPON', 'RESERVE_POINTS', 'OPEN_PAYMENT', 'AWAIT_PAYMENT')
           AND expires_at + make_interval(secs => $1) < clock_timestamp()
           AND (next_attempt_at IS NULL OR next_attempt_at > clock_timestamp())
         LIMIT $2)`,
    [graceMs / 1000, limit],
  );
  return rowCount ?? 0;
}

/** The payment's outcome makes the checkout due at once (in the transaction of the payment's transition). */
export async function markPaymentOutcome(client: PoolClient, paymentId: string): Promise<string | undefined> {
  const { rows } = await client.query<{ checkout_id: string }>(
    // the version moves too: a driver that read the checkout before (the request still opening the
    // payment) loses its compare-and-set and looks again, instead of parking the saga as waiting
    `UPDATE checkouts SET next_attempt_at = clock_timestamp(), version = version + 1
      WHERE payment_id = $1 AND step IN ('OPEN_PAYMENT', 'AWAIT_PAYMENT')
      RETURNING checkout_id`,
    [paymentId],
  );
  return rows[0]?.checkout_id;
}

/** Makes a payment due for the channel-poll job to close at the channel (a cancelled checkout). */
export async function expirePaymentNow(client: PoolClient, paymentId: string): Promise<void> {
  await client.query(
    `UPDATE payments SET expires_at = LEAST(expires_at, clock_timestamp()), next_check_at = clock_timestamp()
      WHERE payment_id = $1`,
    [paymentId],
  );
}

export async function listCheckouts(
  db: Pool,
  q: ListCheckoutsQuery,
  scope: TenancyScope,
): Promise<CheckoutListRow[]> {
  const { rows } = await db.query<CheckoutListRow>(
    `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
       FROM checkouts
      WHERE ($1::boolean OR operator_id = ANY($2::text[]) OR project_id = ANY($3::text[]))
        AND operator_id = $4
        AND ($5 = '' OR project_id = $5)
        AND ($6 = '' OR user_id = $6)
        AND ($7::timestamptz IS NULL OR (created_at, checkout_id) < ($7::timestamptz, $8::uuid))
      ORDER BY created_at DESC, checkout_id DESC
      LIMIT $9`,
    [
      scope.all,
      scope.all ? [] : scope.operatorIds,
      scope.all ? [] : scope.projectIds,
      q.operatorId,
      q.projectId,
      q.userId,
      q.after?.createdAt ?? null,
      q.after?.checkoutId ?? null,
      q.size + 1,
    ],
  );
  return rows;
}

// ---- refunds ----

export interface CheckoutRefundRow {
  checkout_refund_id: string;
  checkout_id: string;
  status: 'PROCESSING' | 'SUCCEEDED' | 'FAILED';
  total_minor: bigint;
  discount_minor: bigint;
  points: bigint;
  points_value_minor: bigint;
  money_minor: bigint;
  coupon_restored: boolean;
  payment_refund_id: string | null;
  reason: string;
  failure_reason: string;
  created_at: Date;
  completed_at: Date | null;
}

export async function insertCheckoutRefund(
  client: PoolClient,
  id: string,
  checkoutId: string,
  parts: Parts & { couponRestored: boolean },
  paymentRefundId: string | null,
  reason: string,
): Promise<CheckoutRefundRow> {
  const { rows } = await client.query<CheckoutRefundRow>(
    `INSERT INTO checkout_refunds (checkout_refund_id, checkout_id, status, total_minor, discount_minor, points,
                                   points_value_minor, money_minor, coupon_restored, payment_refund_id, reason)
     VALUES ($1, $2, 'PROCESSING', $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
    [
      id,
      checkoutId,
      parts.totalMinor,
      parts.discountMinor,
      parts.points,
      parts.pointsValueMinor,
      parts.moneyMinor,
      parts.couponRestored,
      paymentRefundId,
      reason,
    ],
  );
  return rows[0] as CheckoutRefundRow;
}

export async function findCheckoutRefund(db: Db, id: string): Promise<CheckoutRefundRow | undefined> {
  const { rows } = await db.query<CheckoutRefundRow>(
    'SELECT * FROM checkout_refunds WHERE checkout_refund_id = $1',
    [id],
  );
  return rows[0];
}

export async function findCheckoutRefundOfPaymentRefund(
  db: Db,
  paymentRefundId: string,
): Promise<CheckoutRefundRow | undefined> {
  const { rows } = await db.query<CheckoutRefundRow>(
    'SELECT * FROM checkout_refunds WHERE payment_refund_id = $1',
    [paymentRefundId],
  );
  return rows[0];
}

/** Reserves a refund's amount against the full price (processing and succeeded refunds count). */
export async function addCommittedRefund(
  client: PoolClient,
  checkoutId: string,
  amountMinor: bigint,
): Promise<void> {
  await client.query(
    `UPDATE checkouts SET committed_refund_minor = committed_refund_minor + $2, updated_at = clock_timestamp()
      WHERE checkout_id = $1`,
    [checkoutId, amountMinor],
  );
}

/** A refund ends: succeeded adds its parts to the refunded sums; failed frees its reservation. */
export async function finishCheckoutRefund(
  client: PoolClient,
  refund: CheckoutRefundRow,
  succeeded: boolean,
  failureReason = '',
): Promise<{ refund: CheckoutRefundRow; checkout: CheckoutRow } | undefined> {
  const { rows } = await client.query<CheckoutRefundRow>(
    `UPDATE checkout_refunds SET status = $2, failure_reason = $3, completed_at = clock_timestamp()
      WHERE checkout_refund_id = $1 AND status = 'PROCESSING' RETURNING *`,
    [refund.checkout_refund_id, succeeded ? 'SUCCEEDED' : 'FAILED', failureReason],
  );
  const done = rows[0];
  if (!done) return undefined;
  const { rows: cs } = await client.query<CheckoutRow>(
    succeeded
      ? `UPDATE checkouts SET refunded_total_minor = refunded_total_minor + $2,
                refunded_discount_minor = refunded_discount_minor + $3, refunded_points = refunded_points + $4,
                refunded_points_value_minor = refunded_points_value_minor + $5,
                refunded_money_minor = refunded_money_minor + $6, updated_at = clock_timestamp()
          WHERE checkout_id = $1 RETURNING *`
      : `UPDATE checkouts SET committed_refund_minor = committed_refund_minor - $2, updated_at = clock_timestamp()
          WHERE checkout_id = $1 RETURNING *`,
    succeeded
      ? [
          done.checkout_id,
          done.total_minor,
          done.discount_minor,
          done.points,
          done.points_value_minor,
          done.money_minor,
        ]
      : [done.checkout_id, done.total_minor],
  );
  return { refund: done, checkout: cs[0] as CheckoutRow };
}

/** The refunds of a checkout, oldest first. */
export async function refundsOf(db: Db, checkoutId: string): Promise<CheckoutRefundRow[]> {
  const { rows } = await db.query<CheckoutRefundRow>(
    'SELECT * FROM checkout_refunds WHERE checkout_id = $1 ORDER BY created_at',
    [checkoutId],
  );
  return rows;
}
