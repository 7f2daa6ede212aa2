import type { Pool, PoolClient } from '@citybase/platform';
import type { CampaignRow } from '../campaigns/campaigns.store';
import { CouponsErrors } from './coupons.errors';
import { counterKey, CounterScope, CouponStatusName, HolderField, ListCouponsQuery } from './coupons.domain';

/**
 * All SQL of coupons; tables coupons, claim_counters, codes, campaigns' totals and holder_tiers
 * (migrations/0001_campaigns.sql). A claim is one transaction of conditional statements (rule 1):
 * the holder counters (INSERT ... ON CONFLICT DO UPDATE ... WHERE count < limit), the coupon row,
 * the code's coupon_id, then the campaign's totals (refused by its budget CHECKs).
 */

export interface CouponRow {
  coupon_id: string;
  campaign_id: string;
  operator_id: string;
  user_id: string;
  household_id: string;
  status: CouponStatusName;
  max_value: bigint;
  currency: string;
  code: string;
  claim_day: string;
  claimed_at: Date;
  expires_at: Date;
  updated_at: Date;
}

type Db = Pool | PoolClient;

const COUPON_COLUMNS = `coupon_id, campaign_id, operator_id, user_id, household_id, status, max_value,
  currency, code, to_char(claim_day, 'YYYY-MM-DD') AS claim_day, claimed_at, expires_at, updated_at`;

/** claim_counters count += 1 for each, refused (LIMIT_REACHED) where the count is at its limit. */
export async function countClaim(
  client: PoolClient,
  campaignId: string,
  holders: HolderField[],
): Promise<void> {
  for (const h of holders) {
    const { rowCount } = await client.query(
      `INSERT INTO claim_counters (campaign_id, scope, key, count) VALUES ($1, $2, $3, 1)
       ON CONFLICT (campaign_id, scope, key) DO UPDATE
         SET count = claim_counters.count + 1, updated_at = clock_timestamp()
         WHERE claim_counters.count < $4`,
      [campaignId, h.scope, h.key, h.limit],
    );
    if (rowCount !== 1) throw CouponsErrors.limitReached(h.scope, h.limit);
  }
}

export async function insertCoupon(
  client: PoolClient,
  c: Omit<CouponRow, 'status' | 'updated_at'>,
): Promise<CouponRow> {
  const { rows } = await client.query<CouponRow>(
    `INSERT INTO coupons (coupon_id, campaign_id, operator_id, user_id, household_id, status, max_value,
                          currency, code, claim_day, claimed_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, 'AVAILABLE', $6, $7, $8, $9, $10, $11) RETURNING ${COUPON_COLUMNS}`,
    [
      c.coupon_id,
      c.campaign_id,
      c.operator_id,
      c.user_id,
      c.household_id,
      c.max_value.toString(),
      c.currency,
      c.code,
      c.claim_day,
      c.claimed_at,
      c.expires_at,
    ],
  );
  return rows[0]!;
}

/** The unique code's campaign, if the code exists for the operator. */
export async function findCodeCampaign(
  db: Db,
  operatorId: string,
  code: string,
): Promise<string | undefined> {
  const { rows } = await db.query<{ campaign_id: string }>(
    `SELECT k.campaign_id FROM codes k JOIN campaigns c USING (campaign_id)
      WHERE k.code = $1 AND c.operator_id = $2`,
    [code, operatorId],
  );
  return rows[0]?.campaign_id;
}

/** A unique code claims once: its coupon_id is set only while it has none. */
export async function useCode(client: PoolClient, code: string, couponId: string): Promise<void> {
  const { rowCount } = await client.query(
    'UPDATE codes SET coupon_id = $2 WHERE code = $1 AND coupon_id IS NULL',
    [code, couponId],
  );
  if (rowCount !== 1) throw CouponsErrors.codeUsed();
}

export type ChargeOutcome = 'CHARGED' | 'NOT_CLAIMABLE';

/**
 * The campaign's totals for one claim: claimed += 1, claimed_value += its coupons' worst case, only
 * while ACTIVE, in the claim window and (a flash sale) at the gate epoch the claim was admitted at.
 * The budget CHECKs refuse a claim beyond them (SOLD_OUT, BUDGET_EXHAUSTED). NOT_CLAIMABLE: the
 * caller reads the campaign to tell why.
 */
export async function chargeCampaign(
  client: PoolClient,
  campaignId: string,
  at: Date,
  gateEpoch: bigint | null,
): Promise<ChargeOutcome> {
  try {
    const { rowCount } = await client.query(
      `UPDATE campaigns SET claimed = claimed + 1, claimed_value = claimed_value + coupon_max_value,
              updated_at = clock_timestamp()
        WHERE campaign_id = $1 AND status = 'ACTIVE' AND claim_from <= $2 AND $2 < claim_until
          AND ($3::bigint IS NULL OR gate_epoch = $3)`,
      [campaignId, at, gateEpoch?.toString() ?? null],
    );
    return rowCount === 1 ? 'CHARGED' : 'NOT_CLAIMABLE';
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23514' && e.constraint === 'campaigns_within_count_budget')
      throw CouponsErrors.soldOut(campaignId);
    if (e.code === '23514' && e.constraint === 'campaigns_within_money_budget')
      throw CouponsErrors.budgetExhausted(campaignId);
    throw err;
  }
}

