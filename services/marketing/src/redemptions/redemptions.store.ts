import type { Pool, PoolClient } from '@citybase/platform';
import type { PublicJwk } from '@citybase/platform';
import type { RedemptionState } from './redemptions.domain';

/**
 * All SQL of redemptions (migrations: redemptions, token_keys; it reads coupons and campaigns and
 * changes only the columns redemption owns: a coupon's status, a campaign's redeemed totals and,
 * when a released coupon is past its validity, its claimed_value). Mutations run in the caller's
 * transaction under the coupon's row lock (lockCouponForRedemption).
 */

type Db = Pool | PoolClient;

/** A coupon with what the quote needs of its campaign. */
export interface CouponTermsRow {
  coupon_id: string;
  campaign_id: string;
  operator_id: string;
  user_id: string;
  status: 'AVAILABLE' | 'RESERVED' | 'REDEEMED' | 'EXPIRED';
  max_value: bigint;
  currency: string;
  expires_at: Date;
  campaign_project_id: string;
  campaign_merchant_id: string;
  discount_kind: 'AMOUNT_OFF' | 'PERCENT_OFF' | 'THRESHOLD' | 'FREE_ITEM';
  amount_off_minor: bigint | null;
  percent_basis_points: number | null;
  percent_cap_minor: bigint | null;
  threshold_spend_minor: bigint | null;
  threshold_save_minor: bigint | null;
  free_item_code: string | null;
  free_item_value_minor: bigint | null;
  funding: 'PLATFORM' | 'OPERATOR' | 'MERCHANT';
  target_project_ids: string[];
  target_merchant_ids: string[];
  target_scenarios: number[];
  stacking_exclusive: boolean;
  stacking_group: string;
  stacking_priority: number;
}

export interface RedemptionRow {
  redemption_id: string;
  coupon_id: string;
  campaign_id: string;
  user_id: string;
  kind: 'CHECKOUT' | 'TOKEN';
  status: RedemptionState;
  operator_id: string;
  project_id: string;
  merchant_id: string;
  reference: string;
  currency: string;
  basket_total: bigint;
  discount: bigint;
  token_nonce: string | null;
  scanned_at: Date | null;
  offline: boolean;
  created_at: Date;
  expires_at: Date;
  confirmed_at: Date | null;
  ended_at: Date | null;
}

const TERMS = `c.coupon_id, c.campaign_id, c.operator_id, c.user_id, c.status, c.max_value, c.currency,
  c.expires_at, k.project_id AS campaign_project_id, k.merchant_id AS campaign_merchant_id,
  k.discount_kind, k.amount_off_minor, k.percent_basis_points, k.percent_cap_minor,
  k.threshold_spend_minor, k.threshold_save_minor, k.free_item_code, k.free_item_value_minor,
  k.funding, k.target_project_ids, k.target_merchant_ids, k.target_scenarios::int[] AS target_scenarios,
  k.stacking_exclusive, k.stacking_group, k.stacking_priority`;

/** Coupons with their campaigns' terms (QuoteDiscount: read without locks, writes nothing). */
export async function couponTerms(db: Db, couponIds: readonly string[]): Promise<CouponTermsRow[]> {
  const { rows } = await db.query<CouponTermsRow>(
    `SELECT ${TERMS} FROM coupons c JOIN campaigns k USING (campaign_id) WHERE c.coupon_id = ANY($1::uuid[])`,
    [couponIds],
  );
  return rows;
}

/**
 * The coupon row lock every change of a coupon's use happens under (rule 3), with its terms. The
 * campaign is not locked: its totals change by one relative UPDATE each.
 */
export async function lockCouponForRedemption(
  client: PoolClient,
  couponId: string,
): Promise<CouponTermsRow | undefined> {
  const { rows } = await client.query<CouponTermsRow>(
    `SELECT ${TERMS} FROM coupons c JOIN campaigns k USING (campaign_id)
      WHERE c.coupon_id = $1 FOR UPDATE OF c`,
    [couponId],
  );
  return rows[0];
}

