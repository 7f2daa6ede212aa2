import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { uniqueName, waitFor } from '@citybase/platform/testing';
import { Checkout, CheckoutStatus, RefundStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import { CouponStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { ReservationStatus } from '@citybase/contracts/citybase/points/v1/points';
import {
  activeCampaign,
  CheckoutHarness,
  checkoutKit,
  issuePoints,
  seedPoints,
  startCheckoutHarness,
} from './checkout-harness';
import { claimDueCheckouts } from '../src/checkouts/checkouts.store';

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

  const kit = checkoutKit(() => c, { operatorId: OP, projectId: PROJECT, merchantId: MERCHANT });
  const { request, get, balance, events } = kit;
  const reservationStatus = async (reservationId: string) => (await kit.reservation(reservationId)).status;
  const couponStatus = async (couponId: string) => (await kit.coupon(couponId)).status;

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

  it('a saga whose driver hangs mid-step can be taken over by another replica once the configured lease (PAYMENT_CHECKOUT_LEASE_MS 2 s) runs out; it ends once', async () => {
    // a zero-money checkout of 1,000 points, crashed before its points were reserved: due now, unleased
    const userId = uniqueName('u');
    await issuePoints(c, OP, userId, 1_000n);
    const id = randomUUID();
    // points' account of the holder locked: the driver's ReservePoints hangs, its lease held
    const lock = await c.pointsDb.connect();
    try {
      await lock.query('BEGIN');
      const locked = await lock.query(
        'SELECT 1 FROM accounts WHERE operator_id = $1 AND holder_id = $2 FOR UPDATE',
        [OP, userId],
      );
      expect(locked.rowCount).toBe(1);
      const { rows: before } = await c.h.pg.query<{ t0: Date }>('SELECT clock_timestamp() AS t0');
      await c.h.pg.query(
        `INSERT INTO checkouts (checkout_id, operator_id, project_id, merchant_id, scenario, user_id, points_holder_id,
                                currency, total_minor, points, payer_ref, expires_in_seconds, reservation_ttl_seconds,
                                step, expires_at, money_minor, next_attempt_at)
         VALUES ($1, $2, $3, $4, 4, $5, $5, 'CNY', 1000, 1000, 'p', 900, 600, 'RESERVE_POINTS',
                 now() + interval '15 minutes', 1000, now())`,
        [id, OP, PROJECT, MERCHANT, userId],
      );
      type Lease = { lease_until: Date | null; now: Date };
      const lease = async () =>
        (
          await c.h.pg.query<Lease>(
            'SELECT lease_until, clock_timestamp() AS now FROM checkouts WHERE checkout_id = $1',
            [id],
          )
        ).rows[0]!;
      // the job claims it for the configured 2 s, not the default 30 s
      const first = await waitFor(
        'the job claims the saga',
        async () => {
          const l = await lease();
          return l.lease_until ? l : undefined;
        },
        30_000,
        50,
      );
      const firstUntil = first.lease_until!.getTime();
      expect(firstUntil - before[0]!.t0.getTime()).toBeGreaterThanOrEqual(2_000);
      expect(firstUntil - first.now.getTime()).toBeLessThanOrEqual(2_000);
      // the job awaits its hung driver; another replica's job claims the saga as soon as the lease
      // ran out, while the first driver is still in its call (no attempt recorded, nothing failed)
      const replica = new Client({ connectionString: c.h.db.url });
      await replica.connect();
      try {
        const takenOver = await waitFor(
          'another replica takes the saga over after the lease',
          async () => {
            await replica.query('BEGIN');
            try {
              const ids = (await claimDueCheckouts(replica as never, 100, 2_000)).map((r) => r.checkout_id);
              const { rows } = await replica.query<{ attempts: number; last_error: string }>(
                'SELECT attempts, last_error FROM checkouts WHERE checkout_id = $1',
                [id],
              );
              return ids.includes(id) ? rows[0] : undefined;
            } finally {
              await replica.query('COMMIT');
            }
          },
          30_000,
          50,
        );
        expect(takenOver).toEqual({ attempts: 0, last_error: '' });
      } finally {
        await replica.end();
      }
    } finally {
      await lock.query('ROLLBACK').catch(() => undefined);
      lock.release();
    }
    // the hung call goes on once the lock is gone: one reservation, confirmed once, one outcome
    const done = await waitFor(
      'the saga completed',
      async () => {
        const co = await get(id);
        return co.status === CheckoutStatus.CHECKOUT_STATUS_COMPLETED ? co : undefined;
      },
      60_000,
      100,
    );
    expect(await reservationStatus(done.pointsReservationId)).toBe(
      ReservationStatus.RESERVATION_STATUS_CONFIRMED,
    );
    expect(await events(id, 'CheckoutCompleted')).toHaveLength(1);
    expect(await balance(userId)).toMatchObject({ available: 0n, reserved: 0n });
    const { rows } = await c.pointsDb.query('SELECT 1 FROM reservations WHERE reference = $1', [id]);
    expect(rows).toHaveLength(1);
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