export async function findCoupon(db: Db, couponId: string): Promise<CouponRow | undefined> {
  const { rows } = await db.query<CouponRow>(`SELECT ${COUPON_COLUMNS} FROM coupons WHERE coupon_id = $1`, [
    couponId,
  ]);
  return rows[0];
}

export type CouponListRow = CouponRow & { rank: bigint; cursor_at: string };

/** One page (size + 1 rows) of a holder's coupons of the operator: usable first, newest first. */
export async function listCoupons(db: Db, q: ListCouponsQuery): Promise<CouponListRow[]> {
  const { rows } = await db.query<CouponListRow>(
    `SELECT * FROM (
       SELECT ${COUPON_COLUMNS},
              (CASE WHEN status IN ('AVAILABLE', 'RESERVED') THEN 0 ELSE 1 END)::bigint AS rank,
              to_char(claimed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at
         FROM coupons WHERE operator_id = $1 AND user_id = $2 AND ($3 OR status IN ('AVAILABLE', 'RESERVED'))) c
      WHERE ($4::bigint IS NULL OR c.rank > $4::bigint
             OR (c.rank = $4::bigint AND (c.claimed_at, c.coupon_id) < ($5::timestamptz, $6::uuid)))
      ORDER BY c.rank, c.claimed_at DESC, c.coupon_id DESC
      LIMIT $7`,
    [
      q.operatorId,
      q.userId,
      q.includeUsed,
      q.after?.rank.toString() ?? null,
      q.after?.claimedAt ?? null,
      q.after?.couponId ?? null,
      q.size + 1,
    ],
  );
  return rows;
}

// ---- the flash-sale gate ----

export async function bumpGateEpoch(client: PoolClient, campaignId: string): Promise<bigint> {
  const { rows } = await client.query<{ gate_epoch: bigint }>(
    'UPDATE campaigns SET gate_epoch = gate_epoch + 1 WHERE campaign_id = $1 RETURNING gate_epoch',
    [campaignId],
  );
  return rows[0]!.gate_epoch;
}

/** The campaign's holder counters as the gate's hash fields. */
export async function counterRows(
  client: PoolClient,
  campaignId: string,
): Promise<{ field: string; count: number }[]> {
  const { rows } = await client.query<{ scope: CounterScope; key: string; count: number }>(
    'SELECT scope, key, count FROM claim_counters WHERE campaign_id = $1 AND count > 0',
    [campaignId],
  );
  return rows.map((r) => ({ field: counterKey(r.scope, r.key), count: r.count }));
}

/** Active flash-sale campaigns (the reconcile job's work). */
export async function activeFlashCampaigns(db: Db, limit: number): Promise<CampaignRow[]> {
  const { rows } = await db.query<CampaignRow>(
    `SELECT * FROM campaigns WHERE flash_sale AND status = 'ACTIVE' AND claim_until > now()
      ORDER BY campaign_id LIMIT $1`,
    [limit],
  );
  return rows;
}

// ---- expiry ----

/**
 * Up to `limit` AVAILABLE coupons past their expiry, locked (SKIP LOCKED: replicas share them):
 * EXPIRED, and returned so their campaigns get their worst-case value back.
 */
export async function expireDueCoupons(client: PoolClient, limit: number): Promise<CouponRow[]> {
  const { rows } = await client.query<CouponRow>(
    `UPDATE coupons SET status = 'EXPIRED', updated_at = clock_timestamp()
      WHERE coupon_id IN (SELECT coupon_id FROM coupons WHERE status = 'AVAILABLE' AND expires_at <= now()
                           ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        AND status = 'AVAILABLE'
      RETURNING ${COUPON_COLUMNS}`,
    [limit],
  );
  return rows;
}

/** claimed_value -= Σ max_value of a campaign's expired coupons (the money budget gets it back). */
export async function releaseValue(client: PoolClient, campaignId: string, value: bigint): Promise<void> {
  await client.query(
    `UPDATE campaigns SET claimed_value = claimed_value - $2, updated_at = clock_timestamp() WHERE campaign_id = $1`,
    [campaignId, value.toString()],
  );
}

// ---- the tiers projection ----

export async function holderTier(db: Db, operatorId: string, holderId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ tier: string }>(
    'SELECT tier FROM holder_tiers WHERE operator_id = $1 AND holder_id = $2',
    [operatorId, holderId],
  );
  return rows[0]?.tier;
}

/** The holder's tier as of `occurredAt`; an older event than the row's is ignored. */
export async function upsertHolderTier(
  client: PoolClient,
  t: { operatorId: string; holderId: string; tier: string; occurredAt: Date },
): Promise<void> {
  await client.query(
    `INSERT INTO holder_tiers (operator_id, holder_id, tier, occurred_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (operator_id, holder_id) DO UPDATE
       SET tier = EXCLUDED.tier, occurred_at = EXCLUDED.occurred_at, updated_at = clock_timestamp()
       WHERE holder_tiers.occurred_at <= EXCLUDED.occurred_at`,
    [t.operatorId, t.holderId, t.tier, t.occurredAt],
  );
}
