import type { PoolClient } from '@citybase/platform';
import type { Queryable } from '../ledger/ledger.service';

/**
 * SQL of checkouts' orders (migrations/0008_checkouts.sql), in the caller's transaction: the
 * checkouts payment announced, the coupon and points redemptions (checkout or not), and checkout
 * refunds waiting for their order's parts.
 */

export interface CheckoutRow {
  checkout_id: string;
  event_id: string;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  currency: string;
  order_id: string;
  payment_id: string;
  coupon_redemption_id: string;
  points_reservation_id: string;
  total_minor: bigint;
  discount_minor: bigint;
  points: bigint;
  points_value_minor: bigint;
  money_minor: bigint;
  created_at: Date;
}

export type PartSource = 'coupon' | 'points';

export interface RedeemedPartRow {
  source: PartSource;
  source_id: string;
  event_id: string;
  reference: string;
  place_operator_id: string;
  place_project_id: string;
  place_merchant_id: string;
  funder_operator_id: string;
  funder_project_id: string;
  funder_merchant_id: string;
  currency: string;
  amount_minor: bigint;
  tx_id: string | null;
  checkout_id: string | null;
  claim_tx_id: string | null;
  rollback_tx_id: string | null;
  received_at: Date;
}

export interface CheckoutRefundRow {
  checkout_id: string;
  refund_id: string;
  event_id: string;
  currency: string;
  discount_minor: bigint;
  points: bigint;
  points_value_minor: bigint;
  money_minor: bigint;
  coupon_restored: boolean;
  status: 'waiting' | 'applied';
  escrow_refund_id: string | null;
  received_at: Date;
}

const insertRow = async <T extends object>(
  client: PoolClient,
  table: 'checkouts' | 'redeemed_parts' | 'checkout_refunds',
  row: T,
): Promise<boolean> => {
  const cols = Object.keys(row) as (keyof T & string)[];
  const { rowCount } = await client.query(
    `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})
     ON CONFLICT DO NOTHING`,
    cols.map((c) => row[c]),
  );
  return rowCount === 1;
};

/** Records a checkout once (a second CheckoutCompleted of it changes nothing). */
export const insertCheckout = (client: PoolClient, c: Omit<CheckoutRow, 'created_at'>) =>
  insertRow(client, 'checkouts', c);

/** The checkout's row lock: every change of a checkout's order by its parts happens under it. */
export async function lockCheckout(client: PoolClient, checkoutId: string): Promise<CheckoutRow | undefined> {
  const { rows } = await client.query<CheckoutRow>(
    'SELECT * FROM checkouts WHERE checkout_id = $1 FOR UPDATE',
    [checkoutId],
  );
  return rows[0];
}

/** The checkout that names this coupon redemption or points reservation. */
export async function checkoutOfPart(
  db: Queryable,
  source: PartSource,
  sourceId: string,
): Promise<string | undefined> {
  const column = source === 'coupon' ? 'coupon_redemption_id' : 'points_reservation_id';
  const { rows } = await db.query<{ checkout_id: string }>(
    `SELECT checkout_id FROM checkouts WHERE ${column} = $1 AND ${column} <> ''`,
    [sourceId],
  );
  return rows[0]?.checkout_id;
}

/** Records a redemption once; false when it was recorded before. */
export const insertPart = (
  client: PoolClient,
  p: Omit<RedeemedPartRow, 'checkout_id' | 'claim_tx_id' | 'rollback_tx_id' | 'received_at'>,
) => insertRow(client, 'redeemed_parts', p);

export async function lockPart(
  client: PoolClient,
  source: PartSource,
  sourceId: string,
): Promise<RedeemedPartRow | undefined> {
  const { rows } = await client.query<RedeemedPartRow>(
    'SELECT * FROM redeemed_parts WHERE source = $1 AND source_id = $2 FOR UPDATE',
    [source, sourceId],
  );
  return rows[0];
}

/** The part taken by a checkout (claimTxId null: its order could no longer take it). */
export async function claimPart(
  client: PoolClient,
  p: { source: PartSource; sourceId: string; checkoutId: string; claimTxId: string | null },
): Promise<void> {
  const { rowCount } = await client.query(
    `UPDATE redeemed_parts SET checkout_id = $3, claim_tx_id = $4
      WHERE source = $1 AND source_id = $2 AND checkout_id IS NULL`,
    [p.source, p.sourceId, p.checkoutId, p.claimTxId],
  );
  if (rowCount !== 1) throw new Error(`${p.source} part ${p.sourceId} was taken already`);
}

