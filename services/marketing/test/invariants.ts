import type { Pool, PoolClient } from 'pg';
import { checkRedemptionInvariants } from './redemption-invariants';

/**
 * The invariants of campaigns, codes and coupons (docs/marketing.md "Invariants"), recomputed from
 * the rows. Returns every violation found (empty when all hold):
 *   - per campaign: claimed = its coupons; claimed_value = Σ max_value of its coupons not EXPIRED;
 *     claimed <= max_coupons; claimed_value <= max_spend (when set);
 *   - per holder counter: count = the campaign's coupons of that user / household / (city day, user),
 *     and count <= the campaign's limit of that scope;
 *   - per code: claimed at most once (its coupon is of its campaign and was claimed with it), and
 *     every coupon claimed with a unique code is that code's coupon;
 *   - per code batch: generated = its codes;
 *   - and the redemptions' (checkRedemptionInvariants): a coupon REDEEMED iff exactly one CONFIRMED
 *     redemption, RESERVED iff exactly one HELD; a campaign's redeemed totals = its CONFIRMED ones.
 */
export async function checkMarketingInvariants(db: Pool | PoolClient): Promise<string[]> {
  const found: string[] = [];
  const check = async (what: string, sql: string) => {
    const { rows } = await db.query<Record<string, unknown>>(sql);
    for (const r of rows)
      found.push(
        `${what}: ${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`,
      );
  };
  await check(
    'campaign totals differ from its coupons',
    `SELECT c.campaign_id, c.claimed, c.claimed_value, coalesce(k.n, 0) AS coupons, coalesce(k.value, 0) AS value
       FROM campaigns c
       LEFT JOIN (SELECT campaign_id, count(*) AS n, sum(max_value) FILTER (WHERE status <> 'EXPIRED') AS value
                    FROM coupons GROUP BY campaign_id) k USING (campaign_id)
      WHERE c.claimed <> coalesce(k.n, 0) OR c.claimed_value <> coalesce(k.value, 0)`,
  );
  await check(
    'campaign beyond its budgets',
    `SELECT campaign_id, claimed, max_coupons, claimed_value, max_spend FROM campaigns
      WHERE claimed > max_coupons OR (max_spend IS NOT NULL AND claimed_value > max_spend)`,
  );
  await check(
    'holder counter differs from its coupons',
    `SELECT cc.campaign_id, cc.scope, cc.key, cc.count, coalesce(k.n, 0) AS coupons
       FROM claim_counters cc
       LEFT JOIN LATERAL (
         SELECT count(*) AS n FROM coupons k
          WHERE k.campaign_id = cc.campaign_id
            AND CASE cc.scope WHEN 'USER' THEN k.user_id = cc.key
                              WHEN 'HOUSEHOLD' THEN k.household_id = cc.key
                              ELSE to_char(k.claim_day, 'YYYY-MM-DD') || ':' || k.user_id = cc.key END) k ON true
      WHERE cc.count <> coalesce(k.n, 0)`,
  );
  await check(
    'holder counter beyond its limit',
    `SELECT cc.campaign_id, cc.scope, cc.key, cc.count FROM claim_counters cc JOIN campaigns c USING (campaign_id)
      WHERE cc.count > CASE cc.scope WHEN 'USER' THEN c.per_user_limit
                                     WHEN 'HOUSEHOLD' THEN c.per_household_limit
                                     ELSE c.per_user_daily_limit END`,
  );
  await check(
    'limited holder without a counter',
    `SELECT k.campaign_id, k.user_id, count(*) AS coupons FROM coupons k JOIN campaigns c USING (campaign_id)
      WHERE c.per_user_limit > 0
        AND NOT EXISTS (SELECT 1 FROM claim_counters cc WHERE cc.campaign_id = k.campaign_id
                          AND cc.scope = 'USER' AND cc.key = k.user_id)
      GROUP BY k.campaign_id, k.user_id`,
  );
  await check(
    'code claimed other than once',
    `SELECT d.code, d.coupon_id, k.code AS coupon_code, k.campaign_id AS coupon_campaign, d.campaign_id
       FROM codes d LEFT JOIN coupons k USING (coupon_id)
      WHERE d.coupon_id IS NOT NULL AND (k.coupon_id IS NULL OR k.code <> d.code OR k.campaign_id <> d.campaign_id)`,
  );
  await check(
    'coupon of a unique code the code does not name',
    `SELECT k.coupon_id, k.code FROM coupons k JOIN codes d ON d.code = k.code
      WHERE d.coupon_id IS DISTINCT FROM k.coupon_id`,
  );
  await check(
    'code batch differs from its codes',
    `SELECT b.batch_id, b.generated, coalesce(n.n, 0) AS codes FROM code_batches b
       LEFT JOIN (SELECT batch_id, count(*) AS n FROM codes GROUP BY batch_id) n USING (batch_id)
      WHERE b.generated <> coalesce(n.n, 0)`,
  );
  return found;
}

