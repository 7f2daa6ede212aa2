import type { Pool, PoolClient } from 'pg';

/**
 * The redemptions' invariants (docs/marketing.md "Redemptions"), recomputed from the rows. Returns
 * every violation found (empty when all hold); checkMarketingInvariants (test/invariants.ts) runs
 * them with the campaigns' and coupons' own:
 *   - a coupon is REDEEMED iff it has exactly one CONFIRMED redemption, RESERVED iff exactly one
 *     HELD one; AVAILABLE and EXPIRED coupons have neither;
 *   - a campaign's redeemed = its CONFIRMED redemptions, redeemed_discount = Σ their discounts;
 *   - a redemption's discount never exceeds its basket; the confirmed discounts on one reference
 *     never exceed the basket they were given on.
 */
export async function checkRedemptionInvariants(pool: Pool | PoolClient): Promise<string[]> {
  const found: string[] = [];
  const check = async (what: string, sql: string) => {
    const { rows } = await pool.query<Record<string, unknown>>(sql);
    for (const r of rows)
      found.push(
        `${what}: ${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`,
      );
  };
  await check(
    'coupon status differs from its redemptions',
    `SELECT c.coupon_id, c.status, coalesce(r.held, 0) AS held, coalesce(r.confirmed, 0) AS confirmed
       FROM coupons c
       LEFT JOIN (SELECT coupon_id, count(*) FILTER (WHERE status = 'HELD') AS held,
                         count(*) FILTER (WHERE status = 'CONFIRMED') AS confirmed
                    FROM redemptions GROUP BY coupon_id) r USING (coupon_id)
      WHERE (c.status = 'REDEEMED') <> (coalesce(r.confirmed, 0) = 1 AND coalesce(r.held, 0) = 0)
         OR (c.status = 'RESERVED') <> (coalesce(r.held, 0) = 1 AND coalesce(r.confirmed, 0) = 0)
         OR coalesce(r.held, 0) + coalesce(r.confirmed, 0) > 1`,
  );
  await check(
    'campaign redeemed totals differ from its confirmed redemptions',
    `SELECT k.campaign_id, k.redeemed, k.redeemed_discount, coalesce(r.n, 0) AS confirmed,
            coalesce(r.d, 0) AS confirmed_discount
       FROM campaigns k
       LEFT JOIN (SELECT campaign_id, count(*) AS n, sum(discount) AS d FROM redemptions
                   WHERE status = 'CONFIRMED' GROUP BY campaign_id) r USING (campaign_id)
      WHERE k.redeemed <> coalesce(r.n, 0) OR k.redeemed_discount <> coalesce(r.d, 0)`,
  );
  await check(
    'confirmed discounts beyond the basket of their reference',
    `SELECT reference, max(basket_total) AS basket, sum(discount) AS discounts FROM redemptions
      WHERE status = 'CONFIRMED' AND kind = 'CHECKOUT' GROUP BY reference HAVING sum(discount) > max(basket_total)`,
  );
  return found;
}
