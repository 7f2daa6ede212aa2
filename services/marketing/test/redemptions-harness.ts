// Set-up of the redemptions suites: the marketing service (in-process) on its own database with its
// hold expiry job slowed down, a Kafka producer publishing payment's refunds onto the payment topic
// exactly as payment's relay would, campaigns and coupons written straight into their tables (as a
// claim leaves them: the campaign's claimed totals and the holder's counter counted), and a second
// RedemptionsService on the same database standing for another replica (runs the expiry passes).
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { createLogger, enqueue, Mutations, Outbox, toTimestamp } from '@citybase/platform';
import {
  PromiseClient,
  publishEvent,
  ServiceHarness,
  startServiceHarness,
  testEndpoints,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { MarketingServiceService } from '@citybase/contracts/citybase/marketing/v1/marketing';
import type {
  CheckoutRefunded,
  CheckoutReleased,
  RefundSucceeded,
} from '@citybase/contracts/citybase/payment/v1/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { MarketingEvents, PaymentEvents } from '@citybase/contracts/events';
import { marketingConfig } from '../src/config';
import { definition } from '../src/definition';
import { RedemptionsService } from '../src/redemptions/redemptions.service';
export { errorCode, errorField, grpcError, rowCounts } from '@citybase/platform/testing';
export { status } from '@grpc/grpc-js';

export type MarketingClient = PromiseClient<typeof MarketingServiceService>;

/** What checkout and merchant apps (redeem) and the residents' app (claim) may do. */
export const REDEEM_SCOPES = ['marketing:redeem', 'marketing:claim', 'marketing:read'];

export interface RedemptionsHarness extends ServiceHarness<typeof MarketingServiceService> {
  /** Publishes payment's RefundSucceeded for `paymentId`; waits until the consumer applied it. */
  refunded(paymentId: string, refundedTotal: bigint, opts?: { eventId?: string }): Promise<string>;
  /** Publishes payment's CheckoutRefunded (key = checkout id); waits until the consumer applied it. */
  checkoutRefunded(e: CheckoutRefunded, opts?: { eventId?: string }): Promise<string>;
  /** Publishes payment's CheckoutReleased (key = checkout id); waits until the consumer applied it. */
  checkoutReleased(e: CheckoutReleased, opts?: { eventId?: string }): Promise<string>;
  /** Another replica's RedemptionsService: runs the hold expiry pass on demand. */
  replica(): RedemptionsService;
}

export async function startRedemptionsHarness(env: Record<string, string> = {}): Promise<RedemptionsHarness> {
  const h = await startServiceHarness({
    definition,
    grpcService: MarketingServiceService,
    label: 'marketing-redemptions',
    env: () => ({
      DATABASE_POOL_SIZE: '20',
      MARKETING_HOLD_EXPIRY_INTERVAL_MS: '600000',
      // the suite's own flash-sale gate keys: the shared Redis holds other suites' too
      MARKETING_GATE_KEY_PREFIX: uniqueName('mkt-redeem-gate'),
      ...env,
    }),
    poolSize: 20,
    scopes: REDEEM_SCOPES,
  });
  let producer: Producer;
  try {
    producer = new Kafka({
      clientId: uniqueName('fake-payment'),
      brokers: testEndpoints.kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    }).producer({ allowAutoTopicCreation: false });
    await producer.connect();
  } catch (err) {
    await h.stop();
    throw err;
  }
  h.onStop(() => producer.disconnect());
  const source = { service: 'payment', topicPrefix: h.topicPrefix };
  const pool = h.pool as unknown as Pool;
  const applied = (eventId: string) =>
    waitFor(
      `event ${eventId} in the marketing.redemptions inbox`,
      async () => {
        const { rowCount } = await pool.query(
          `SELECT 1 FROM inbox WHERE consumer = 'marketing.redemptions' AND event_id = $1`,
          [eventId],
        );
        return rowCount === 1 ? true : undefined;
      },
      30_000,
      50,
    );
  return {
    ...h,
    async refunded(paymentId, refundedTotal, opts = {}) {
      const refund: RefundSucceeded = {
        refundId: randomUUID(),
        paymentId,
        tenancy: { operatorId: 'op', projectId: '', merchantId: '' },
        merchantId: '',
        scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
        amount: { currency: 'CNY', amountMinor: refundedTotal },
        refundedTotal: { currency: 'CNY', amountMinor: refundedTotal },
        channel: 'sandbox-1',
        channelRefundId: `rf-${randomUUID()}`,
        occurredAt: toTimestamp(new Date()),
        instructionId: '',
      };
      const eventId = await publishEvent(producer, source, PaymentEvents.RefundSucceeded, refund, {
        key: paymentId,
        tenancy: { operatorId: 'op' },
        eventId: opts.eventId,
      });
      await applied(eventId);
      return eventId;
    },
    async checkoutRefunded(e, opts = {}) {
      const eventId = await publishEvent(producer, source, PaymentEvents.CheckoutRefunded, e, {
        key: e.checkoutId,
        tenancy: { operatorId: e.tenancy?.operatorId ?? '' },
        eventId: opts.eventId,
      });
      await applied(eventId);
      return eventId;
    },
    async checkoutReleased(e, opts = {}) {
      const eventId = await publishEvent(producer, source, PaymentEvents.CheckoutReleased, e, {
        key: e.checkoutId,
        tenancy: { operatorId: e.tenancy?.operatorId ?? '' },
        eventId: opts.eventId,
      });
      await applied(eventId);
      return eventId;
    },
    replica: () => replica(pool),
  };
}

/** Another replica's RedemptionsService on the service's database. */
export function replica(pool: Pool): RedemptionsService {
  const logger = createLogger('marketing-test', 'warn');
  const outbox: Outbox = {
    enqueue: (client, type, payload, opts) =>
      enqueue(client, { city: 'test-city', service: 'marketing' }, type, payload, opts),
  };
  const config = marketingConfig.parse({ CITY_ID: 'test-city', DATABASE_URL: 'postgres://unused/unused' });
  return new RedemptionsService(
    pool as never,
    outbox,
    logger,
    config,
    new Mutations(pool as never, outbox, logger),
  );
}

export interface CampaignSeed {
  operatorId: string;
  projectId?: string;
  merchantId?: string;
  discount?:
    | { kind: 'AMOUNT_OFF'; amount: bigint }
    | { kind: 'PERCENT_OFF'; basisPoints: number; cap?: bigint }
    | { kind: 'THRESHOLD'; spend: bigint; save: bigint }
    | { kind: 'FREE_ITEM'; itemCode: string; value: bigint };
  funding?: 'PLATFORM' | 'OPERATOR' | 'MERCHANT';
  targetMerchantIds?: string[];
  targetProjectIds?: string[];
  targetScenarios?: number[];
  exclusive?: boolean;
  group?: string;
  priority?: number;
}

/** An ACTIVE campaign, written as CreateCampaign would leave it; returns its id. */
export async function seedCampaign(pool: Pool, s: CampaignSeed): Promise<string> {
  const id = randomUUID();
  const d = s.discount ?? { kind: 'AMOUNT_OFF', amount: 500n };
  const maxValue =
    d.kind === 'AMOUNT_OFF'
      ? d.amount
      : d.kind === 'PERCENT_OFF'
        ? (d.cap ?? 0n)
        : d.kind === 'THRESHOLD'
          ? d.save
          : d.value;
  await pool.query(
    `INSERT INTO campaigns (campaign_id, operator_id, project_id, merchant_id, name, status, currency,
       discount_kind, amount_off_minor, percent_basis_points, percent_cap_minor, threshold_spend_minor,
       threshold_save_minor, free_item_code, free_item_value_minor, coupon_max_value, funding,
       target_project_ids, target_merchant_ids, target_scenarios, stacking_exclusive, stacking_group,
       stacking_priority, claim_from, claim_until, coupon_valid_days, max_coupons)
     VALUES ($1, $2, $3, $4, 'test', 'ACTIVE', 'CNY', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
       $15, $16, $17, $18, $19, $20, now() - interval '1 day', now() + interval '30 days', 30, 100000)`,
    [
      id,
      s.operatorId,
      s.projectId ?? '',
      s.merchantId ?? '',
      d.kind,
      d.kind === 'AMOUNT_OFF' ? d.amount : null,
      d.kind === 'PERCENT_OFF' ? d.basisPoints : null,
      d.kind === 'PERCENT_OFF' ? (d.cap ?? null) : null,
      d.kind === 'THRESHOLD' ? d.spend : null,
      d.kind === 'THRESHOLD' ? d.save : null,
      d.kind === 'FREE_ITEM' ? d.itemCode : null,
      d.kind === 'FREE_ITEM' ? d.value : null,
      maxValue,
      s.funding ?? 'OPERATOR',
      s.targetProjectIds ?? [],
      s.targetMerchantIds ?? [],
      s.targetScenarios ?? [],
      s.exclusive ?? false,
      s.group ?? '',
      s.priority ?? 0,
    ],
  );
  return id;
}

/**
 * A claimed AVAILABLE coupon of the campaign for the user, as ClaimCoupon leaves it (the campaign's
 * totals counted; seeded campaigns have no holder limits, so no counters).
 */
export async function seedCoupon(
  pool: Pool,
  campaignId: string,
  userId: string,
  opts: { validDays?: number } = {},
): Promise<string> {
  const id = randomUUID();
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ operator_id: string; coupon_max_value: bigint }>(
      `UPDATE campaigns SET claimed = claimed + 1, claimed_value = claimed_value + coupon_max_value
        WHERE campaign_id = $1 RETURNING operator_id, coupon_max_value`,
      [campaignId],
    );
    const c = rows[0];
    if (!c) throw new Error(`campaign ${campaignId} is missing`);
    await client.query(
      `INSERT INTO coupons (coupon_id, campaign_id, operator_id, user_id, status, max_value, currency,
         claim_day, expires_at)
       VALUES ($1, $2, $3, $4, 'AVAILABLE', $5, 'CNY', (now() AT TIME ZONE 'Asia/Shanghai')::date,
         now() + make_interval(days => $6))`,
      [id, campaignId, c.operator_id, userId, c.coupon_max_value, opts.validDays ?? 30],
    );
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
  return id;
}