/**
 * The flash-sale gates agree with PostgreSQL: for every flash-sale campaign whose gate hash (at
 * its current epoch) exists, `stock` is what its budgets have left, every user field is the user's
 * coupons of the campaign, every household and daily field its claim counter (fields at 0 may be
 * absent). With `requirePresent`, a missing hash of an
 * ACTIVE flash sale is a violation too.
 */
export async function checkGateInvariants(
  db: Pool | PoolClient,
  redis: { hgetall(key: string): Promise<Record<string, string>> },
  prefix: string,
  opts: { requirePresent?: boolean } = {},
): Promise<string[]> {
  const found: string[] = [];
  const { rows: campaigns } = await db.query<{
    campaign_id: string;
    status: string;
    gate_epoch: bigint;
    stock: bigint;
  }>(
    `SELECT campaign_id, status, gate_epoch,
            greatest(0, least(max_coupons - claimed,
                              CASE WHEN max_spend IS NOT NULL AND coupon_max_value > 0
                                   THEN (max_spend - claimed_value) / coupon_max_value END)) AS stock
       FROM campaigns WHERE flash_sale`,
  );
  for (const c of campaigns) {
    const hash = await redis.hgetall(`${prefix}:{${c.campaign_id}}:${c.gate_epoch}`);
    if (hash.stock === undefined) {
      if (opts.requirePresent && c.status === 'ACTIVE') found.push(`gate missing: ${c.campaign_id}`);
      continue;
    }
    if (BigInt(hash.stock) !== c.stock)
      found.push(`gate stock ${hash.stock} <> ${c.stock}: ${c.campaign_id}`);
    // users: their coupons (counted by the gate with or without a per-user limit); households
    // and days: their claim counters
    const { rows: counters } = await db.query<{ field: string; count: number }>(
      `SELECT 'U:' || user_id AS field, count(*)::int AS count FROM coupons WHERE campaign_id = $1 GROUP BY user_id
       UNION ALL
       SELECT CASE scope WHEN 'HOUSEHOLD' THEN 'H:' ELSE 'D:' END || key AS field, count
         FROM claim_counters WHERE campaign_id = $1 AND scope <> 'USER'`,
      [c.campaign_id],
    );
    const truth = new Map(counters.filter((r) => r.count > 0).map((r) => [r.field, String(r.count)]));
    for (const [field, v] of Object.entries(hash)) {
      if (field === 'stock') continue;
      if (truth.get(field) !== v)
        found.push(`gate ${field} = ${v} <> ${truth.get(field) ?? 0}: ${c.campaign_id}`);
    }
    for (const [field, v] of truth)
      if (hash[field] !== v)
        found.push(`gate ${field} = ${hash[field] ?? 'absent'} <> ${v}: ${c.campaign_id}`);
  }
  found.push(...(await checkRedemptionInvariants(db)));
  return found;
}