/** Coupon status change, only from the expected status (false: it was not in that status). */
export async function setCouponStatus(
  client: PoolClient,
  couponId: string,
  from: CouponTermsRow['status'],
  to: CouponTermsRow['status'],
): Promise<boolean> {
  const r = await client.query(
    `UPDATE coupons SET status = $3, updated_at = clock_timestamp() WHERE coupon_id = $1 AND status = $2`,
    [couponId, from, to],
  );
  return r.rowCount === 1;
}

/** A coupon released past its validity: EXPIRED now gives its max_value back to the money budget. */
export async function returnClaimedValue(
  client: PoolClient,
  campaignId: string,
  value: bigint,
): Promise<void> {
  await client.query(
    `UPDATE campaigns SET claimed_value = claimed_value - $2, updated_at = clock_timestamp()
      WHERE campaign_id = $1`,
    [campaignId, value],
  );
}

/** A confirmation (+1, +discount) or a rollback (-1, -discount) of the campaign's redeemed totals. */
export async function changeRedeemed(
  client: PoolClient,
  campaignId: string,
  count: 1 | -1,
  discount: bigint,
): Promise<void> {
  await client.query(
    `UPDATE campaigns SET redeemed = redeemed + $2, redeemed_discount = redeemed_discount + $3,
            updated_at = clock_timestamp()
      WHERE campaign_id = $1`,
    [campaignId, count, count === 1 ? discount : -discount],
  );
}

export async function insertRedemption(
  client: PoolClient,
  r: Pick<
    RedemptionRow,
    | 'redemption_id'
    | 'coupon_id'
    | 'campaign_id'
    | 'user_id'
    | 'kind'
    | 'operator_id'
    | 'project_id'
    | 'merchant_id'
    | 'reference'
    | 'currency'
    | 'basket_total'
    | 'discount'
    | 'token_nonce'
    | 'expires_at'
  > & { created_by: string },
): Promise<RedemptionRow> {
  const { rows } = await client.query<RedemptionRow>(
    `INSERT INTO redemptions (redemption_id, coupon_id, campaign_id, user_id, kind, status, operator_id,
       project_id, merchant_id, reference, currency, basket_total, discount, token_nonce, expires_at,
       created_by)
     VALUES ($1, $2, $3, $4, $5, 'HELD', $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING *`,
    [
      r.redemption_id,
      r.coupon_id,
      r.campaign_id,
      r.user_id,
      r.kind,
      r.operator_id,
      r.project_id,
      r.merchant_id,
      r.reference,
      r.currency,
      r.basket_total,
      r.discount,
      r.token_nonce,
      r.expires_at,
      r.created_by,
    ],
  );
  return rows[0] as RedemptionRow;
}

export async function findRedemption(db: Db, redemptionId: string): Promise<RedemptionRow | undefined> {
  const { rows } = await db.query<RedemptionRow>('SELECT * FROM redemptions WHERE redemption_id = $1', [
    redemptionId,
  ]);
  return rows[0];
}

/** The HELD or CONFIRMED redemption of a coupon (at most one: redemptions_one_open_per_coupon). */
export async function openRedemption(db: Db, couponId: string): Promise<RedemptionRow | undefined> {
  const { rows } = await db.query<RedemptionRow>(
    `SELECT * FROM redemptions WHERE coupon_id = $1 AND status IN ('HELD', 'CONFIRMED')`,
    [couponId],
  );
  return rows[0];
}

/** HELD checkout redemptions of a holder on a reference (what a further reserve stacks with). */
export async function heldOnReference(
  client: PoolClient,
  userId: string,
  reference: string,
  exceptCoupon: string,
): Promise<string[]> {
  const { rows } = await client.query<{ coupon_id: string }>(
    `SELECT coupon_id FROM redemptions
      WHERE user_id = $1 AND reference = $2 AND kind = 'CHECKOUT' AND status IN ('HELD', 'CONFIRMED')
        AND coupon_id <> $3`,
    [userId, reference, exceptCoupon],
  );
  return rows.map((r) => r.coupon_id);
}

/**
 * Ends a HELD redemption (CONFIRMED, CANCELLED, EXPIRED) or rolls a CONFIRMED one back, only from
 * the expected status. Undefined: it was not in that status (someone else ended it first).
 */