/** Makes a HELD redemption due for the hold expiry now. */
export async function lapseRedemption(pool: Pool, redemptionId: string): Promise<void> {
  await pool.query(
    `UPDATE redemptions SET expires_at = created_at + interval '1 millisecond' WHERE redemption_id = $1`,
    [redemptionId],
  );
}

/** Makes a coupon's validity end now (it was claimed earlier). */
export async function lapseCoupon(pool: Pool, couponId: string): Promise<void> {
  await pool.query(
    `UPDATE coupons SET expires_at = claimed_at + interval '1 millisecond' WHERE coupon_id = $1`,
    [couponId],
  );
}

export async function couponStatus(pool: Pool, couponId: string): Promise<string> {
  const { rows } = await pool.query<{ status: string }>('SELECT status FROM coupons WHERE coupon_id = $1', [
    couponId,
  ]);
  return rows[0]?.status ?? 'MISSING';
}

export async function campaignTotals(
  pool: Pool,
  campaignId: string,
): Promise<{ claimed: bigint; claimed_value: bigint; redeemed: bigint; redeemed_discount: bigint }> {
  const { rows } = await pool.query<{
    claimed: bigint;
    claimed_value: bigint;
    redeemed: bigint;
    redeemed_discount: bigint;
  }>('SELECT claimed, claimed_value, redeemed, redeemed_discount FROM campaigns WHERE campaign_id = $1', [
    campaignId,
  ]);
  if (!rows[0]) throw new Error(`campaign ${campaignId} is missing`);
  return rows[0];
}

/** The decoded events of one type in the outbox, in commit order. */
export async function eventsOf<K extends keyof typeof MarketingEvents>(
  pool: Pool,
  kind: K,
): Promise<ReturnType<(typeof MarketingEvents)[K]['codec']['decode']>[]> {
  const type = MarketingEvents[kind];
  const { rows } = await pool.query<{ payload: Buffer }>(
    'SELECT payload FROM outbox WHERE event_type = $1 ORDER BY id',
    [type.type],
  );
  return rows.map(
    (r) => type.codec.decode(r.payload) as ReturnType<(typeof MarketingEvents)[K]['codec']['decode']>,
  );
}