export async function setPartRolledBack(
  client: PoolClient,
  p: { source: PartSource; sourceId: string; txId: string },
): Promise<void> {
  await client.query(
    `UPDATE redeemed_parts SET rollback_tx_id = $3 WHERE source = $1 AND source_id = $2 AND rollback_tx_id IS NULL`,
    [p.source, p.sourceId, p.txId],
  );
}

/** Records a checkout refund once (a second CheckoutRefunded of it changes nothing). */
export const insertCheckoutRefund = (
  client: PoolClient,
  r: Omit<CheckoutRefundRow, 'status' | 'escrow_refund_id' | 'received_at'>,
) => insertRow(client, 'checkout_refunds', r);

export async function waitingRefunds(client: PoolClient, checkoutId: string): Promise<CheckoutRefundRow[]> {
  const { rows } = await client.query<CheckoutRefundRow>(
    `SELECT * FROM checkout_refunds WHERE checkout_id = $1 AND status = 'waiting' ORDER BY received_at, refund_id`,
    [checkoutId],
  );
  return rows;
}

export async function markRefundApplied(
  client: PoolClient,
  r: { checkoutId: string; refundId: string; escrowRefundId: string | null },
): Promise<void> {
  await client.query(
    `UPDATE checkout_refunds SET status = 'applied', escrow_refund_id = $3
      WHERE checkout_id = $1 AND refund_id = $2 AND status = 'waiting'`,
    [r.checkoutId, r.refundId, r.escrowRefundId],
  );
}

// ---- released checkouts (migrations/0009_checkout_releases.sql) ----

export interface CheckoutReleaseRow {
  checkout_id: string;
  event_id: string;
  operator_id: string;
  project_id: string;
  order_id: string | null;
  payment_refund_id: string;
  reason: string;
  coupon_redemption_id: string;
  points_reservation_id: string;
  escrow_refund_id: string | null;
  received_at: Date;
}

/** Records a released checkout once (a second CheckoutReleased of it changes nothing). */
export async function insertRelease(
  client: PoolClient,
  r: Omit<CheckoutReleaseRow, 'escrow_refund_id' | 'received_at'>,
): Promise<void> {
  const cols = Object.keys(r) as (keyof typeof r)[];
  await client.query(
    `INSERT INTO checkout_releases (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})
     ON CONFLICT DO NOTHING`,
    cols.map((c) => r[c]),
  );
}

/** The released checkout's row lock: what its release does to its order happens under it. */
export async function lockRelease(
  client: PoolClient,
  checkoutId: string,
): Promise<CheckoutReleaseRow | undefined> {
  const { rows } = await client.query<CheckoutReleaseRow>(
    'SELECT * FROM checkout_releases WHERE checkout_id = $1 FOR UPDATE',
    [checkoutId],
  );
  return rows[0];
}

/** The released checkout whose order this is, if any. */
export async function releaseOfOrder(db: Queryable, orderId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ checkout_id: string }>(
    'SELECT checkout_id FROM checkout_releases WHERE order_id = $1',
    [orderId],
  );
  return rows[0]?.checkout_id;
}

export async function setReleaseRefund(
  client: PoolClient,
  checkoutId: string,
  escrowRefundId: string,
): Promise<void> {
  const { rowCount } = await client.query(
    `UPDATE checkout_releases SET escrow_refund_id = $2 WHERE checkout_id = $1 AND escrow_refund_id IS NULL`,
    [checkoutId, escrowRefundId],
  );
  if (rowCount !== 1) throw new Error(`released checkout ${checkoutId} has its escrow refund already`);
}

/** A refund asked of payment directly that failed, of a checkout's order (once per refund). */
export async function insertFailedPaymentRefund(
  client: PoolClient,
  r: { paymentRefundId: string; orderId: string; eventId: string; reason: string },
): Promise<void> {
  await client.query(
    `INSERT INTO failed_payment_refunds (payment_refund_id, order_id, event_id, reason) VALUES ($1, $2, $3, $4)
     ON CONFLICT DO NOTHING`,
    [r.paymentRefundId, r.orderId, r.eventId, r.reason],
  );
}

export async function paymentRefundFailed(db: Queryable, paymentRefundId: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM failed_payment_refunds WHERE payment_refund_id = $1', [
    paymentRefundId,
  ]);
  return rowCount === 1;
}
