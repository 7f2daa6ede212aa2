// The quote latency figure of `npm run bench -- marketing` (issue 13: `quote_p99_ms` at 1,000
// quotes/s): QuoteDiscount calls sent open-loop at a fixed rate against a running marketing
// process, each latency measured from when the call was due (not when it was sent), so a stall
// shows in the percentiles instead of quietly lowering the rate (coordinated omission). The
// marketing bench (marketing.ts) spawns the process and seeds the coupons; seedQuoteCoupons is
// here for that.
import { randomUUID } from 'crypto';
import { Client } from 'pg';
import type * as grpc from '@grpc/grpc-js';
import { Basket, MarketingServiceService } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { grpcClient, spawnService, TestIssuer } from '@citybase/platform/testing';
import { benchDatabase, Cleanup, note, now, profiledSpawn } from './common';
import { percentiles, perSecond, round } from './stats';

export interface QuoteLoadOptions {
  /** The marketing process's gRPC address (host:port). */
  grpcAddress: string;
  /** Token metadata of a caller with `marketing:redeem` in the basket's tenancy (made once: a checkout reuses its token). */
  metadata: () => grpc.Metadata;
  userId: string;
  basket: Basket;
  /** The holder's coupons each quote names (1-10). */
  couponIds: string[];
  /** Quotes per second; default 1,000. */
  ratePerSecond?: number;
  seconds: number;
  /** Calls in flight beyond which a due call waits (counted late, not dropped); default 512. */
  maxInFlight?: number;
}

export interface QuoteLoadResult {
  quote_p50_ms: number;
  quote_p99_ms: number;
  quote_max_ms: number;
  quotes: number;
  quote_errors: number;
  /** Answered quotes per second over the run (the offered rate when the service keeps up). */
  quotes_per_s: number;
  rate_per_s: number;
}

