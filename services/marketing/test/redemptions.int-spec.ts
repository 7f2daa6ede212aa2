import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { decodeUnverified, encodeSignedJwt, importJwks, toTimestamp, verifyJwt } from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import { Basket, FundingSource, RedemptionStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { checkMarketingInvariants } from './invariants';
import { activeCampaign } from './marketing-harness';
import {
  campaignTotals,
  couponStatus,
  errorCode,
  errorField,
  eventsOf,
  grpcError,
  lapseCoupon,
  lapseRedemption,
  MarketingClient,
  RedemptionsHarness,
  rowCounts,
  seedCampaign,
  seedCoupon,
  startRedemptionsHarness,
  status,
} from './redemptions-harness';

const GOODS = PaymentScenario.PAYMENT_SCENARIO_GOODS;

/** The value, or the test fails naming what is missing. */
function present<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`${what} is missing`);
  return value;
}

describe('marketing redemptions: quotes, reservations, refund rollback, QR tokens (in-process, real PostgreSQL and Kafka)', () => {
  let h: RedemptionsHarness;
  let op: string;
  let checkout: MarketingClient;
  let app: MarketingClient;
  let user: string;

  const basket = (total: bigint, over: Partial<Basket> = {}): Basket => ({
    tenancy: { operatorId: op, projectId: 'p-1', merchantId: 'm-1' },
    scenario: GOODS,
    total: { currency: 'CNY', amountMinor: total },
    itemCodes: [],
    ...over,
  });
  const reserve = (
    couponId: string,
    reference: string,
    total = 10_000n,
    over: { ttlSeconds?: number } = {},
  ) =>
    checkout.reserveCoupon({
      requestId: uniqueName('reserve'),
      userId: user,
      couponId,
      basket: basket(total),
      reference,
      ttlSeconds: over.ttlSeconds ?? 0,
    });
  const confirm = (redemptionId: string, requestId = uniqueName('confirm')) =>
    checkout.confirmCouponReservation({
      requestId,
      tenancy: { operatorId: op, projectId: '', merchantId: '' },
      redemptionId,
    });
  const cancel = (redemptionId: string) =>
    checkout.cancelCouponReservation({
      requestId: uniqueName('cancel'),
      tenancy: { operatorId: op, projectId: '', merchantId: '' },
      redemptionId,
    });
  const redeemed = async (couponId: string, reference: string, total = 10_000n) => {
    const r = present((await reserve(couponId, reference, total)).redemption, 'redemption');
    return present((await confirm(r.redemptionId)).redemption, 'redemption');
  };
  const campaign = (over: Parameters<typeof seedCampaign>[1] extends infer S ? Partial<S> : never = {}) =>
    seedCampaign(h.pool, { operatorId: op, ...over });

  beforeAll(async () => {
    h = await startRedemptionsHarness();
  });
  afterAll(() => h?.stop());
  beforeEach(() => {
    op = uniqueName('op');
    user = uniqueName('u');
    checkout = h.clientOf({ operators: [op] });
    app = h.clientOf({ operators: [op] }, ['marketing:claim']);
  });
  afterEach(async () => {
    expect(await checkMarketingInvariants(h.pool)).toEqual([]);
  });

  describe('QuoteDiscount', () => {
    it('quotes stacked coupons in (priority, campaign id) order with reasons, writing nothing', async () => {
      const first = await seedCoupon(
        h.pool,
        await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 1000n } }),
        user,
      );
      const pct = await seedCoupon(
        h.pool,
        await campaign({ discount: { kind: 'PERCENT_OFF', basisPoints: 1000, cap: 5000n }, priority: 1 }),
        user,
      );
      const threshold = await seedCoupon(
        h.pool,
        await campaign({ discount: { kind: 'THRESHOLD', spend: 20_000n, save: 3000n } }),
        user,
      );
      const elsewhere = await seedCoupon(h.pool, await campaign({ targetMerchantIds: ['m-9'] }), user);
      const before = await rowCounts(h.pool, ['redemptions', 'outbox', 'idempotency_keys']);
      const q = await checkout.quoteDiscount({
        userId: user,
        basket: basket(10_000n),
        couponIds: [pct, threshold, first, elsewhere],
      });
      expect(q.discounts.map((d) => [d.couponId, d.discount?.amountMinor, d.reason])).toEqual([
        [first, 1000n, ''],
        [pct, 900n, ''],
        [threshold, 0n, 'THRESHOLD_NOT_MET'],
        [elsewhere, 0n, 'NOT_TARGETED'],
      ]);
      expect([q.totalDiscount?.amountMinor, q.due?.amountMinor]).toEqual([1900n, 8100n]);
      expect(await rowCounts(h.pool, ['redemptions', 'outbox', 'idempotency_keys'])).toEqual(before);
    });

    it("answers another holder's coupon like a missing one, and refuses another operator's basket", async () => {
      const theirs = await seedCoupon(h.pool, await campaign(), 'someone-else');
      const err = await grpcError(
        checkout.quoteDiscount({ userId: user, basket: basket(100n), couponIds: [theirs] }),
      );
      expect([err.code, errorCode(err)]).toEqual([status.NOT_FOUND, 'COUPON_NOT_FOUND']);
      const foreign = await grpcError(
        checkout.quoteDiscount({
          userId: user,
          basket: basket(100n, { tenancy: { operatorId: 'op-other', projectId: '', merchantId: '' } }),
          couponIds: [theirs],
        }),
      );
      expect([foreign.code, errorCode(foreign)]).toEqual([status.PERMISSION_DENIED, 'TENANCY_FORBIDDEN']);
    });
  });

  it('a coupon made by CreateCampaign and ClaimCoupon is quoted, reserved and redeemed; the campaign counts it', async () => {
    const office = h.clientOf({ operators: [op] }, ['marketing:configure', 'marketing:read']);
    const k = await activeCampaign(office, op, {
      discount: {
        kind: {
          $case: 'percentOff',
          value: { basisPoints: 2000, cap: { currency: 'CNY', amountMinor: 1500n } },
        },
      },
    });
    const claimed = present(
      (
        await app.claimCoupon({
          requestId: uniqueName('claim'),
          tenancy: { operatorId: op, projectId: '', merchantId: '' },
          campaignId: k.campaignId,
          code: '',
          userId: user,
          householdId: '',
        })
      ).coupon,
      'coupon',
    );
    const q = await checkout.quoteDiscount({
      userId: user,
      basket: basket(10_000n),
      couponIds: [claimed.couponId],
    });
    expect(q.totalDiscount?.amountMinor).toBe(1500n);
    const r = await redeemed(claimed.couponId, uniqueName('pay'));
    expect(r.discount?.amountMinor).toBe(1500n);
    const after = present(
      (await office.getCampaign({ tenancy: k.tenancy, campaignId: k.campaignId })).campaign,
      'campaign',
    );
    expect([after.claimed, after.redeemed, after.redeemedDiscount?.amountMinor]).toEqual([1n, 1n, 1500n]);
  });

  describe('ReserveCoupon > Confirm | Cancel | expire', () => {
    it('reserves (rules re-checked), confirms once: coupon REDEEMED, campaign redeemed, CouponRedeemed with its funder', async () => {
      const k = await campaign({
        discount: { kind: 'AMOUNT_OFF', amount: 700n },
        funding: 'MERCHANT',
        merchantId: 'm-1',
      });
      const c = await seedCoupon(h.pool, k, user);
      const held = present((await reserve(c, 'pay-1')).redemption, 'redemption');
      expect([held.status, held.discount?.amountMinor, held.basketTotal?.amountMinor]).toEqual([
        RedemptionStatus.REDEMPTION_STATUS_HELD,
        700n,
        10_000n,
      ]);
      expect(await couponStatus(h.pool, c)).toBe('RESERVED');
      const done = present((await confirm(held.redemptionId)).redemption, 'redemption');
      expect(done.status).toBe(RedemptionStatus.REDEMPTION_STATUS_CONFIRMED);
      expect(await couponStatus(h.pool, c)).toBe('REDEEMED');
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 1n, redeemed_discount: 700n });
      const ev = (await eventsOf(h.pool, 'CouponRedeemed')).filter((e) => e.campaignId === k);
      expect(ev.map((e) => [e.redemption?.redemptionId, e.funding, e.funder?.merchantId, e.offline])).toEqual(
        [[held.redemptionId, FundingSource.FUNDING_SOURCE_MERCHANT, 'm-1', false]],
      );
      // a coupon in use is not reserved again elsewhere
      const again = await grpcError(reserve(c, 'pay-2'));
      expect([again.code, errorCode(again)]).toEqual([status.FAILED_PRECONDITION, 'COUPON_REDEEMED']);
    });

    it('a payment retried twice counts once (saleor#8219)', async () => {
      const k = await campaign();
      const c = await seedCoupon(h.pool, k, user);
      const pay = uniqueName('pay');
      const first = present((await reserve(c, pay)).redemption, 'redemption');
      // the retried checkout reserves again with its own request id: the same hold
      const second = present((await reserve(c, pay)).redemption, 'redemption');
      expect(second.redemptionId).toBe(first.redemptionId);
      // the payment's success reported twice: two confirmations with different request ids
      const [a, b] = await Promise.all([confirm(first.redemptionId), confirm(first.redemptionId)]);
      expect([a.redemption?.status, b.redemption?.status]).toEqual([
        RedemptionStatus.REDEMPTION_STATUS_CONFIRMED,
        RedemptionStatus.REDEMPTION_STATUS_CONFIRMED,
      ]);
      // and the same request id replays
      const rid = uniqueName('confirm');
      await confirm(first.redemptionId, rid);
      expect((await confirm(first.redemptionId, rid)).redemption?.redemptionId).toBe(first.redemptionId);
      // a third reserve of the paid checkout answers its confirmed redemption
      expect((await reserve(c, pay)).redemption?.status).toBe(RedemptionStatus.REDEMPTION_STATUS_CONFIRMED);
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 1n, redeemed_discount: 500n });
      expect((await eventsOf(h.pool, 'CouponRedeemed')).filter((e) => e.campaignId === k)).toHaveLength(1);
    });

    it('a coupon reserved by a checkout that failed is free again: cancelled, or expired (saleor PR #8796)', async () => {
      const k = await campaign();
      const c = await seedCoupon(h.pool, k, user);
      const cancelled = present((await reserve(c, uniqueName('pay'))).redemption, 'redemption');
      expect((await cancel(cancelled.redemptionId)).redemption?.status).toBe(
        RedemptionStatus.REDEMPTION_STATUS_CANCELLED,
      );
      expect(await couponStatus(h.pool, c)).toBe('AVAILABLE');
      // a confirmation after the cancellation is refused
      const late = await grpcError(confirm(cancelled.redemptionId));
      expect([late.code, errorCode(late)]).toEqual([status.FAILED_PRECONDITION, 'REDEMPTION_CANCELLED']);

      // expired: a confirmation past the deadline commits EXPIRED and fails REDEMPTION_EXPIRED
      const lapsed = present((await reserve(c, uniqueName('pay'))).redemption, 'redemption');
      await lapseRedemption(h.pool, lapsed.redemptionId);
      for (let i = 0; i < 2; i++) {
        const err = await grpcError(confirm(lapsed.redemptionId));
        expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'REDEMPTION_EXPIRED']);
      }
      expect(await couponStatus(h.pool, c)).toBe('AVAILABLE');

      // expired by the job: free again, and redeemable by the next checkout
      const byJob = present((await reserve(c, uniqueName('pay'))).redemption, 'redemption');
      await lapseRedemption(h.pool, byJob.redemptionId);
      await h.replica().expireDueRedemptions(100);
      expect(await couponStatus(h.pool, c)).toBe('AVAILABLE');
      await redeemed(c, uniqueName('pay'));
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 1n });
      const released = (await eventsOf(h.pool, 'CouponReleased')).filter((e) => e.campaignId === k);
      expect(released.map((e) => e.redemption?.status)).toEqual([
        RedemptionStatus.REDEMPTION_STATUS_CANCELLED,
        RedemptionStatus.REDEMPTION_STATUS_EXPIRED,
        RedemptionStatus.REDEMPTION_STATUS_EXPIRED,
      ]);
    });

    it('a hold released past the coupon validity expires the coupon and gives its value back to the money budget', async () => {
      const k = await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 800n } });
      const c = await seedCoupon(h.pool, k, user);
      const held = present((await reserve(c, uniqueName('pay'))).redemption, 'redemption');
      await lapseCoupon(h.pool, c);
      await cancel(held.redemptionId);
      expect(await couponStatus(h.pool, c)).toBe('EXPIRED');
      expect(await campaignTotals(h.pool, k)).toMatchObject({ claimed: 1n, claimed_value: 0n });
      expect((await eventsOf(h.pool, 'CouponExpired')).filter((e) => e.couponId === c)).toHaveLength(1);
    });

    it('the hold expiry ends each lapsed hold exactly once, with two passes at once', async () => {
      const k = await campaign();
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const c = await seedCoupon(h.pool, k, user);
        const r = present((await reserve(c, uniqueName('pay'))).redemption, 'redemption');
        await lapseRedemption(h.pool, r.redemptionId);
        ids.push(r.redemptionId);
      }
      await Promise.all([h.replica().expireDueRedemptions(100), h.replica().expireDueRedemptions(100)]);
      const { rows } = await h.pool.query<{ status: string }>(
        'SELECT status FROM redemptions WHERE redemption_id = ANY($1::uuid[])',
        [ids],
      );
      expect(rows.every((r) => r.status === 'EXPIRED')).toBe(true);
      const released = (await eventsOf(h.pool, 'CouponReleased')).filter((e) => e.campaignId === k);
      expect(released).toHaveLength(30);
      expect(new Set(released.map((e) => e.redemption?.redemptionId)).size).toBe(30);
    });

    it('stacks with the coupons already held on the checkout; an exclusive one is refused beside them', async () => {
      const a = await seedCoupon(
        h.pool,
        await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 1000n } }),
        user,
      );
      const b = await seedCoupon(
        h.pool,
        await campaign({ discount: { kind: 'PERCENT_OFF', basisPoints: 1000 }, priority: 1 }),
        user,
      );
      const x = await seedCoupon(
        h.pool,
        await campaign({ exclusive: true, discount: { kind: 'AMOUNT_OFF', amount: 300n } }),
        user,
      );
      const pay = uniqueName('pay');
      await reserve(a, pay);
      expect((await reserve(b, pay)).redemption?.discount?.amountMinor).toBe(900n);
      const err = await grpcError(reserve(x, pay));
      expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'STACKING_EXCLUSIVE']);
    });
  });

  describe('checkout refund rollback (payment CheckoutRefunded)', () => {
    const refundOf = (
      checkoutId: string,
      redemptionId: string,
      couponRestored: boolean,
    ): Parameters<RedemptionsHarness['checkoutRefunded']>[0] => {
      const money = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });
      const parts = {
        total: money(3_000n),
        discount: money(300n),
        points: 0n,
        pointsValue: money(0n),
        money: money(2_700n),
      };
      return {
        checkoutId,
        refundId: randomUUID(),
        tenancy: { operatorId: op, projectId: 'p-1', merchantId: 'm-1' },
        merchantId: 'm-1',
        parts,
        refundedTotal: parts,
        couponRestored,
        paymentRefundId: randomUUID(),
        pointsReservationId: '',
        pointsHolderId: user,
        couponRedemptionId: redemptionId,
        occurredAt: toTimestamp(new Date()),
        scenario: GOODS,
        paymentId: randomUUID(),
        couponId: '',
      };
    };

    it('the refund that restores the coupon rolls the redemption back once, marked for settlement; a partial one keeps it', async () => {
      const k = await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 1000n } });
      const c = await seedCoupon(h.pool, k, user);
      const checkoutId = randomUUID();
      const r = await redeemed(c, checkoutId);
      await h.checkoutRefunded(refundOf(checkoutId, r.redemptionId, false));
      expect(await couponStatus(h.pool, c)).toBe('REDEEMED');
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 1n, redeemed_discount: 1000n });
      const full = refundOf(checkoutId, r.redemptionId, true);
      const eventId = await h.checkoutRefunded(full);
      expect(await couponStatus(h.pool, c)).toBe('AVAILABLE');
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 0n, redeemed_discount: 0n });
      // redelivered, and announced again under a new event id: nothing more
      await h.checkoutRefunded(full, { eventId });
      await h.checkoutRefunded(full);
      const released = (await eventsOf(h.pool, 'CouponReleased')).filter((e) => e.campaignId === k);
      expect(released.map((e) => [e.redemption?.status, e.byCheckoutRefund])).toEqual([
        [RedemptionStatus.REDEMPTION_STATUS_ROLLED_BACK, true],
      ]);
      // usable again
      await redeemed(c, randomUUID());
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 1n });
    });

    const releaseOf = (
      checkoutId: string,
      redemptionId: string,
    ): Parameters<RedemptionsHarness['checkoutReleased']>[0] => {
      const money = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });
      return {
        checkoutId,
        tenancy: { operatorId: op, projectId: 'p-1', merchantId: 'm-1' },
        merchantId: 'm-1',
        scenario: GOODS,
        userId: user,
        parts: {
          total: money(10_000n),
          discount: money(1_000n),
          points: 3_000n,
          pointsValue: money(3_000n),
          money: money(6_000n),
        },
        paymentId: randomUUID(),
        couponRedemptionId: redemptionId,
        pointsReservationId: randomUUID(),
        pointsHolderId: user,
        reason: 'CONFIRM_REFUSED',
        occurredAt: toTimestamp(new Date()),
        couponId: '',
        paymentRefundId: randomUUID(),
      };
    };

    it('a checkout released after its coupon was confirmed gives the coupon back once, for settlement to reverse', async () => {
      const k = await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 1000n } });
      const c = await seedCoupon(h.pool, k, user);
      const checkoutId = randomUUID();
      const r = await redeemed(c, checkoutId);
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 1n, redeemed_discount: 1000n });
      const release = releaseOf(checkoutId, r.redemptionId);
      const eventId = await h.checkoutReleased(release);
      expect(await couponStatus(h.pool, c)).toBe('AVAILABLE');
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 0n, redeemed_discount: 0n });
      // redelivered, and announced again under a new event id: nothing more
      await h.checkoutReleased(release, { eventId });
      await h.checkoutReleased(release);
      const released = (await eventsOf(h.pool, 'CouponReleased')).filter((e) => e.campaignId === k);
      // not by a checkout refund: no refund gave the discount back, settlement reverses its posting
      expect(released.map((e) => [e.redemption?.status, e.byCheckoutRefund])).toEqual([
        [RedemptionStatus.REDEMPTION_STATUS_ROLLED_BACK, false],
      ]);
      // usable again
      await redeemed(c, randomUUID());
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 1n });
    });

    it("a release leaves a held coupon to the saga's cancel", async () => {
      const k = await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 1000n } });
      const c = await seedCoupon(h.pool, k, user);
      const checkoutId = randomUUID();
      const held = present((await reserve(c, checkoutId)).redemption, 'redemption');
      await h.checkoutReleased(releaseOf(checkoutId, held.redemptionId));
      expect(await couponStatus(h.pool, c)).toBe('RESERVED');
      await cancel(held.redemptionId);
      expect(await couponStatus(h.pool, c)).toBe('AVAILABLE');
    });

    it("a payment's RefundSucceeded rollback is not marked as a checkout's", async () => {
      const k = await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 1000n } });
      const c = await seedCoupon(h.pool, k, user);
      const pay = randomUUID();
      await redeemed(c, pay);
      await h.refunded(pay, 9000n);
      const released = (await eventsOf(h.pool, 'CouponReleased')).filter((e) => e.campaignId === k);
      expect(released.map((e) => e.byCheckoutRefund)).toEqual([false]);
    });
  });

  describe('refund rollback (payment RefundSucceeded)', () => {
    it('a full refund rolls the redemption back: coupon AVAILABLE, campaign redeemed restored; a partial one keeps it', async () => {
      const k = await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 1000n } });
      const c = await seedCoupon(h.pool, k, user);
      const pay = randomUUID();
      await redeemed(c, pay); // paid 9000
      await h.refunded(pay, 4000n);
      expect(await couponStatus(h.pool, c)).toBe('REDEEMED');
      await h.refunded(pay, 9000n);
      expect(await couponStatus(h.pool, c)).toBe('AVAILABLE');
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 0n, redeemed_discount: 0n });
      // the same event delivered again, and a later refund event: nothing more
      const again = await h.refunded(pay, 9000n);
      await h.refunded(pay, 9000n, { eventId: again });
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 0n });
      const rolled = await h.pool.query<{ status: string }>(
        'SELECT status FROM redemptions WHERE coupon_id = $1',
        [c],
      );
      expect(rolled.rows.map((r) => r.status)).toEqual(['ROLLED_BACK']);
      expect(
        (await eventsOf(h.pool, 'CouponReleased'))
          .filter((e) => e.campaignId === k)
          .map((e) => e.redemption?.status),
      ).toEqual([RedemptionStatus.REDEMPTION_STATUS_ROLLED_BACK]);
      // usable again
      await redeemed(c, randomUUID());
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 1n, redeemed_discount: 1000n });
    });

    it('a full refund of a checkout with two stacked coupons rolls both back; what it cost is the basket less both', async () => {
      const k = await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 1000n } });
      const a = await seedCoupon(h.pool, k, user);
      const b = await seedCoupon(
        h.pool,
        await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 500n } }),
        user,
      );
      const pay = randomUUID();
      await redeemed(a, pay);
      await redeemed(b, pay); // paid 10000 - 1000 - 500 = 8500
      await h.refunded(pay, 8499n);
      expect([await couponStatus(h.pool, a), await couponStatus(h.pool, b)]).toEqual([
        'REDEEMED',
        'REDEEMED',
      ]);
      await h.refunded(pay, 8500n);
      expect([await couponStatus(h.pool, a), await couponStatus(h.pool, b)]).toEqual([
        'AVAILABLE',
        'AVAILABLE',
      ]);
    });

    it('a rollback past the coupon validity expires the coupon', async () => {
      const k = await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 1000n } });
      const c = await seedCoupon(h.pool, k, user);
      const pay = randomUUID();
      await redeemed(c, pay);
      await lapseCoupon(h.pool, c);
      await h.refunded(pay, 9000n);
      expect(await couponStatus(h.pool, c)).toBe('EXPIRED');
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 0n, claimed_value: 0n });
    });

    it('concurrent redemptions and rollbacks of one campaign never lose an update (medusa#16595)', async () => {
      const k = await campaign({ discount: { kind: 'AMOUNT_OFF', amount: 100n } });
      // 20 coupons redeemed already (to be refunded) and 20 held (to be confirmed), all at once
      const paidOnes: string[] = [];
      const heldOnes: string[] = [];
      for (let i = 0; i < 20; i++) {
        const pay = randomUUID();
        await redeemed(await seedCoupon(h.pool, k, user), pay, 1000n);
        paidOnes.push(pay);
        const r = present(
          (await reserve(await seedCoupon(h.pool, k, user), randomUUID(), 1000n)).redemption,
          'r',
        );
        heldOnes.push(r.redemptionId);
      }
      await Promise.all([...paidOnes.map((p) => h.refunded(p, 900n)), ...heldOnes.map((id) => confirm(id))]);
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 20n, redeemed_discount: 2000n });
    });
  });

  describe('QR tokens', () => {
    const MERCHANT = { projectId: 'p-1', merchantId: 'm-1' };
    const issue = (couponId: string, ttlSeconds = 0) =>
      app.issueRedemptionToken({
        tenancy: { operatorId: op, projectId: '', merchantId: '' },
        userId: user,
        couponId,
        ttlSeconds,
      });
    const scan = (
      token: string,
      over: { merchantId?: string; scannedAt?: Date; requestId?: string; total?: bigint } = {},
    ) => {
      const tenancy = {
        operatorId: op,
        projectId: MERCHANT.projectId,
        merchantId: over.merchantId ?? MERCHANT.merchantId,
      };
      return checkout.redeemToken({
        requestId: over.requestId ?? uniqueName('scan'),
        tenancy,
        token,
        basket: {
          tenancy,
          scenario: GOODS,
          total: { currency: 'CNY', amountMinor: over.total ?? 5000n },
          itemCodes: [],
        },
        scannedAt: over.scannedAt ? toTimestamp(over.scannedAt) : undefined,
      });
    };
    /** The token the service would have issued `agoSeconds` ago (same nonce), signed with its stored key. */
    const backdated = async (token: string, agoSeconds: number) => {
      const { header, payload } = decodeUnverified(token);
      const { rows } = await h.pool.query<{ private_key: Buffer }>(
        'SELECT private_key FROM token_keys WHERE kid = $1',
        [header.kid],
      );
      const key = createPrivateKey({
        key: present(rows[0], 'key').private_key,
        format: 'der',
        type: 'pkcs8',
      });
      const shifted = {
        ...payload,
        iat: (payload['iat'] as number) - agoSeconds,
        exp: (payload['exp'] as number) - agoSeconds,
      };
      return {
        token: encodeSignedJwt(shifted, key, header.kid as string),
        exp: new Date((shifted.exp as number) * 1000),
      };
    };

    it('issues a token the published keys verify; the coupon is held; it redeems once at a targeted merchant', async () => {
      const k = await campaign({
        discount: { kind: 'AMOUNT_OFF', amount: 600n },
        targetMerchantIds: ['m-1', 'm-2'],
      });
      const c = await seedCoupon(h.pool, k, user);
      const t = await issue(c, 60);
      expect(await couponStatus(h.pool, c)).toBe('RESERVED');
      const jwks = JSON.parse((await checkout.getTokenKeys({})).jwksJson) as { keys: unknown[] };
      expect(jwks.keys).toHaveLength(1);
      const payload = await verifyJwt(t.token, importJwks(jwks));
      expect(payload).toMatchObject({ coupon: c, campaign: k, sub: user, merchants: ['m-1', 'm-2'] });
      expect((payload['exp'] as number) - (payload['iat'] as number)).toBe(60);
      // online checkout cannot take the coupon while the token lives
      const busy = await grpcError(reserve(c, uniqueName('pay')));
      expect([busy.code, errorCode(busy)]).toEqual([status.FAILED_PRECONDITION, 'COUPON_RESERVED']);
      const r = present((await scan(t.token)).redemption, 'redemption');
      expect([r.status, r.redemptionId, r.discount?.amountMinor, r.redeemedAt?.merchantId]).toEqual([
        RedemptionStatus.REDEMPTION_STATUS_CONFIRMED,
        payload['nonce'],
        600n,
        'm-1',
      ]);
      expect(await couponStatus(h.pool, c)).toBe('REDEEMED');
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 1n, redeemed_discount: 600n });
      // replayed: refused naming the winning redemption
      const replay = await grpcError(scan(t.token, { merchantId: 'm-2' }));
      expect([replay.code, errorCode(replay)]).toEqual([status.FAILED_PRECONDITION, 'TOKEN_ALREADY_USED']);
      expect(replay.details).toContain(r.redemptionId);
      expect(replay.details).toContain('m-1');
    });

    it('refuses forged, expired and wrong-merchant tokens with their reasons, writing nothing', async () => {
      const k = await campaign({ targetMerchantIds: ['m-1'] });
      const c = await seedCoupon(h.pool, k, user);
      // what these refusals could write: the campaign's events (other tests' jobs may write theirs)
      // and request keys
      const written = async () => ({
        events: (
          await h.pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM outbox WHERE partition_key = $1',
            [k],
          )
        ).rows[0]?.n,
        ...(await rowCounts(h.pool, ['idempotency_keys'])),
      });
      const t = await issue(c);
      const { payload, header } = decodeUnverified(t.token);
      const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      const [hd, , sig] = t.token.split('.') as [string, string, string];
      const before = await written();
      const cases: [() => Promise<unknown>, number, string][] = [
        [
          () => scan(encodeSignedJwt(payload, stranger, header.kid as string)),
          status.INVALID_ARGUMENT,
          'TOKEN_FORGED',
        ],
        [
          () => scan(encodeSignedJwt(payload, stranger, 'unknown-kid')),
          status.INVALID_ARGUMENT,
          'TOKEN_FORGED',
        ],
        [
          () =>
            scan(
              `${hd}.${Buffer.from(JSON.stringify({ ...payload, merchants: [] })).toString('base64url')}.${sig}`,
            ),
          status.INVALID_ARGUMENT,
          'TOKEN_FORGED',
        ],
        [
          async () => scan((await backdated(t.token, 600)).token),
          status.FAILED_PRECONDITION,
          'TOKEN_EXPIRED',
        ],
        [() => scan(t.token, { merchantId: 'm-7' }), status.FAILED_PRECONDITION, 'TOKEN_WRONG_MERCHANT'],
      ];
      for (const [call, code, reason] of cases) {
        const err = await grpcError(call());
        expect([err.code, errorCode(err)]).toEqual([code, reason]);
      }
      expect(await written()).toEqual(before);
      expect(await couponStatus(h.pool, c)).toBe('RESERVED');
    });

    it('exactly one of 50 concurrent scans of one token wins', async () => {
      const k = await campaign();
      const c = await seedCoupon(h.pool, k, user);
      const t = await issue(c);
      const results = await Promise.allSettled(Array.from({ length: 50 }, () => scan(t.token)));
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results)
        if (r.status === 'rejected') expect(errorCode(r.reason as never)).toBe('TOKEN_ALREADY_USED');
      expect(await campaignTotals(h.pool, k)).toMatchObject({ redeemed: 1n });
      expect((await eventsOf(h.pool, 'CouponRedeemed')).filter((e) => e.campaignId === k)).toHaveLength(1);
    });

    it('an offline scan submitted later within the grace redeems (offline); after the grace it is refused', async () => {
      const k = await campaign();
      const ok = await seedCoupon(h.pool, k, user);
      // scanned ten minutes ago, shortly before its expiry, while the merchant app was offline
      const early = await backdated((await issue(ok)).token, 600);
      const r = present(
        (await scan(early.token, { scannedAt: new Date(early.exp.getTime() - 5000) })).redemption,
        'redemption',
      );
      expect(r.status).toBe(RedemptionStatus.REDEMPTION_STATUS_CONFIRMED);
      const ev = (await eventsOf(h.pool, 'CouponRedeemed')).filter((e) => e.campaignId === k);
      expect(ev.map((e) => e.offline)).toEqual([true]);

      const late = await seedCoupon(h.pool, k, user);
      const old = await backdated((await issue(late)).token, 2400);
      const err = await grpcError(scan(old.token, { scannedAt: new Date(old.exp.getTime() - 5000) }));
      expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'TOKEN_OFFLINE_TOO_LONG']);
      expect(await couponStatus(h.pool, late)).toBe('RESERVED');
    });

    it('a token asked again while its hold lasts shares the redemption; the hold ends after exp + grace', async () => {
      const c = await seedCoupon(h.pool, await campaign(), user);
      const a = await issue(c);
      const b = await issue(c);
      expect(decodeUnverified(b.token).payload['nonce']).toBe(decodeUnverified(a.token).payload['nonce']);
      const nonce = decodeUnverified(a.token).payload['nonce'] as string;
      await lapseRedemption(h.pool, nonce);
      await h.replica().expireDueRedemptions(100);
      expect(await couponStatus(h.pool, c)).toBe('AVAILABLE');
      const err = await grpcError(scan(a.token));
      expect([err.code, errorCode(err)]).toEqual([status.FAILED_PRECONDITION, 'TOKEN_VOID']);
    });
  });

  it('validates requests, naming the field', async () => {
    const c = randomUUID();
    const t = { operatorId: op, projectId: '', merchantId: '' };
    // thunks: a call made only when its turn comes, so no rejection waits unhandled
    const cases: [() => Promise<unknown>, string][] = [
      [() => checkout.quoteDiscount({ userId: user, basket: basket(1n), couponIds: [] }), 'coupon_ids'],
      [() => checkout.quoteDiscount({ userId: user, basket: basket(1n), couponIds: ['x'] }), 'coupon_ids[0]'],
      [
        () =>
          checkout.quoteDiscount({
            userId: user,
            basket: basket(1n),
            couponIds: Array.from({ length: 11 }, () => randomUUID()),
          }),
        'coupon_ids',
      ],
      [() => checkout.quoteDiscount({ userId: '', basket: basket(1n), couponIds: [c] }), 'user_id'],
      [() => checkout.quoteDiscount({ userId: user, basket: undefined, couponIds: [c] }), 'basket'],
      [
        () => checkout.quoteDiscount({ userId: user, basket: basket(-1n), couponIds: [c] }),
        'basket.total.amount_minor',
      ],
      [
        () =>
          checkout.quoteDiscount({
            userId: user,
            basket: basket(1n, { scenario: 99 as PaymentScenario }),
            couponIds: [c],
          }),
        'basket.scenario',
      ],
      [
        () =>
          checkout.quoteDiscount({
            userId: user,
            basket: basket(1n, { itemCodes: Array.from({ length: 101 }, () => 'i') }),
            couponIds: [c],
          }),
        'basket.item_codes',
      ],
      [
        () =>
          checkout.reserveCoupon({
            requestId: '',
            userId: user,
            couponId: c,
            basket: basket(1n),
            reference: 'p',
            ttlSeconds: 0,
          }),
        'request_id',
      ],
      [
        () =>
          checkout.reserveCoupon({
            requestId: 'r',
            userId: user,
            couponId: c,
            basket: basket(1n),
            reference: '',
            ttlSeconds: 0,
          }),
        'reference',
      ],
      [
        () =>
          checkout.reserveCoupon({
            requestId: 'r',
            userId: user,
            couponId: c,
            basket: basket(1n),
            reference: 'p',
            ttlSeconds: 3601,
          }),
        'ttl_seconds',
      ],
      [
        () => checkout.confirmCouponReservation({ requestId: 'r', tenancy: t, redemptionId: 'nope' }),
        'redemption_id',
      ],
      [() => checkout.cancelCouponReservation({ requestId: '', tenancy: t, redemptionId: c }), 'request_id'],
      [
        () => app.issueRedemptionToken({ tenancy: t, userId: user, couponId: c, ttlSeconds: 29 }),
        'ttl_seconds',
      ],
      [
        () => app.issueRedemptionToken({ tenancy: t, userId: user, couponId: c, ttlSeconds: 301 }),
        'ttl_seconds',
      ],
      [() => app.issueRedemptionToken({ tenancy: t, userId: '', couponId: c, ttlSeconds: 0 }), 'user_id'],
      [
        () =>
          checkout.redeemToken({
            requestId: 'r',
            tenancy: t,
            token: 'x',
            basket: basket(1n),
            scannedAt: undefined,
          }),
        'tenancy.merchant_id',
      ],
      [
        () =>
          checkout.redeemToken({
            requestId: 'r',
            tenancy: { operatorId: op, projectId: 'p-1', merchantId: 'm-1' },
            token: '',
            basket: basket(1n),
            scannedAt: undefined,
          }),
        'token',
      ],
      [
        () =>
          checkout.redeemToken({
            requestId: 'r',
            tenancy: { operatorId: op, projectId: 'p-1', merchantId: 'm-2' },
            token: 'x',
            basket: basket(1n),
            scannedAt: undefined,
          }),
        'basket.tenancy',
      ],
      [
        () =>
          checkout.redeemToken({
            requestId: 'r',
            tenancy: { operatorId: op, projectId: 'p-1', merchantId: 'm-1' },
            token: 'not-a-jws',
            basket: basket(1n),
            scannedAt: undefined,
          }),
        'token',
      ],
    ];
    for (const [call, field] of cases) {
      const err = await grpcError(call());
      expect([field, err.code, errorField(err)]).toEqual([field, status.INVALID_ARGUMENT, field]);
    }
  });
});
