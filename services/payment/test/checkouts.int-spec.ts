import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Client } from 'pg';
import { uniqueName, waitFor } from '@citybase/platform/testing';
import {
  Checkout,
  CheckoutRefundStatus,
  CheckoutStatus,
  PaymentServiceService,
  PaymentStatus,
  RefundStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { CouponStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { ReservationStatus } from '@citybase/contracts/citybase/points/v1/points';
import { claimDueCheckouts } from '../src/checkouts/checkouts.store';
import {
  activeCampaign,
  CheckoutHarness,
  checkoutKit,
  issuePoints,
  seedPoints,
  startCheckoutHarness,
} from './checkout-harness';
import { errorCode, errorField, grpcError, status } from './intents-harness';

/**
 * Checkouts against real points and marketing processes, a real sandbox channel, PostgreSQL and
 * Kafka; payment in-process. Each case checks what the three services hold afterwards: all three
 * parts kept (COMPLETED) or none (RELEASED).
 */

const OP = `op-co-${randomUUID().slice(0, 6)}`;
const PROJECT = 'p-co';
const MERCHANT = 'm-co';
const { CHECKOUT_STATUS_COMPLETED: COMPLETED, CHECKOUT_STATUS_RELEASED: RELEASED } = CheckoutStatus;
const { CHECKOUT_STATUS_AWAITING_PAYMENT: AWAITING } = CheckoutStatus;

describe('payment checkouts: money + points + coupon in one saga', () => {
  let c: CheckoutHarness;

  beforeAll(async () => {
    c = await startCheckoutHarness(OP, PROJECT);
    await seedPoints(c, OP);
  }, 240_000);

  afterAll(async () => {
    // CHECKOUT_TEST_LOG=<file>: what payment logged, for a failure's cause
    if (process.env.CHECKOUT_TEST_LOG && c) {
      writeFileSync(process.env.CHECKOUT_TEST_LOG, c.h.svc.output());
    }
    await c?.stop();
  });

  const {
    request,
    create,
    get,
    until,
    reservation,
    coupon,
    balance,
    events: checkoutEvents,
    pay,
  } = checkoutKit(() => c, { operatorId: OP, projectId: PROJECT, merchantId: MERCHANT });

  /** A user with `points` points and a claimed coupon code of `offMinor` off. */
  const resident = async (points: bigint) => {
    const userId = uniqueName('u');
    if (points > 0n) await issuePoints(c, OP, userId, points);
    return userId;
  };

  it('full money: opens the payment, completes once paid', async () => {
    const co = await create(request());
    expect(co.status).toBe(AWAITING);
    expect(co.payUrl).not.toBe('');
    expect(co.parts).toMatchObject({
      money: { amountMinor: 10_000n },
      points: 0n,
      discount: { amountMinor: 0n },
    });
    await pay(co.paymentId, 'success');
    const done = await until(co.checkoutId, COMPLETED);
    expect(done.completedAt).toBeDefined();
    const [ev] = await checkoutEvents(co.checkoutId, 'CheckoutCompleted');
    expect(ev).toMatchObject({ checkoutId: co.checkoutId, paymentId: co.paymentId });
    expect(ev!.parts!.money!.amountMinor).toBe(10_000n);
  });

  it('waiting for the payment writes the checkout once (no drive round after round while the payment is open)', async () => {
    // The request path used to rewrite a waiting checkout on every round (moving its version, so
    // the drive went round again) until its step limit; ended there right after the payment's
    // success, it left the confirmation to the recovery job PAYMENT_CHECKOUT_LEASE_MS later.
    const co = await create(request());
    expect(co.status).toBe(AWAITING);
    const row = await c.h.pool.query<{ version: number; next_attempt_at: Date | null }>(
      'SELECT version, next_attempt_at FROM checkouts WHERE checkout_id = $1',
      [co.checkoutId],
    );
    // inserted at version 1; the payment inserted (OPEN_PAYMENT), then AWAIT_PAYMENT: two writes
    // (it was 12: the drive went round until its step limit)
    expect(row.rows[0]).toEqual({ version: 3, next_attempt_at: null });
    await pay(co.paymentId, 'success');
    await until(co.checkoutId, COMPLETED);
  });

  it('money + points: points reserved then confirmed with the payment', async () => {
    const userId = await resident(3_000n);
    const co = await create(request({ userId, points: 2_000n }));
    expect(co.parts).toMatchObject({
      points: 2_000n,
      pointsValue: { amountMinor: 2_000n },
      money: { amountMinor: 8_000n },
    });
    expect((await reservation(co.pointsReservationId)).status).toBe(
      ReservationStatus.RESERVATION_STATUS_HELD,
    );
    await pay(co.paymentId, 'success');
    await until(co.checkoutId, COMPLETED);
    expect((await reservation(co.pointsReservationId)).status).toBe(
      ReservationStatus.RESERVATION_STATUS_CONFIRMED,
    );
    expect((await balance(userId)).available).toBe(1_000n);
  });

  it('money + coupon: the code is claimed, reserved and redeemed with the payment', async () => {
    const code = await activeCampaign(c, OP, 1_500n);
    const co = await create(request({ couponCode: code }));
    expect(co.couponId).not.toBe('');
    expect(co.parts).toMatchObject({ discount: { amountMinor: 1_500n }, money: { amountMinor: 8_500n } });
    expect((await coupon(co.couponId)).status).toBe(CouponStatus.COUPON_STATUS_RESERVED);
    await pay(co.paymentId, 'success');
    await until(co.checkoutId, COMPLETED);
    expect((await coupon(co.couponId)).status).toBe(CouponStatus.COUPON_STATUS_REDEEMED);
    const redemptions = await c.marketingDb.query<{ status: string }>(
      'SELECT status FROM redemptions WHERE redemption_id = $1',
      [co.couponRedemptionId],
    );
    expect(redemptions.rows.map((r) => r.status)).toEqual(['CONFIRMED']);
  });

  it('points + coupon covering everything: no payment, completed at once', async () => {
    const userId = await resident(9_000n);
    const code = await activeCampaign(c, OP, 1_000n);
    const co = await create(request({ userId, couponCode: code, points: 9_000n }));
    expect(co.status).toBe(COMPLETED);
    expect(co.paymentId).toBe('');
    expect(co.parts).toMatchObject({
      money: { amountMinor: 0n },
      discount: { amountMinor: 1_000n },
      points: 9_000n,
    });
    expect((await reservation(co.pointsReservationId)).status).toBe(
      ReservationStatus.RESERVATION_STATUS_CONFIRMED,
    );
    expect((await coupon(co.couponId)).status).toBe(CouponStatus.COUPON_STATUS_REDEEMED);
    expect(await checkoutEvents(co.checkoutId, 'CheckoutCompleted')).toHaveLength(1);
  });

  it('refuses points worth more than what the coupon leaves (INVALID_ARGUMENT points), holding nothing', async () => {
    const userId = await resident(20_000n);
    const code = await activeCampaign(c, OP, 1_000n);
    const req = request({ userId, couponCode: code, points: 9_500n });
    const err = await grpcError(c.app.createCheckout(req));
    expect([err.code, errorField(err)]).toEqual([status.INVALID_ARGUMENT, 'points']);
    // a retry answers the same
    const again = await grpcError(c.app.createCheckout(req));
    expect([again.code, errorCode(again)]).toEqual([status.INVALID_ARGUMENT, errorCode(err)]);
    expect((await balance(userId)).available).toBe(20_000n);
    const { rows } = await c.h.pg.query<{ coupon_id: string; status: string }>(
      'SELECT coupon_id, status FROM checkouts WHERE user_id = $1',
      [userId],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe('RELEASED');
    expect((await coupon(rows[0]!.coupon_id)).status).toBe(CouponStatus.COUPON_STATUS_AVAILABLE);
  });

  it('validates a request naming the field and the rule', async () => {
    const err = await grpcError(
      c.app.createCheckout(request({ total: { currency: 'CNY', amountMinor: 0n } })),
    );
    expect([err.code, errorField(err)]).toEqual([status.INVALID_ARGUMENT, 'total.amount_minor']);
    const err2 = await grpcError(c.app.createCheckout(request({ couponId: 'x', couponCode: 'y' })));
    expect([err2.code, errorField(err2)]).toEqual([status.INVALID_ARGUMENT, 'coupon_code']);
  });

  const mixed = async () => {
    const userId = await resident(5_000n);
    const code = await activeCampaign(c, OP, 1_000n);
    const co = await create(request({ userId, couponCode: code, points: 3_000n }));
    expect(co.parts).toMatchObject({ money: { amountMinor: 6_000n } });
    return { userId, co };
  };

  const releasedNothingHeld = async (co: Checkout, userId: string) => {
    expect((await reservation(co.pointsReservationId)).status).toBe(
      ReservationStatus.RESERVATION_STATUS_CANCELLED,
    );
    expect((await coupon(co.couponId)).status).toBe(CouponStatus.COUPON_STATUS_AVAILABLE);
    expect((await balance(userId)).available).toBe(5_000n);
    expect(await checkoutEvents(co.checkoutId, 'CheckoutReleased')).toHaveLength(1);
    expect(await checkoutEvents(co.checkoutId, 'CheckoutCompleted')).toHaveLength(0);
  };

  it('payment failure releases both the points and the coupon', async () => {
    const { userId, co } = await mixed();
    await pay(co.paymentId, 'fail');
    const done = await until(co.checkoutId, RELEASED);
    expect(done.releaseReason).toBe('PAYMENT_FAILED');
    await releasedNothingHeld(co, userId);
  });

  it('expiry releases both (the payment closed at the channel first)', async () => {
    const { userId, co } = await mixed();
    // time passes: the payment's and the checkout's expiry are now
    await c.h.pg.query(`UPDATE payments SET expires_at = now() - interval '1 second' WHERE payment_id = $1`, [
      co.paymentId,
    ]);
    await c.h.pg.query(
      `UPDATE checkouts SET expires_at = now() - interval '1 second' WHERE checkout_id = $1`,
      [co.checkoutId],
    );
    const done = await until(co.checkoutId, RELEASED);
    expect(done.releaseReason).toBe('EXPIRED');
    await releasedNothingHeld(co, userId);
    // the payer can no longer pay
    const payment = (await c.app.getPayment({ paymentId: co.paymentId })).payment!;
    expect(payment.status).toBe(PaymentStatus.PAYMENT_STATUS_EXPIRED);
  });

  it('cancel closes the open payment and releases both', async () => {
    const { userId, co } = await mixed();
    const req = { requestId: uniqueName('cancel'), checkoutId: co.checkoutId };
    await c.app.cancelCheckout(req);
    const done = await until(co.checkoutId, RELEASED);
    expect(done.releaseReason).toBe('CANCELLED');
    await releasedNothingHeld(co, userId);
    // a retry answers the checkout as it is now
    expect((await c.app.cancelCheckout(req)).checkout!.status).toBe(RELEASED);
  });

  it('the points refused confirmation after the coupon was confirmed: the money refunded, the coupon given back (CONFIRM_REFUSED)', async () => {
    const { userId, co } = await mixed();
    // an operator cancels the points reservation before the payer pays: the coupon (confirmed
    // first) is redeemed, then the points are refused confirmation
    await c.pointsAdmin.cancelReservation({
      requestId: uniqueName('cancel-points'),
      tenancy: { operatorId: OP, projectId: '', merchantId: '' },
      reservationId: co.pointsReservationId,
    });
    await pay(co.paymentId, 'success');
    const done = await until(co.checkoutId, RELEASED);
    expect(done.releaseReason).toBe('CONFIRM_REFUSED');
    const { rows: saga } = await c.h.pg.query<{ coupon_confirmed: boolean; points_confirmed: boolean }>(
      'SELECT coupon_confirmed, points_confirmed FROM checkouts WHERE checkout_id = $1',
      [co.checkoutId],
    );
    expect(saga).toEqual([{ coupon_confirmed: true, points_confirmed: false }]);
    // the money back, once
    const refund = await waitFor(
      'money refunded',
      async () => {
        const { rows } = await c.h.pg.query<{ request_id: string; amount_minor: bigint; status: number }>(
          'SELECT request_id, amount_minor, status FROM refunds WHERE payment_id = $1',
          [co.paymentId],
        );
        return rows.length === 1 && rows[0]!.status === RefundStatus.REFUND_STATUS_SUCCEEDED
          ? rows[0]
          : undefined;
      },
      30_000,
      100,
    );
    expect(refund).toMatchObject({
      request_id: `${co.checkoutId}:refund-on-confirm-failure`,
      amount_minor: 6_000n,
    });
    // marketing gives the redeemed coupon back on CheckoutReleased: usable again, the campaign's count restored
    await waitFor(
      'coupon given back',
      async () => (await coupon(co.couponId)).status === CouponStatus.COUPON_STATUS_AVAILABLE || undefined,
      30_000,
      100,
    );
    const { rows: redemption } = await c.marketingDb.query<{ status: string; redeemed: string }>(
      `SELECT r.status, k.redeemed::text AS redeemed FROM redemptions r JOIN campaigns k USING (campaign_id)
        WHERE r.redemption_id = $1`,
      [co.couponRedemptionId],
    );
    expect(redemption).toEqual([{ status: 'ROLLED_BACK', redeemed: '0' }]);
    expect((await reservation(co.pointsReservationId)).status).toBe(
      ReservationStatus.RESERVATION_STATUS_CANCELLED,
    );
    expect((await balance(userId)).available).toBe(5_000n);
    const released = await checkoutEvents(co.checkoutId, 'CheckoutReleased');
    expect(released).toHaveLength(1);
    expect(released[0]).toMatchObject({
      reason: 'CONFIRM_REFUSED',
      couponRedemptionId: co.couponRedemptionId,
      paymentRefundId: expect.any(String),
    });
    expect(await checkoutEvents(co.checkoutId, 'CheckoutCompleted')).toHaveLength(0);
  });

  it('partial then full refund: parts back in proportion, the coupon restored by the last', async () => {
    const { co } = await mixed();
    await pay(co.paymentId, 'success');
    await until(co.checkoutId, COMPLETED);
    // T 10000, D 1000, P 3000, M 6000; refund 5000: share 4500, points 1500, money 3000, discount 500
    const first = await c.app.refundCheckout({
      requestId: uniqueName('rf'),
      checkoutId: co.checkoutId,
      amount: { currency: 'CNY', amountMinor: 5_000n },
      reason: 'one item returned',
    });
    expect(first.refund!.parts).toMatchObject({
      discount: { amountMinor: 500n },
      points: 1_500n,
      money: { amountMinor: 3_000n },
    });
    expect(first.refund!.couponRestored).toBe(false);
    await waitFor(
      'first refund event',
      async () => (await checkoutEvents(co.checkoutId, 'CheckoutRefunded')).length === 1 || undefined,
      60_000,
      100,
    );
    const over = await grpcError(
      c.app.refundCheckout({
        requestId: uniqueName('rf'),
        checkoutId: co.checkoutId,
        amount: { currency: 'CNY', amountMinor: 5_001n },
        reason: 'too much',
      }),
    );
    expect([over.code, errorField(over)]).toEqual([status.INVALID_ARGUMENT, 'amount.amount_minor']);
    const lastReq = {
      requestId: uniqueName('rf'),
      checkoutId: co.checkoutId,
      amount: { currency: 'CNY', amountMinor: 5_000n },
      reason: 'the rest',
    };
    const last = await c.app.refundCheckout(lastReq);
    expect(last.refund!.couponRestored).toBe(true);
    expect(last.refund!.parts).toMatchObject({
      discount: { amountMinor: 500n },
      points: 1_500n,
      money: { amountMinor: 3_000n },
    });
    const events = await waitFor(
      'both refund events',
      async () => {
        const evs = await checkoutEvents(co.checkoutId, 'CheckoutRefunded');
        return evs.length === 2 ? evs : undefined;
      },
      60_000,
      100,
    );
    expect(events[1]!.refundedTotal).toMatchObject({
      total: { amountMinor: 10_000n },
      points: 3_000n,
      money: { amountMinor: 6_000n },
    });
    expect(events[1]!.couponRestored).toBe(true);
    // a retry answers the same refund and refunds nothing more
    const retry = await c.app.refundCheckout(lastReq);
    expect(retry.refund!.checkoutRefundId).toBe(last.refund!.checkoutRefundId);
    const final = await get(co.checkoutId);
    expect(final.refunded!.total!.amountMinor).toBe(10_000n);
    expect((await c.app.getPayment({ paymentId: co.paymentId })).payment!.refunded!.amountMinor).toBe(6_000n);
    expect(
      last.refund!.status === CheckoutRefundStatus.CHECKOUT_REFUND_STATUS_SUCCEEDED ||
        final.refunded!.money!.amountMinor === 6_000n,
    ).toBe(true);
  });

  it('is idempotent: a retry answers the same checkout; the id with another request is refused', async () => {
    const userId = await resident(1_000n);
    const req = request({ userId, points: 1_000n });
    const [a, b] = await Promise.all(
      [c.app.createCheckout(req), c.app.createCheckout(req)].map((p) => p.catch((e: Error) => e)),
    );
    const ok = [a, b].filter((x) => !(x instanceof Error)) as { checkout?: Checkout }[];
    expect(ok.length).toBeGreaterThanOrEqual(1);
    const first = await create(req);
    for (const o of ok) expect(o.checkout!.checkoutId).toBe(first.checkoutId);
    const { rows } = await c.h.pg.query('SELECT 1 FROM checkouts WHERE user_id = $1', [userId]);
    expect(rows).toHaveLength(1);
    expect((await balance(userId)).available).toBe(0n);
    const err = await grpcError(c.app.createCheckout({ ...req, points: 999n }));
    expect(err.code).toBe(status.ALREADY_EXISTS);
  });

  it('two replicas recovering the same crashed sagas: each is driven once, to one outcome', async () => {
    // sagas whose driver died right after its commit: due now, nobody holding them
    const users: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const userId = await resident(1_000n);
      users.push(userId);
      const id = randomUUID();
      ids.push(id);
      await c.h.pg.query(
        `INSERT INTO checkouts (checkout_id, operator_id, project_id, merchant_id, scenario, user_id, points_holder_id,
                                currency, total_minor, points, payer_ref, expires_in_seconds, reservation_ttl_seconds,
                                step, expires_at, money_minor, lease_until, next_attempt_at)
         VALUES ($1, $2, $3, $4, 4, $5, $5, 'CNY', 1000, 1000, 'p', 900, 1500, 'RESERVE_POINTS',
                 now() + interval '15 minutes', 1000, now() + interval '1 hour', now())`,
        [id, OP, PROJECT, MERCHANT, userId],
      );
    }
    // two replicas claim at once: disjoint sets (FOR UPDATE SKIP LOCKED + lease)
    await c.h.pg.query('UPDATE checkouts SET lease_until = NULL WHERE checkout_id = ANY($1::uuid[])', [ids]);
    const a = new Client({ connectionString: c.h.db.url });
    const b = new Client({ connectionString: c.h.db.url });
    await a.connect();
    await b.connect();
    try {
      await a.query('BEGIN');
      await b.query('BEGIN');
      const [ca, cb] = await Promise.all([
        claimDueCheckouts(a as never, 100, 30_000),
        claimDueCheckouts(b as never, 100, 30_000),
      ]);
      await a.query('COMMIT');
      await b.query('COMMIT');
      const mine = [...ca, ...cb].map((r) => r.checkout_id).filter((x) => ids.includes(x));
      expect(new Set(mine).size).toBe(mine.length);
    } finally {
      await a.end();
      await b.end();
    }
    // the leases run out: the job drives them (as if both replicas had died)
    await c.h.pg.query('UPDATE checkouts SET lease_until = NULL WHERE checkout_id = ANY($1::uuid[])', [ids]);
    for (const id of ids) {
      await until(id, COMPLETED);
      const co = await get(id);
      expect(co.paymentId).toBe('');
      expect((await reservation(co.pointsReservationId)).status).toBe(
        ReservationStatus.RESERVATION_STATUS_CONFIRMED,
      );
      expect(await checkoutEvents(id, 'CheckoutCompleted')).toHaveLength(1);
    }
    for (const u of users) expect((await balance(u)).available).toBe(0n);
  });

  it('answers another tenant like a missing checkout', async () => {
    const co = await create(request());
    const other = c.h.client(PaymentServiceService, () =>
      c.issuer.metadata({ scopes: ['payment:read'], operators: ['someone-else'] }),
    );
    const err = await grpcError(other.getCheckout({ checkoutId: co.checkoutId }));
    expect(err.code).toBe(status.NOT_FOUND);
  });

  it('fund flows show the coupon and points parts next to the money', async () => {
    const day = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
    const res = await c.app.queryFundFlows({
      operatorId: OP,
      projectId: '',
      channelId: '',
      scenario: 0,
      fromDay: day,
      toDay: day,
      groupBy: [],
    });
    const { rows } = await c.h.pg.query<{ n: bigint; discount: bigint; pv: bigint; points: bigint }>(
      `SELECT count(*)::bigint AS n, sum(discount_minor)::bigint AS discount,
              sum(points_value_minor)::bigint AS pv, sum(points)::bigint AS points
         FROM checkouts WHERE operator_id = $1 AND status = 'COMPLETED'`,
      [OP],
    );
    const refunded = await c.h.pg.query<{ discount: bigint; points: bigint }>(
      `SELECT sum(cr.discount_minor)::bigint AS discount, sum(cr.points)::bigint AS points
         FROM checkout_refunds cr JOIN checkouts c USING (checkout_id)
        WHERE c.operator_id = $1 AND cr.status = 'SUCCEEDED'`,
      [OP],
    );
    expect(rows[0]!.n).toBeGreaterThan(5n);
    expect(res.total).toMatchObject({
      checkouts: rows[0]!.n,
      discountMinor: rows[0]!.discount,
      pointsValueMinor: rows[0]!.pv,
      points: rows[0]!.points,
      refundedDiscountMinor: refunded.rows[0]!.discount,
      refundedPoints: refunded.rows[0]!.points,
    });
    expect(res.total!.refundedPoints).toBe(3_000n);
  });
});