export async function endRedemption(
  client: PoolClient,
  redemptionId: string,
  from: RedemptionState,
  to: RedemptionState,
  by: string,
  extra: {
    merchant?: { operatorId: string; projectId: string; merchantId: string };
    basketTotal?: bigint;
    discount?: bigint;
    reference?: string;
    scannedAt?: Date;
    offline?: boolean;
  } = {},
): Promise<RedemptionRow | undefined> {
  const { rows } = await client.query<RedemptionRow>(
    `UPDATE redemptions
        SET status = $3, ended_by = $4,
            ended_at = clock_timestamp(),
            confirmed_at = CASE WHEN $3 = 'CONFIRMED' THEN clock_timestamp() ELSE confirmed_at END,
            operator_id = COALESCE($5, operator_id), project_id = COALESCE($6, project_id),
            merchant_id = COALESCE($7, merchant_id), basket_total = COALESCE($8, basket_total),
            discount = COALESCE($9, discount), reference = COALESCE($10, reference),
            scanned_at = COALESCE($11, scanned_at), offline = COALESCE($12, offline)
      WHERE redemption_id = $1 AND status = $2
      RETURNING *`,
    [
      redemptionId,
      from,
      to,
      by,
      extra.merchant?.operatorId ?? null,
      extra.merchant?.projectId ?? null,
      extra.merchant?.merchantId ?? null,
      extra.basketTotal ?? null,
      extra.discount ?? null,
      extra.reference ?? null,
      extra.scannedAt ?? null,
      extra.offline ?? null,
    ],
  );
  return rows[0];
}

/** HELD redemptions past their deadline, oldest first (the hold expiry job). */
export async function dueRedemptions(
  db: Db,
  limit: number,
): Promise<{ redemption_id: string; coupon_id: string }[]> {
  const { rows } = await db.query<{ redemption_id: string; coupon_id: string }>(
    `SELECT redemption_id, coupon_id FROM redemptions
      WHERE status = 'HELD' AND expires_at <= clock_timestamp()
      ORDER BY expires_at LIMIT $1`,
    [limit],
  );
  return rows;
}

/** CONFIRMED redemptions a payment (reference) carries, and what was paid for it. */
export async function confirmedOnReference(
  db: Db,
  reference: string,
): Promise<{ redemption_id: string; coupon_id: string; basket_total: bigint; discount: bigint }[]> {
  const { rows } = await db.query<{
    redemption_id: string;
    coupon_id: string;
    basket_total: bigint;
    discount: bigint;
  }>(
    `SELECT redemption_id, coupon_id, basket_total, discount FROM redemptions
      WHERE reference = $1 AND status = 'CONFIRMED' ORDER BY redemption_id`,
    [reference],
  );
  return rows;
}

// ---- token keys ----

export interface TokenKeyRow {
  kid: string;
  public_jwk: PublicJwk;
  private_key: Buffer;
  created_at: Date;
}

/** The newest keys not retired, newest first (the first signs; both are published). */
export async function currentTokenKeys(db: Db, limit = 2): Promise<TokenKeyRow[]> {
  const { rows } = await db.query<TokenKeyRow>(
    `SELECT kid, public_jwk, private_key, created_at FROM token_keys
      WHERE retired_at IS NULL ORDER BY created_at DESC, kid LIMIT $1`,
    [limit],
  );
  return rows;
}

export async function findTokenKey(db: Db, kid: string): Promise<TokenKeyRow | undefined> {
  const { rows } = await db.query<TokenKeyRow>(
    'SELECT kid, public_jwk, private_key, created_at FROM token_keys WHERE kid = $1 AND retired_at IS NULL',
    [kid],
  );
  return rows[0];
}

/** Serialises key creation across processes (transaction-scoped advisory lock). */
export async function lockTokenKeys(client: PoolClient): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('marketing.token_keys'))`);
}

export async function insertTokenKey(
  client: PoolClient,
  k: { kid: string; publicJwk: PublicJwk; privateKey: Buffer },
): Promise<void> {
  await client.query('INSERT INTO token_keys (kid, public_jwk, private_key) VALUES ($1, $2, $3)', [
    k.kid,
    JSON.stringify(k.publicJwk),
    k.privateKey,
  ]);
}
