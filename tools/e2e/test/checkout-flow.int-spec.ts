import { randomUUID } from 'node:crypto';
import {
  ChargingPaymentState,
  ChargingServiceService,
  ChargingSession,
} from '@citybase/contracts/citybase/iot/v1/charging';
import { DeviceKind, IotServiceService } from '@citybase/contracts/citybase/iot/v1/iot';
import { CouponStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { CheckoutStatus, CreateCheckoutRequest } from '@citybase/contracts/citybase/payment/v1/payment';
import { ReservationStatus } from '@citybase/contracts/citybase/points/v1/points';
import { ServiceError, status } from '@grpc/grpc-js';
import {
  errorCode,
  grpcClient,
  grpcError,
  PromiseClient,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { chargerMessage, DeviceCredentials, SimCharger, SimDevice } from '@citybase/device-sim';
import { CheckoutCity } from '../src';

/**
 * Checkouts end to end with every piece a process: payment (the saga), points, marketing, settlement
 * (consuming payment's events on the same Kafka namespace) and the sandbox channel (CheckoutCity).
 * Each case checks what points and marketing hold afterwards (all three parts kept, or none) and runs
 * settlement's ledger check (services/settlement/dist/admin.js check-ledger): it passes after each.
 * iot runs too: an EV charger (a simulated device over MQTT) whose sessions the charging app pays
 * with points and a coupon through iot's PayChargingSession, which bills them through the checkout.
 */
describe('checkout flow: payment, points, marketing, settlement and the sandbox channel as processes', () => {
  const city = new CheckoutCity('coflow', { settlement: true, iot: true });
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

  describe('EV charging paid through iot (PayChargingSession > CreateCheckout)', () => {
    let charging: PromiseClient<typeof ChargingServiceService>;
    let charger: SimDevice | undefined;
    let chargerId: string;
    let register = 1_000_000n;
    const iotTenancy = () => ({
      operatorId: city.operatorId,
      projectId: city.projectId,
      merchantId: `m-${city.projectId}`,
    });

    beforeAll(async () => {
      // the operator's console and the charging app: scopes of iot and nothing of payment
      const sub = uniqueName('chg-app');
      const md = () =>
        city.issuer.metadata({
          sub,
          scopes: ['iot:write', 'iot:configure', 'iot:read', 'iot:charging.pay'],
          operators: [city.operatorId],
        });
      const iotAddress = city.procs.get('iot')!.grpcAddress;
      const devices = grpcClient(IotServiceService, iotAddress, md);
      const r = await devices.registerDevice({
        requestId: uniqueName('reg'),
        tenancy: { ...iotTenancy(), merchantId: '' },
        kind: DeviceKind.DEVICE_KIND_EV_CHARGER,
        name: 'charger 1',
        serialNumber: uniqueName('sn'),
        profile: '',
      });
      devices.close();
      chargerId = r.device!.deviceId;
      charger = new SimDevice(r.credentials as DeviceCredentials);
      await charger.connect();
      charging = grpcClient(ChargingServiceService, iotAddress, md);
      await charging.configureCharger({
        requestId: uniqueName('cfg'),
        tenancy: iotTenancy(),
        deviceId: r.device!.deviceId,
        tariff: {
          bands: [{ fromMinute: 0, pricePerKwh: { currency: 'CNY', amountMinor: 100n } }],
          serviceFeePerKwh: { currency: 'CNY', amountMinor: 50n },
        },
      });
    }, 120_000);
    afterAll(async () => {
      charging?.close();
      await charger?.stop().catch(() => undefined);
    });

    /** A running session of `userId` (4 kWh so far; its stop at 10 kWh bills 15.00 CNY). */
    const charge = async (userId: string) => {
      const sim = new SimCharger(register);
      register += 10_000n;
      const tx = uniqueName('tx');
      sim.start(tx, userId);
      sim.meter(4_000n);
      await sim.flushOver(charger!);
      const session = await waitFor('the session', async () => {
        const { sessions } = await charging.listChargingSessions({
          tenancy: iotTenancy(),
          deviceId: chargerId,
          page: undefined,
        });
        return sessions.find((x) => x.transactionId === tx && x.lastSeq === 2);
      });
      return { sim, session };
    };
    const sessionWhen = (id: string, ok: (s: ChargingSession) => boolean) =>
      waitFor(
        `session ${id}`,
        async () => {
          const { session } = await charging.getChargingSession({ tenancy: iotTenancy(), sessionId: id });
          return session && ok(session) ? session : undefined;
        },
        60_000,
        300,
      );
    const pay = (sessionId: string, couponCode: string, points: bigint, requestId = randomUUID()) =>
      charging.payChargingSession({
        requestId,
        tenancy: iotTenancy(),
        sessionId,
        points,
        couponCode,
        pointsHolderId: '',
        couponId: '',
      });

    it('money + points + coupon: chosen while charging, the stop (sent twice) bills one checkout; paid at the sandbox', async () => {
      const { userId, request } = await city.scenario();
      const { sim, session } = await charge(userId);
      const requestId = randomUUID();
      const chosen = await pay(session.sessionId, request.couponCode, 300n, requestId);
      expect(chosen.session!.paymentState).toBe(ChargingPaymentState.CHARGING_PAYMENT_STATE_CHECKOUT_CHOSEN);
      const stop = sim.stop(6_000n);
      await sim.flushOver(charger!);
      // the charger did not hear the PUBACK and sends its stop again
      await charger!.publish('events', chargerMessage(stop));
      const open = await sessionWhen(session.sessionId, (s) => s.checkoutId !== '');
      // the saga reserved the coupon and the points and opened the money part's payment
      const co = await waitFor(
        'the checkout awaiting payment',
        async () => {
          const c = (await city.app.getCheckout({ checkoutId: open.checkoutId })).checkout!;
          return c.status === CheckoutStatus.CHECKOUT_STATUS_AWAITING_PAYMENT ? c : undefined;
        },
        60_000,
        300,
      );
      // 15.00 = 10.00 coupon + 3.00 points + 2.00 money
      expect(co.parts).toMatchObject({
        total: { amountMinor: 1_500n },
        discount: { amountMinor: 1_000n },
        points: 300n,
        money: { amountMinor: 200n },
      });
      expect(co.userId).toBe(userId);
      // the pay retried after the stop answers the same, with where to pay
      const again = await pay(session.sessionId, request.couponCode, 300n, requestId);
      expect(again.session!.checkoutId).toBe(open.checkoutId);
      expect(again.payUrl).toBe(co.payUrl);
      await city.sandbox.pay(co.paymentId, 'success');
      const paid = await sessionWhen(
        session.sessionId,
        (s) => s.paymentState === ChargingPaymentState.CHARGING_PAYMENT_STATE_PAID,
      );
      expect(paid.paymentId).toBe(co.paymentId);
      expect((await city.final(co.checkoutId)).status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
      expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_REDEEMED);
      expect(await available(userId)).toBe(4_700n);
      // one checkout and no plain payment for the session, whatever was retried
      const { checkouts } = await city.app.listCheckouts({
        tenancy: { operatorId: city.operatorId, projectId: city.projectId, merchantId: '' },
        userId,
        page: undefined,
      });
      expect(checkouts.map((c) => c.checkoutId)).toEqual([co.checkoutId]);
      await ledgerCheckPasses();
    });

    it('points + coupon covering everything after the plain payment failed: zero money, paid without a channel payment', async () => {
      const { userId, request } = await city.scenario();
      const { sim, session } = await charge(userId);
      sim.stop(6_000n);
      await sim.flushOver(charger!);
      // the stop's plain payment: open, so the app cannot pay a second way meanwhile
      const billed = await sessionWhen(session.sessionId, (s) => s.paymentId !== '');
      expect(billed.paymentState).toBe(ChargingPaymentState.CHARGING_PAYMENT_STATE_OPEN);
      const refused = await grpcError(pay(session.sessionId, request.couponCode, 500n));
      expect([refused.code, errorCode(refused)]).toEqual([
        status.FAILED_PRECONDITION,
        'CHARGING_PAYMENT_OPEN',
      ]);
      await city.sandbox.pay(billed.paymentId, 'fail');
      await sessionWhen(
        session.sessionId,
        (s) => s.paymentState === ChargingPaymentState.CHARGING_PAYMENT_STATE_UNPAID,
      );
      // more points than the resident holds: payment refuses the checkout, in its answer
      // (CHARGING_CHECKOUT_REFUSED) or, when its saga answered first, by CheckoutReleased; either way
      // the session is unpaid again
      const tooMany = await pay(session.sessionId, request.couponCode, 9_000n).then(
        () => undefined,
        (err: ServiceError) => err,
      );
      if (tooMany)
        expect([tooMany.code, errorCode(tooMany)]).toEqual([
          status.FAILED_PRECONDITION,
          'CHARGING_CHECKOUT_REFUSED',
        ]);
      await sessionWhen(
        session.sessionId,
        (s) => s.paymentState === ChargingPaymentState.CHARGING_PAYMENT_STATE_UNPAID,
      );
      // 15.00 = 10.00 coupon + 5.00 in points
      const answer = await pay(session.sessionId, request.couponCode, 500n);
      expect(answer.payUrl).toBe('');
      const paid = await sessionWhen(
        session.sessionId,
        (s) => s.paymentState === ChargingPaymentState.CHARGING_PAYMENT_STATE_PAID,
      );
      const co = (await city.app.getCheckout({ checkoutId: paid.checkoutId })).checkout!;
      expect(co.status).toBe(CheckoutStatus.CHECKOUT_STATUS_COMPLETED);
      expect([co.paymentId, co.parts!.money!.amountMinor, co.parts!.points]).toEqual(['', 0n, 500n]);
      expect(await available(userId)).toBe(4_500n);
      // the session names the checkout that paid
      expect(paid.checkoutId).toBe(co.checkoutId);
      expect(await couponStatus(co.couponId)).toBe(CouponStatus.COUPON_STATUS_REDEEMED);
      await ledgerCheckPasses();
    });
  });
});
