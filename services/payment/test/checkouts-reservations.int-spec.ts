import { randomUUID } from 'node:crypto';
import { uniqueName, waitFor } from '@citybase/platform/testing';
import {
  Checkout,
  CheckoutStatus,
  CreateCheckoutRequest,
  PaymentScenario,
  RefundStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { CouponStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { ReservationStatus } from '@citybase/contracts/citybase/points/v1/points';
import { PaymentEvents } from '@citybase/contracts/events';
import {
  activeCampaign,
  CheckoutHarness,
  issuePoints,
  seedPoints,
  startCheckoutHarness,
} from './checkout-harness';

/**
 * Checkouts whose reservations run out (docs/payment-checkout.md): the reservations are asked for
 * 2 s (PAYMENT_CHECKOUT_RESERVATION_TTL_SECONDS), points' and marketing's expiry jobs run every
 * second, so they run out while the payment is still open. Real points and marketing processes, a
 * real sandbox channel, PostgreSQL and Kafka; payment in-process (stopped by the last case).
 */

const OP = `op-cr-${randomUUID().slice(0, 6)}`;
const PROJECT = 'p-cr';
const MERCHANT = 'm-cr';
const TTL_SECONDS = 2;

describe('payment checkouts: reservations that run out', () => {
  let c: CheckoutHarness;

  beforeAll(async () => {
    c = await startCheckoutHarness(OP, PROJECT, {
      PAYMENT_CHECKOUT_RESERVATION_TTL_SECONDS: String(TTL_SECONDS),
      PAYMENT_CHECKOUT_LEASE_MS: '2000',
    });
    await seedPoints(c, OP);
  }, 240_000);

  afterAll(async () => {
    await c?.stop();
  });

  const tenancy = { operatorId: OP, projectId: '', merchantId: '' };
  const request = (over: Partial<CreateCheckoutRequest>): CreateCheckoutRequest => ({
    requestId: uniqueName('co'),
    tenancy: { operatorId: OP, projectId: PROJECT, merchantId: '' },
    merchantId: MERCHANT,
    scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
    total: { currency: 'CNY', amountMinor: 10_000n },
    itemCodes: [],
    userId: uniqueName('u'),
    pointsHolderId: '',
    couponId: '',
    couponCode: '',
    points: 0n,
    payerRef: 'payer-1',
    description: 'basket',
    expiresInSeconds: 0,
    profitSharing: false,
    ...over,
  });
  const get = async (checkoutId: string) => (await c.app.getCheckout({ checkoutId })).checkout!;
  const reservationStatus = async (reservationId: string) =>
    (await c.pointsAdmin.getReservation({ tenancy, reservationId })).reservation!.status;
  const couponStatus = async (couponId: string) =>
    (await c.marketingAdmin.getCoupon({ tenancy, couponId })).coupon!.status;
  const balance = (holderId: string) => c.pointsAdmin.getBalance({ tenancy, holderId });
  const events = async <K extends 'PaymentSucceeded' | 'CheckoutReleased' | 'CheckoutCompleted'>(
    key: string,
    kind: K,
  ) => {
    const def = PaymentEvents[kind];
    const { rows } = await c.h.pg.query<{ payload: Buffer }>(
      'SELECT payload FROM outbox WHERE partition_key = $1 AND event_type = $2 ORDER BY id',
      [key, def.type],
    );
    return rows.map(
      (r) => def.codec.decode(r.payload) as ReturnType<(typeof PaymentEvents)[K]['codec']['decode']>,
    );
  };

  /** A resident with 5,000 points pays 10,000: a 1,000 coupon, 3,000 points, 6,000 money. */
  const mixed = async (): Promise<{ userId: string; co: Checkout }> => {
    const userId = uniqueName('u');
    await issuePoints(c, OP, userId, 5_000n);
    const code = await activeCampaign(c, OP, 1_000n);
    const co = (await c.app.createCheckout(request({ userId, couponCode: code, points: 3_000n }))).checkout!;
    expect(co.status).toBe(CheckoutStatus.CHECKOUT_STATUS_AWAITING_PAYMENT);
    expect(co.parts).toMatchObject({ money: { amountMinor: 6_000n }, points: 3_000n });
    expect(await reservationStatus(co.pointsReservationId)).toBe(ReservationStatus.RESERVATION_STATUS_HELD);
    expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_RESERVED);
    return { userId, co };
  };

  /** Points and marketing expired both reservations on their own: the points and the coupon are back. */
  const bothRanOut = async (co: Checkout, userId: string) => {
    await waitFor(
      'both reservations expired by points and marketing',
      async () =>
        ((await reservationStatus(co.pointsReservationId)) === ReservationStatus.RESERVATION_STATUS_EXPIRED &&
          (await couponStatus(co.couponId)) === CouponStatus.COUPON_STATUS_AVAILABLE) ||
        undefined,
      30_000,
      200,
    );
    expect(await balance(userId)).toMatchObject({ available: 5_000n, reserved: 0n });
  };

  it('a reservation refused confirmation after the payment succeeded: the money is refunded, the checkout RELEASED', async () => {
    const { userId, co } = await mixed();
    await bothRanOut(co, userId);
    await c.h.sandboxes[0]!.pay(co.paymentId, 'success');
    const done = await waitFor(
      'checkout released',
      async () => {
        const got = await get(co.checkoutId);
        return got.status === CheckoutStatus.CHECKOUT_STATUS_RELEASED ? got : undefined;
      },
      30_000,
      100,
    );
    expect(done.releaseReason).toBe('CONFIRM_REFUSED');
    // the money goes back in full, once, through the payments room's refund path
    const refund = await waitFor(
      'money refunded',
      async () => {
        const { rows } = await c.h.pg.query<{
          refund_id: string;
          request_id: string;
          amount_minor: bigint;
          status: number;
        }>('SELECT refund_id, request_id, amount_minor, status FROM refunds WHERE payment_id = $1', [
          co.paymentId,
        ]);
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
    const payment = (await c.app.getPayment({ paymentId: co.paymentId })).payment!;
    expect(payment.refunded?.amountMinor).toBe(6_000n);
    const released = await events(co.checkoutId, 'CheckoutReleased');
    expect(released).toHaveLength(1);
    expect(released[0]).toMatchObject({ reason: 'CONFIRM_REFUSED', paymentRefundId: refund.refund_id });
    expect(await events(co.checkoutId, 'CheckoutCompleted')).toHaveLength(0);
    // nothing kept: the points and the coupon are back, and stay back
    expect(await reservationStatus(co.pointsReservationId)).toBe(
      ReservationStatus.RESERVATION_STATUS_EXPIRED,
    );
    expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_AVAILABLE);
    expect(await balance(userId)).toMatchObject({ available: 5_000n, reserved: 0n });
    // the money part's PaymentSucceeded names its checkout (settlement escrows it as the checkout's)
    const [succeeded] = await events(co.paymentId, 'PaymentSucceeded');
    expect(succeeded).toMatchObject({ paymentId: co.paymentId, checkoutId: co.checkoutId });
  });

  it('nothing stays held if payment never comes back: points and marketing expire the reservations on their own', async () => {
    const { userId, co } = await mixed();
    // the saga's owner is gone while the payment waits for the channel's answer
    await c.h.svc.stop();
    await bothRanOut(co, userId);
    expect(
      await c.h.pg.query('SELECT status FROM checkouts WHERE checkout_id = $1', [co.checkoutId]),
    ).toMatchObject({
      rows: [{ status: 'AWAITING_PAYMENT' }],
    });
  });
});
