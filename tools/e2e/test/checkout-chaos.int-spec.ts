import {
  Checkout,
  CheckoutStatus,
  CreateCheckoutRequest,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { CouponStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { ReservationStatus } from '@citybase/contracts/citybase/points/v1/points';
import { waitFor } from '@citybase/platform/testing';
import { CheckoutCity } from '../src';

/**
 * Checkouts under crashes, all services as processes (payment, points, marketing, sandbox channel):
 * payment is SIGKILLed (CITYBASE_CRASH_AT, a test-only hook that kills the process at a saga point)
 * after the coupon is reserved, after the points are reserved, after the channel order is opened,
 * and after the payment's success is recorded; points and marketing are SIGKILLed while the saga
 * confirms. After the restart (the client retrying with the same request id, the recovery job
 * picking up what no one drives), every checkout ends COMPLETED with all three parts kept (points
 * reservation confirmed, coupon redeemed, payment paid) or RELEASED with none kept (points
 * reservation cancelled, coupon available, the user's points all there): no double spend.
 */
describe('checkout: SIGKILL at each saga step and of points and marketing during confirm', () => {
  const city = new CheckoutCity('cochaos', { settlement: false });
  beforeAll(() => city.setUp(), 300_000);
  afterAll(() => city.tearDown());

  /** Waits until the process is gone (it killed itself at the crash point). */
  const died = (name: string) =>
    waitFor(
      `${name} died`,
      async () =>
        city.procs.get(name)!.proc.proc.exitCode !== null ||
        city.procs.get(name)!.proc.proc.signalCode !== null ||
        undefined,
      60_000,
      100,
    );

  /** The client retries with the same request id until payment answers. */
  const createUntilAnswered = (req: CreateCheckoutRequest) =>
    waitFor(
      'CreateCheckout answered',
      async () => {
        try {
          return (await city.app.createCheckout(req)).checkout;
        } catch {
          return undefined;
        }
      },
      120_000,
      500,
    );

  /** All three kept, or none; and nothing of the user's points or coupons spent twice. */
  const allOrNone = async (co: Checkout, userId: string) => {
    const { tenancy } = city;
    const balance = await city.pointsAdmin.getBalance({ tenancy, holderId: userId });
    const { rows } = await city.pointsDb.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM reservations WHERE reference = $1 AND status IN (1, 2)`,
      [co.checkoutId],
    );
    const coupons = await city.marketingAdmin.listCoupons({
      tenancy,
      userId,
      includeUsed: true,
      page: undefined,
    });
    if (co.status === CheckoutStatus.CHECKOUT_STATUS_COMPLETED) {
      const res = await city.pointsAdmin.getReservation({ tenancy, reservationId: co.pointsReservationId });
      expect(res.reservation!.status).toBe(ReservationStatus.RESERVATION_STATUS_CONFIRMED);
      expect(balance.available).toBe(2_000n);
      expect(balance.reserved).toBe(0n);
      expect(coupons.coupons.map((c) => c.status)).toEqual([CouponStatus.COUPON_STATUS_REDEEMED]);
      expect(rows[0]!.n).toBe(1);
      expect((await city.app.getPayment({ paymentId: co.paymentId })).payment!.status).toBe(3);
    } else {
      expect(balance.available).toBe(5_000n);
      expect(balance.reserved).toBe(0n);
      expect(coupons.coupons.every((c) => c.status !== CouponStatus.COUPON_STATUS_REDEEMED)).toBe(true);
      expect(rows[0]!.n).toBe(0);
    }
  };

  it.each(['after_coupon_reserved', 'after_points_reserved', 'after_channel_order'])(
    'payment killed %s: after the restart the checkout ends all or nothing',
    async (point) => {
      await city.procs.get('payment')!.proc.stop('SIGKILL');
      await city.start('payment', city.defaultEnv('payment', point));
      const { userId, request } = await city.scenario();
      await city.app.createCheckout(request).catch(() => undefined);
      await died('payment');
      await city.start('payment');
      const co = await createUntilAnswered(request);
      // the payer pays once the payment is open (the recovery job opens it if the crash came first)
      const open = await waitFor(
        'payment open',
        async () => {
          const c = (await city.app.getCheckout({ checkoutId: co!.checkoutId })).checkout!;
          return c.status === CheckoutStatus.CHECKOUT_STATUS_AWAITING_PAYMENT && c.paymentId !== ''
            ? c
            : undefined;
        },
        120_000,
        300,
      );
      await city.sandbox.pay(open.paymentId, 'success');
      const done = await city.final(co!.checkoutId);
      expect(done.status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
      await allOrNone(done, userId);
    },
    300_000,
  );

  it('payment killed after the success notification: confirmed after the restart', async () => {
    await city.procs.get('payment')!.proc.stop('SIGKILL');
    await city.start('payment', city.defaultEnv('payment', 'after_payment_succeeded'));
    const { userId, request } = await city.scenario();
    const co = (await city.app.createCheckout(request)).checkout!;
    await city.sandbox.pay(co.paymentId, 'success');
    await died('payment');
    await city.start('payment');
    const done = await city.final(co.checkoutId);
    expect(done.status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
    await allOrNone(done, userId);
  }, 300_000);

  it.each(['points', 'marketing'])(
    '%s killed while the saga confirms: confirmed once it is back',
    async (name) => {
      const { userId, request } = await city.scenario();
      const co = (await city.app.createCheckout(request)).checkout!;
      await city.procs.get(name)!.proc.stop('SIGKILL');
      await city.sandbox.pay(co.paymentId, 'success');
      // the saga retries the confirmation it cannot make while the service is down
      await waitFor(
        'confirm retried',
        async () => {
          const c = (await city.app.getCheckout({ checkoutId: co.checkoutId })).checkout!;
          return c.status === CheckoutStatus.CHECKOUT_STATUS_AWAITING_PAYMENT || undefined;
        },
        30_000,
        200,
      );
      await new Promise((r) => setTimeout(r, 2_000));
      await city.start(name);
      const done = await city.final(co.checkoutId);
      expect(done.status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
      await allOrNone(done, userId);
    },
    300_000,
  );
});
