import { randomUUID } from 'node:crypto';
import { CouponStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { CheckoutStatus, CreateCheckoutRequest } from '@citybase/contracts/citybase/payment/v1/payment';
import { ReservationStatus } from '@citybase/contracts/citybase/points/v1/points';
import { waitFor } from '@citybase/platform/testing';
import { CheckoutCity } from '../src';

/**
 * Checkouts end to end with every piece a process: payment (the saga), points, marketing, settlement
 * (consuming payment's events on the same Kafka namespace) and the sandbox channel (CheckoutCity).
 * Each case checks what points and marketing hold afterwards (all three parts kept, or none) and runs
 * settlement's ledger check (services/settlement/dist/admin.js check-ledger): it passes after each.
 */
describe('checkout flow: payment, points, marketing, settlement and the sandbox channel as processes', () => {
  const city = new CheckoutCity('coflow', { settlement: true });
  beforeAll(() => city.setUp(), 300_000);
  afterAll(() => city.tearDown());

  const { tenancy } = city;
  const reservationStatus = async (id: string) =>
    (await city.pointsAdmin.getReservation({ tenancy, reservationId: id })).reservation!.status;
  const couponStatus = async (id: string) =>
    (await city.marketingAdmin.getCoupon({ tenancy, couponId: id })).coupon!.status;
  const available = async (userId: string) =>
    (await city.pointsAdmin.getBalance({ tenancy, holderId: userId })).available;

  /** Settlement's ledger check over its database: no violation. */
  const ledgerCheckPasses = async () => {
    // settlement has consumed what payment published so far
    await new Promise((r) => setTimeout(r, 1_500));
    const { status, violations } = city.ledgerViolations();
    expect(violations).toEqual([]);
    expect(status).toBe(0);
  };

  const create = async (over: Partial<CreateCheckoutRequest>) => {
    const { userId, request } = await city.scenario();
    const co = (await city.app.createCheckout({ ...request, ...over })).checkout!;
    return { userId, co };
  };

  it('full money', async () => {
    const { co } = await create({ couponCode: '', points: 0n });
    expect(co.parts!.money!.amountMinor).toBe(10_000n);
    await city.sandbox.pay(co.paymentId, 'success');
    expect((await city.final(co.checkoutId)).status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
    await ledgerCheckPasses();
  });

  it('money + points', async () => {
    const { userId, co } = await create({ couponCode: '' });
    expect(co.parts!.money!.amountMinor).toBe(7_000n);
    await city.sandbox.pay(co.paymentId, 'success');
    expect((await city.final(co.checkoutId)).status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
    expect(await reservationStatus(co.pointsReservationId)).toBe(
      ReservationStatus.RESERVATION_STATUS_CONFIRMED,
    );
    expect(await available(userId)).toBe(2_000n);
    await ledgerCheckPasses();
  });

  it('money + coupon', async () => {
    const { co } = await create({ points: 0n });
    expect(co.parts!.money!.amountMinor).toBe(9_000n);
    await city.sandbox.pay(co.paymentId, 'success');
    expect((await city.final(co.checkoutId)).status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
    expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_REDEEMED);
    await ledgerCheckPasses();
  });

  it('points + coupon covering everything (zero money)', async () => {
    const { userId, co } = await create({ total: { currency: 'CNY', amountMinor: 4_000n } });
    expect(co.status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
    expect(co.paymentId).toBe('');
    expect(await reservationStatus(co.pointsReservationId)).toBe(
      ReservationStatus.RESERVATION_STATUS_CONFIRMED,
    );
    expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_REDEEMED);
    expect(await available(userId)).toBe(2_000n);
    await ledgerCheckPasses();
  });

  it('payment failure releases both', async () => {
    const { userId, co } = await create({});
    await city.sandbox.pay(co.paymentId, 'fail');
    const done = await city.final(co.checkoutId);
    expect([done.status, done.releaseReason]).toEqual([
      CheckoutStatus.CHECKOUT_STATUS_RELEASED,
      'PAYMENT_FAILED',
    ]);
    expect(await reservationStatus(co.pointsReservationId)).toBe(
      ReservationStatus.RESERVATION_STATUS_CANCELLED,
    );
    expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_AVAILABLE);
    expect(await available(userId)).toBe(5_000n);
    await ledgerCheckPasses();
  });

  it('expiry releases both', async () => {
    const { userId, co } = await create({ expiresInSeconds: 60 });
    // nobody pays: the channel-poll job closes the order at its expiry, the saga releases both
    const done = await city.final(co.checkoutId);
    expect([done.status, done.releaseReason]).toEqual([CheckoutStatus.CHECKOUT_STATUS_RELEASED, 'EXPIRED']);
    expect(await reservationStatus(co.pointsReservationId)).toBe(
      ReservationStatus.RESERVATION_STATUS_CANCELLED,
    );
    expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_AVAILABLE);
    expect(await available(userId)).toBe(5_000n);
    await ledgerCheckPasses();
  }, 180_000);

  it('partial refund, then full refund', async () => {
    const { co } = await create({});
    await city.sandbox.pay(co.paymentId, 'success');
    await city.final(co.checkoutId);
    const partial = await city.app.refundCheckout({
      requestId: randomUUID(),
      checkoutId: co.checkoutId,
      amount: { currency: 'CNY', amountMinor: 4_000n },
      reason: 'part returned',
    });
    // share 4000 x 9000 / 10000 = 3600; points floor(3600 x 3000 / 9000) = 1200; money 2400; discount 400
    expect(partial.refund!.parts).toMatchObject({
      points: 1_200n,
      money: { amountMinor: 2_400n },
      discount: { amountMinor: 400n },
    });
    await ledgerCheckPasses();
    const rest = await city.app.refundCheckout({
      requestId: randomUUID(),
      checkoutId: co.checkoutId,
      amount: { currency: 'CNY', amountMinor: 6_000n },
      reason: 'the rest',
    });
    expect(rest.refund!.couponRestored).toBe(true);
    expect(rest.refund!.parts).toMatchObject({
      points: 1_800n,
      money: { amountMinor: 3_600n },
      discount: { amountMinor: 600n },
    });
    const refunded = await waitFor(
      'money refunded',
      async () => {
        const c = (await city.app.getCheckout({ checkoutId: co.checkoutId })).checkout!;
        return c.refunded!.total!.amountMinor === 10_000n ? c : undefined;
      },
      60_000,
      300,
    );
    expect(refunded.refunded!.money!.amountMinor).toBe(6_000n);
    await ledgerCheckPasses();
  });
});