/** Runs `ratePerSecond` quotes per second for `seconds` seconds and reports their latency. */
export async function runQuoteLoad(o: QuoteLoadOptions): Promise<QuoteLoadResult> {
  const rate = o.ratePerSecond ?? 1000;
  const total = Math.round(rate * o.seconds);
  const maxInFlight = o.maxInFlight ?? 512;
  if (total < 1) throw new RangeError('a quote load needs at least one call');
  const metadata = o.metadata();
  const client = grpcClient(MarketingServiceService, o.grpcAddress, () => metadata);
  const latencies: number[] = [];
  let errors = 0;
  let firstError: unknown;
  let inFlight = 0;
  const calls: Promise<void>[] = [];
  const quoteOnce = async (due: number) => {
    inFlight += 1;
    try {
      await client.quoteDiscount({ userId: o.userId, basket: o.basket, couponIds: o.couponIds });
      latencies.push(now() - due);
    } catch (err) {
      errors += 1;
      firstError ??= err;
    } finally {
      inFlight -= 1;
    }
  };
  try {
    // warm the connection and the service's statements before the clock starts
    for (let i = 0; i < 20; i++)
      await client.quoteDiscount({ userId: o.userId, basket: o.basket, couponIds: o.couponIds });
    const t0 = now();
    let sent = 0;
    while (sent < total) {
      const elapsed = now() - t0;
      const dueCount = Math.min(total, Math.floor((elapsed * rate) / 1000) + 1);
      while (sent < dueCount && inFlight < maxInFlight) {
        calls.push(quoteOnce(t0 + (sent * 1000) / rate));
        sent += 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(calls);
    const elapsedMs = now() - t0;
    if (latencies.length === 0) throw new Error(`every quote failed: ${String(firstError)}`);
    const [p50, p99, max] = percentiles(latencies, [50, 99, 100]) as [number, number, number];
    return {
      quote_p50_ms: round(p50, 2),
      quote_p99_ms: round(p99, 2),
      quote_max_ms: round(max, 2),
      quotes: latencies.length,
      quote_errors: errors,
      quotes_per_s: round(perSecond(latencies.length, elapsedMs), 1),
      rate_per_s: rate,
    };
  } finally {
    client.close();
  }
}

/**
 * `count` ACTIVE campaigns of the operator, each with one AVAILABLE coupon of the holder (amount
 * off, a percentage with a cap, a threshold, in turn; two share a stacking group), written straight
 * into the marketing database as a claim leaves them. Returns the coupon ids and a basket they apply
 * to. For benches only.
 */
export async function seedQuoteCoupons(
  pg: Client,
  operatorId: string,
  userId: string,
  count = 3,
): Promise<{ couponIds: string[]; basket: Basket }> {
  const couponIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const campaignId = randomUUID();
    const kind = ['AMOUNT_OFF', 'PERCENT_OFF', 'THRESHOLD'][i % 3] as string;
    await pg.query(
      `INSERT INTO campaigns (campaign_id, operator_id, name, status, currency, discount_kind,
         amount_off_minor, percent_basis_points, percent_cap_minor, threshold_spend_minor,
         threshold_save_minor, coupon_max_value, funding, stacking_group, stacking_priority,
         claim_from, claim_until, coupon_valid_days, max_coupons, claimed, claimed_value)
       VALUES ($1, $2, 'bench quote', 'ACTIVE', 'CNY', $3, $4, $5, $6, $7, $8, $9, 'OPERATOR', $10, $11,
         now() - interval '1 day', now() + interval '30 days', 30, 1000, 1, $9)`,
      [
        campaignId,
        operatorId,
        kind,
        kind === 'AMOUNT_OFF' ? 500 : null,
        kind === 'PERCENT_OFF' ? 1000 : null,
        kind === 'PERCENT_OFF' ? 2000 : null,
        kind === 'THRESHOLD' ? 5000 : null,
        kind === 'THRESHOLD' ? 800 : null,
        kind === 'AMOUNT_OFF' ? 500 : kind === 'PERCENT_OFF' ? 2000 : 800,
        i < 2 ? 'bench' : '',
        i,
      ],
    );
    const couponId = randomUUID();
    await pg.query(`INSERT INTO claim_counters (campaign_id, scope, key, count) VALUES ($1, 'USER', $2, 1)`, [
      campaignId,
      userId,
    ]);
    await pg.query(
      `INSERT INTO coupons (coupon_id, campaign_id, operator_id, user_id, status, max_value, currency,
         claim_day, expires_at)
       SELECT $1, $2, $3, $4, 'AVAILABLE', coupon_max_value, 'CNY', current_date, now() + interval '30 days'
         FROM campaigns WHERE campaign_id = $2`,
      [couponId, campaignId, operatorId, userId],
    );
    couponIds.push(couponId);
  }
  return {
    couponIds,
    basket: {
      tenancy: { operatorId, projectId: '', merchantId: '' },
      scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
      total: { currency: 'CNY', amountMinor: 12_000n },
      itemCodes: [],
    },
  };
}

/**
 * The quote figure on its own: a marketing process on a fresh database (spawned from
 * services/marketing/dist), three stacked coupons of one holder, then runQuoteLoad. What
 * `npm run bench -- marketing` reports next to its claim figures.
 */
export async function measureQuoteLatency(
  cleanup: Cleanup,
  opts: { seconds: number; ratePerSecond?: number },
): Promise<QuoteLoadResult> {
  const issuer = await TestIssuer.start();
  cleanup.add('token issuer', () => issuer.stop());
  const { db } = await benchDatabase('bench_marketing_quote', cleanup);
  const marketing = await spawnService(
    'marketing',
    {
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: `bench-quote-${randomUUID()}.`,
      AUTH_JWKS_URL: issuer.jwksUrl,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    },
    profiledSpawn(),
  );
  cleanup.add('marketing process', () => marketing.stop());
  await marketing.ready();
  const operatorId = 'bench-operator';
  const userId = 'bench-resident';
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  let seeded: { couponIds: string[]; basket: Basket };
  try {
    seeded = await seedQuoteCoupons(pg, operatorId, userId, 3);
  } finally {
    await pg.end();
  }
  note(`quoting ${seeded.couponIds.length} coupons at ${opts.ratePerSecond ?? 1000}/s for ${opts.seconds} s`);
  const result = await runQuoteLoad({
    grpcAddress: marketing.grpcAddress,
    metadata: () => issuer.metadata({ scopes: ['marketing:redeem'], operators: [operatorId] }),
    userId,
    basket: seeded.basket,
    couponIds: seeded.couponIds,
    ratePerSecond: opts.ratePerSecond,
    seconds: opts.seconds,
  });
  await marketing.stop();
  return result;
}
