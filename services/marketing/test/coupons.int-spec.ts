import type { ServiceError } from '@grpc/grpc-js';
import Redis from 'ioredis';
import { toTimestamp } from '@citybase/platform';
import { testEndpoints, uniqueName } from '@citybase/platform/testing';
import { Campaign, CouponStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { checkGateInvariants, checkMarketingInvariants } from './invariants';
import {
  activeCampaign,
  CLAIM_SCOPES,
  errorCode,
  errorField,
  grpcError,
  MarketingClient,
  MarketingHarness,
  rowCounts,
  settle,
  startMarketingHarness,
  status,
  tenancy,
} from './marketing-harness';

const A = 'op-claims-a';
const B = 'op-claims-b';

describe('marketing: claims under contention (in-process service, real PostgreSQL and Redis)', () => {
  let h: MarketingHarness;
  let opA: MarketingClient;
  let appA: MarketingClient;
  let appB: MarketingClient;
  let redis: Redis;

  beforeAll(async () => {
    h = await startMarketingHarness('coupons', {
      MARKETING_COUPON_EXPIRY_INTERVAL_MS: '200',
      // the suite runs reconciles itself where it means to
      MARKETING_GATE_RECONCILE_INTERVAL_MS: '3600000',
    });
    opA = h.clientOf({ operators: [A] });
    appA = h.clientOf({ operators: [A] }, CLAIM_SCOPES);
    appB = h.clientOf({ operators: [B] }, CLAIM_SCOPES);
    redis = new Redis(testEndpoints.redisUrl());
  });

  afterEach(async () => {
    expect(await checkMarketingInvariants(h.pool)).toEqual([]);
    expect(await checkGateInvariants(h.pool, redis, h.gatePrefix)).toEqual([]);
  });

  afterAll(async () => {
    // only this suite's keys (Redis is shared: never FLUSHALL)
    const keys = await redis.keys(`${h.gatePrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await h?.stop();
  });

  /**
   * A claim as a scenario app makes it: UNAVAILABLE (e.g. no pooled connection within the pool's
   * wait while 1,000 claims run at once on a slow machine) is sent again with the same request id,
   * as the status asks; every other answer is the test's to judge.
   */
  const claim = async (
    c: Campaign,
    userId: string,
    over: { householdId?: string; requestId?: string; client?: MarketingClient } = {},
  ) => {
    const requestId = over.requestId ?? uniqueName('claim');
    for (let attempt = 1; ; attempt++) {
      try {
        return await (over.client ?? appA).claimCoupon({
          requestId,
          tenancy: tenancy(A),
          campaignId: c.campaignId,
          code: '',
          userId,
          householdId: over.householdId ?? '',
        });
      } catch (err) {
        if ((err as ServiceError).code !== status.UNAVAILABLE || attempt >= 5) throw err;
      }
    }
  };

  const campaignNow = async (c: Campaign) =>
    (await opA.getCampaign({ tenancy: tenancy(A), campaignId: c.campaignId })).campaign!;

  it.each([false, true])(
    '1,000 parallel claims for a 100-coupon campaign give exactly 100 (flash sale: %s)',
    async (flashSale) => {
      const c = await activeCampaign(opA, A, { maxCoupons: 100n, flashSale });
      const outcome = await settle(Array.from({ length: 1000 }, (_, i) => claim(c, `u-${i}`)));
      expect(outcome).toEqual({ ok: 100, refused: { CAMPAIGN_SOLD_OUT: 900 } });
      const after = await campaignNow(c);
      expect([after.claimed, after.claimedValue?.amountMinor]).toEqual([100n, 100_000n]);
      if (flashSale)
        expect(await checkGateInvariants(h.pool, redis, h.gatePrefix, { requirePresent: true })).toEqual([]);
    },
  );

  it.each([false, true])(
    "one user's burst of 50 concurrent claims respects the per-user limit of 2 (shopware#11245; flash sale: %s)",
    async (flashSale) => {
      const c = await activeCampaign(opA, A, { maxCoupons: 1000n, perUserLimit: 2, flashSale });
      const outcome = await settle(Array.from({ length: 50 }, () => claim(c, 'u-burst')));
      expect(outcome).toEqual({ ok: 2, refused: { USER_LIMIT_REACHED: 48 } });
      // another user is not limited by it
      await claim(c, 'u-other');
      expect((await campaignNow(c)).claimed).toBe(3n);
    },
  );

  it.each([false, true])(
    'per-household and per-day limits hold under concurrency (flash sale: %s)',
    async (flashSale) => {
      const household = await activeCampaign(opA, A, { maxCoupons: 1000n, perHouseholdLimit: 3, flashSale });
      const byHousehold = await settle(
        Array.from({ length: 30 }, (_, i) => claim(household, `u-h-${i}`, { householdId: 'hh-1' })),
      );
      expect(byHousehold).toEqual({ ok: 3, refused: { HOUSEHOLD_LIMIT_REACHED: 27 } });
      const err = await grpcError(claim(household, 'u-h-x'));
      expect([err.code, errorField(err)]).toEqual([status.INVALID_ARGUMENT, 'household_id']);

      const daily = await activeCampaign(opA, A, {
        maxCoupons: 1000n,
        perUserLimit: 5,
        perUserDailyLimit: 1,
        flashSale,
      });
      const byDay = await settle(Array.from({ length: 20 }, () => claim(daily, 'u-daily')));
      expect(byDay).toEqual({ ok: 1, refused: { DAILY_LIMIT_REACHED: 19 } });
    },
  );

  it.each([false, true])('the money budget is never exceeded (flash sale: %s)', async (flashSale) => {
    // 10 CNY coupons, 55 CNY: 5 coupons
    const c = await activeCampaign(opA, A, {
      maxCoupons: 100n,
      maxSpend: { currency: 'CNY', amountMinor: 5_500n },
      flashSale,
    });
    const outcome = await settle(Array.from({ length: 200 }, (_, i) => claim(c, `u-m-${i}`)));
    expect(outcome).toEqual({ ok: 5, refused: { CAMPAIGN_BUDGET_EXHAUSTED: 195 } });
    const after = await campaignNow(c);
    expect([after.claimed, after.claimedValue?.amountMinor]).toEqual([5n, 5_000n]);
  });

  it('a repeated request answers the same coupon; a different body with its id is refused', async () => {
    const c = await activeCampaign(opA, A, { maxCoupons: 10n, perUserLimit: 1 });
    const requestId = uniqueName('claim');
    const first = (await claim(c, 'u-rep', { requestId })).coupon!;
    const again = await Promise.all([claim(c, 'u-rep', { requestId }), claim(c, 'u-rep', { requestId })]);
    expect(again.map((r) => r.coupon?.couponId)).toEqual([first.couponId, first.couponId]);
    expect(first).toMatchObject({
      campaignId: c.campaignId,
      userId: 'u-rep',
      status: CouponStatus.COUPON_STATUS_AVAILABLE,
      maxValue: { currency: 'CNY', amountMinor: 1000n },
      tenancy: tenancy(A),
    });
    const err = await grpcError(claim(c, 'u-other', { requestId }));
    expect([err.code, errorCode(err)]).toEqual([status.ALREADY_EXISTS, 'REQUEST_ID_REUSED']);
    expect((await campaignNow(c)).claimed).toBe(1n);
    expect((await appA.getCoupon({ tenancy: tenancy(A), couponId: first.couponId })).coupon).toEqual(first);
    const listed = await appA.listCoupons({
      tenancy: tenancy(A),
      userId: 'u-rep',
      includeUsed: false,
      page: undefined,
    });
    expect(listed.coupons.map((x) => x.couponId)).toEqual([first.couponId]);
  });

  it.each([false, true])(
    'a retry of a claim that succeeded answers its coupon after the campaign sold out (flash sale: %s)',
    async (flashSale) => {
      const c = await activeCampaign(opA, A, { maxCoupons: 2n, flashSale });
      const requestId = uniqueName('claim');
      const first = (await claim(c, 'u-retry', { requestId })).coupon!;
      await claim(c, 'u-retry-2');
      const soldOut = await grpcError(claim(c, 'u-retry-3'));
      expect(errorCode(soldOut)).toBe('CAMPAIGN_SOLD_OUT');
      expect((await claim(c, 'u-retry', { requestId })).coupon?.couponId).toBe(first.couponId);
      // the same user with a new request is refused
      expect(errorCode(await grpcError(claim(c, 'u-retry')))).toBe('CAMPAIGN_SOLD_OUT');
    },
  );

  it('claims by generic code; a unique code claims once, even when scanned concurrently', async () => {
    const code = `AUTUMN${Date.now() % 1_000_000}`;
    const c = await activeCampaign(opA, A, { maxCoupons: 50n, genericCode: code });
    const byCode = await appA.claimCoupon({
      requestId: uniqueName('claim'),
      tenancy: tenancy(A),
      campaignId: '',
      code: code.toLowerCase(),
      userId: 'u-code',
      householdId: '',
    });
    expect(byCode.coupon?.campaignId).toBe(c.campaignId);

    const batch = (
      await opA.generateCodes({
        requestId: uniqueName('g'),
        tenancy: tenancy(A),
        campaignId: c.campaignId,
        count: 5n,
      })
    ).batch!;
    await poll(
      async () =>
        (await opA.getCodeBatch({ tenancy: tenancy(A), batchId: batch.batchId })).batch?.generated === 5n,
    );
    const codes = (await opA.exportCodes({ tenancy: tenancy(A), batchId: batch.batchId, page: undefined }))
      .codes;
    const unique = codes[0]!.code;
    const outcome = await settle(
      Array.from({ length: 20 }, (_, i) =>
        appA.claimCoupon({
          requestId: uniqueName('claim'),
          tenancy: tenancy(A),
          campaignId: '',
          code: unique,
          userId: `u-uc-${i}`,
          householdId: '',
        }),
      ),
    );
    expect(outcome).toEqual({ ok: 1, refused: { CODE_ALREADY_USED: 19 } });
    const exported = (await opA.exportCodes({ tenancy: tenancy(A), batchId: batch.batchId, page: undefined }))
      .codes;
    expect(exported.filter((x) => x.couponId !== '').map((x) => x.code)).toEqual([unique]);
    // another operator's app does not find it
    const err = await grpcError(
      appB.claimCoupon({
        requestId: uniqueName('claim'),
        tenancy: tenancy(B),
        campaignId: '',
        code: codes[1]!.code,
        userId: 'u-b',
        householdId: '',
      }),
    );
    expect([err.code, errorCode(err)]).toEqual([status.NOT_FOUND, 'CODE_NOT_FOUND']);
  });

  it("refuses another operator's campaign before reading it, and a paused or closed one", async () => {
    const c = await activeCampaign(opA, A, { maxCoupons: 10n });
    const claimKeys = async () =>
      (await h.pool.query("SELECT 1 FROM idempotency_keys WHERE method = 'MarketingService.ClaimCoupon'"))
        .rowCount;
    const before = [await rowCounts(h.pool, ['coupons', 'claim_counters']), await claimKeys()];
    const denied = await grpcError(claim(c, 'u-x', { client: appB }));
    expect([denied.code, errorCode(denied)]).toEqual([status.PERMISSION_DENIED, 'TENANCY_FORBIDDEN']);
    const hidden = await grpcError(
      appB.claimCoupon({
        requestId: uniqueName('claim'),
        tenancy: tenancy(B),
        campaignId: c.campaignId,
        code: '',
        userId: 'u',
        householdId: '',
      }),
    );
    expect([hidden.code, errorCode(hidden)]).toEqual([status.NOT_FOUND, 'CAMPAIGN_NOT_FOUND']);
    await opA.updateCampaign({
      requestId: uniqueName('u'),
      tenancy: tenancy(A),
      campaignId: c.campaignId,
      status: 3,
      maxCoupons: 0n,
      maxSpend: undefined,
      claimUntil: undefined,
    });
    const paused = await grpcError(claim(c, 'u-x'));
    expect([paused.code, errorCode(paused)]).toEqual([status.FAILED_PRECONDITION, 'CAMPAIGN_NOT_ACTIVE']);
    const later = await activeCampaign(opA, A, {
      claimFrom: toTimestamp(new Date(Date.now() + 3_600_000)),
      claimUntil: toTimestamp(new Date(Date.now() + 7_200_000)),
    });
    const closed = await grpcError(claim(later, 'u-x'));
    expect([closed.code, errorCode(closed)]).toEqual([status.FAILED_PRECONDITION, 'CLAIM_WINDOW_CLOSED']);
    expect([await rowCounts(h.pool, ['coupons', 'claim_counters']), await claimKeys()]).toEqual(before);
  });

  it('expires unused coupons: the money budget gets their value back, the count budget does not', async () => {
    const c = await activeCampaign(opA, A, {
      maxCoupons: 10n,
      maxSpend: { currency: 'CNY', amountMinor: 1_000n },
      useUntil: toTimestamp(new Date(Date.now() + 1_500)),
    });
    const coupon = (await claim(c, 'u-exp')).coupon!;
    const full = await grpcError(claim(c, 'u-exp2'));
    expect(errorCode(full)).toBe('CAMPAIGN_BUDGET_EXHAUSTED');
    await poll(
      async () =>
        (
          await h.pool.query("SELECT 1 FROM coupons WHERE coupon_id = $1 AND status = 'EXPIRED'", [
            coupon.couponId,
          ])
        ).rowCount === 1,
    );
    const after = await campaignNow(c);
    expect([after.claimed, after.claimedValue?.amountMinor]).toEqual([1n, 0n]);
    expect((await appA.getCoupon({ tenancy: tenancy(A), couponId: coupon.couponId })).coupon?.status).toBe(
      CouponStatus.COUPON_STATUS_EXPIRED,
    );
  });

  it("rebuilds a flash sale's counters from PostgreSQL when Redis lost them mid-sale, and never oversells", async () => {
    const c = await activeCampaign(opA, A, { maxCoupons: 60n, perUserLimit: 1, flashSale: true });
    const first = await settle(Array.from({ length: 40 }, (_, i) => claim(c, `u-f-${i}`)));
    expect(first.ok).toBe(40);
    // Redis loses exactly this campaign's keys (never FLUSHALL: Redis is shared)
    const keys = await redis.keys(`${h.gatePrefix}:{${c.campaignId}}:*`);
    expect(keys.length).toBeGreaterThan(0);
    await redis.del(...keys);
    // the same users again (their limit is in PostgreSQL) and new ones, concurrently
    const [again, fresh] = await Promise.all([
      settle(Array.from({ length: 40 }, (_, i) => claim(c, `u-f-${i}`))),
      settle(Array.from({ length: 200 }, (_, i) => claim(c, `u-g-${i}`))),
    ]);
    // the first 40 get nothing more: their limit, or the sale sold out first (whichever the gate
    // sees first: which one depends on timing, that none gets a coupon does not)
    expect(again.ok).toBe(0);
    expect(
      Object.entries(again.refused).every(([code]) =>
        ['USER_LIMIT_REACHED', 'CAMPAIGN_SOLD_OUT'].includes(code),
      ),
    ).toBe(true);
    expect(Object.values(again.refused).reduce((a, b) => a + b, 0)).toBe(40);
    expect(fresh.ok).toBe(20);
    expect(fresh.refused).toEqual({ CAMPAIGN_SOLD_OUT: 180 });
    expect((await campaignNow(c)).claimed).toBe(60n);
    expect(await checkGateInvariants(h.pool, redis, h.gatePrefix, { requirePresent: true })).toEqual([]);
  });
});

async function poll(done: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
