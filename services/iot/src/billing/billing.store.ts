import type { Pool, PoolClient } from '@citybase/platform';
import type { BillingKind, BillingPurpose, PaymentOutcome } from './billing.domain';

/** All SQL of billing (tables billing_calls, billing_unmatched: migrations/0006_billing.sql, 0011). */

export interface BillingCallRow {
  call_id: string;
  purpose: BillingPurpose;
  subject_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  currency: string;
  amount_minor: bigint;
  payer_ref: string;
  description: string;
  expires_in_s: number;
  status: 'DUE' | 'DONE' | 'REFUSED';
  payment_id: string | null;
  outcome: PaymentOutcome | null;
  attempts: number;
  last_error: string;
  kind: BillingKind;
  user_id: string;
  points: bigint;
  points_holder_id: string;
  coupon_code: string;
  coupon_id: string;
  checkout_id: string | null;
  pay_url: string;
}

type Db = Pool | PoolClient;

const COLUMNS = `call_id, purpose, subject_id, operator_id, project_id, merchant_id, currency,
  amount_minor::text AS amount_minor, payer_ref, description, expires_in_s, status, payment_id, outcome, attempts, last_error,
  kind, user_id, points::text AS points, points_holder_id, coupon_code, coupon_id, checkout_id, pay_url`;

const parse = (r: BillingCallRow): BillingCallRow => ({
  ...r,
  amount_minor: BigInt(r.amount_minor),
  points: BigInt(r.points),
});

export async function insertCall(
  client: PoolClient,
  c: Omit<
    BillingCallRow,
    'status' | 'payment_id' | 'outcome' | 'attempts' | 'last_error' | 'checkout_id' | 'pay_url'
  >,
): Promise<void> {
  await client.query(
    `INSERT INTO billing_calls (call_id, purpose, subject_id, operator_id, project_id, merchant_id, currency,
                                amount_minor, payer_ref, description, expires_in_s,
                                kind, user_id, points, points_holder_id, coupon_code, coupon_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
     ON CONFLICT (call_id) DO NOTHING`,
    [
      c.call_id,
      c.purpose,
      c.subject_id,
      c.operator_id,
      c.project_id,
      c.merchant_id,
      c.currency,
      c.amount_minor.toString(),
      c.payer_ref,
      c.description,
      c.expires_in_s,
      c.kind,
      c.user_id,
      c.points.toString(),
      c.points_holder_id,
      c.coupon_code,
      c.coupon_id,
    ],
  );
}

export async function findCall(db: Db, callId: string): Promise<BillingCallRow | undefined> {
  const { rows } = await db.query<BillingCallRow>(`SELECT ${COLUMNS} FROM billing_calls WHERE call_id = $1`, [
    callId,
  ]);
  return rows[0] && parse(rows[0]);
}

export async function lockCallByPayment(
  client: PoolClient,
  paymentId: string,
): Promise<BillingCallRow | undefined> {
  const { rows } = await client.query<BillingCallRow>(
    `SELECT ${COLUMNS} FROM billing_calls WHERE payment_id = $1 FOR UPDATE`,
    [paymentId],
  );
  return rows[0] && parse(rows[0]);
}

export async function lockCallByCheckout(
  client: PoolClient,
  checkoutId: string,
): Promise<BillingCallRow | undefined> {
  const { rows } = await client.query<BillingCallRow>(
    `SELECT ${COLUMNS} FROM billing_calls WHERE checkout_id = $1 FOR UPDATE`,
    [checkoutId],
  );
  return rows[0] && parse(rows[0]);
}

export async function lockCall(client: PoolClient, callId: string): Promise<BillingCallRow | undefined> {
  const { rows } = await client.query<BillingCallRow>(
    `SELECT ${COLUMNS} FROM billing_calls WHERE call_id = $1 FOR UPDATE`,
    [callId],
  );
  return rows[0] && parse(rows[0]);
}

/** Due calls, leased for `leaseMs` so replicas do not make the same one at once. */
export async function leaseDueCalls(db: Db, limit: number, leaseMs: number): Promise<BillingCallRow[]> {
  const { rows } = await db.query<BillingCallRow>(
    `UPDATE billing_calls SET next_at = clock_timestamp() + make_interval(secs => $2::float8 / 1000)
      WHERE call_id IN (SELECT call_id FROM billing_calls WHERE status = 'DUE' AND next_at <= clock_timestamp()
                         ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
      RETURNING ${COLUMNS}`,
    [limit, leaseMs],
  );
  return rows.map(parse);
}

export async function callAnswered(client: PoolClient, callId: string, paymentId: string): Promise<void> {
  await client.query(
    `UPDATE billing_calls SET status = 'DONE', payment_id = $2, done_at = clock_timestamp(),
            attempts = attempts + 1, last_error = ''
      WHERE call_id = $1 AND status = 'DUE'`,
    [callId, paymentId],
  );
}

/** A CreateCheckout answered: the checkout's id and where the payer pays its money part. */
export async function checkoutCallAnswered(
  client: PoolClient,
  callId: string,
  checkoutId: string,
  payUrl: string,
): Promise<void> {
  await client.query(
    `UPDATE billing_calls SET status = 'DONE', checkout_id = $2, pay_url = $3, done_at = clock_timestamp(),
            attempts = attempts + 1, last_error = ''
      WHERE call_id = $1 AND status = 'DUE'`,
    [callId, checkoutId, payUrl],
  );
}

export async function setPayUrl(db: Db, callId: string, payUrl: string): Promise<void> {
  await db.query(`UPDATE billing_calls SET pay_url = $2 WHERE call_id = $1`, [callId, payUrl]);
}

export async function callFailed(db: Db, callId: string, error: string, delayMs: number, refused: boolean) {
  await db.query(
    `UPDATE billing_calls SET attempts = attempts + 1, last_error = left($2, 500),
            status = CASE WHEN $4 THEN 'REFUSED' ELSE status END,
            next_at = clock_timestamp() + make_interval(secs => $3::float8 / 1000)
      WHERE call_id = $1 AND status = 'DUE'`,
    [callId, error, delayMs, refused],
  );
}

/** Records the payment's outcome once; false when one was already recorded. */
export async function setOutcome(
  client: PoolClient,
  callId: string,
  outcome: PaymentOutcome,
): Promise<boolean> {
  const r = await client.query(
    `UPDATE billing_calls SET outcome = $2 WHERE call_id = $1 AND outcome IS NULL`,
    [callId, outcome],
  );
  return r.rowCount === 1;
}

export async function lockPaymentKey(client: PoolClient, paymentId: string): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('iot.billing-payment'), hashtext($1))`, [
    paymentId,
  ]);
}

export async function recordUnmatched(client: PoolClient, paymentId: string, outcome: PaymentOutcome) {
  await client.query(
    `INSERT INTO billing_unmatched (payment_id, outcome) VALUES ($1, $2) ON CONFLICT (payment_id) DO NOTHING`,
    [paymentId, outcome],
  );
}

export async function takeUnmatched(
  client: PoolClient,
  paymentId: string,
): Promise<PaymentOutcome | undefined> {
  const { rows } = await client.query<{ outcome: PaymentOutcome }>(
    'DELETE FROM billing_unmatched WHERE payment_id = $1 RETURNING outcome',
    [paymentId],
  );
  return rows[0]?.outcome;
}
