import { domainErrorOf } from '@citybase/platform/testing';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import {
  CHECKOUTS_PAGE,
  moneyDue,
  Parts,
  refundParts,
  refundRefusal,
  reservationTtlSeconds,
  toCreateCheckoutCommand,
  toListCheckoutsQuery,
  toRefundCheckoutCommand,
} from './checkouts.domain';

const ID = '0b9d6b39-2a83-4f0e-9d1c-6d0a4cf2b8e1';

const request = (over: Record<string, unknown> = {}) => ({
  requestId: 'r-1',
  tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: '' },
  merchantId: 'm-1',
  scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
  total: { currency: 'CNY', amountMinor: 10_000n },
  itemCodes: ['sku-1'],
  userId: 'u-1',
  pointsHolderId: '',
  couponId: '',
  couponCode: 'AUTUMN',
  points: 500n,
  payerRef: 'u-1',
  description: '',
  expiresInSeconds: 0,
  profitSharing: false,
  ...over,
});

const NONE: Parts = { totalMinor: 0n, discountMinor: 0n, points: 0n, pointsValueMinor: 0n, moneyMinor: 0n };

describe('checkout rules', () => {
  it('validates a create request; the points holder defaults to the user', () => {
    const cmd = toCreateCheckoutCommand(request());
    expect(cmd).toMatchObject({
      pointsHolderId: 'u-1',
      totalMinor: 10_000n,
      points: 500n,
      expiresInSeconds: 900,
    });
  });

  it('refuses a bad create request naming the field and the rule', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ requestId: '' }, 'request_id'],
      [{ tenancy: { operatorId: 'op-1', projectId: '' } }, 'tenancy.project_id'],
      [{ tenancy: { operatorId: 'op-1', projectId: 'p', merchantId: 'other' } }, 'tenancy.merchant_id'],
      [{ total: { currency: 'CNY', amountMinor: 0n } }, 'total.amount_minor'],
      [{ total: { currency: 'USD', amountMinor: 1n } }, 'total.currency'],
      [{ scenario: 0 }, 'scenario'],
      [{ userId: '' }, 'user_id'],
      [{ couponId: 'c-1', couponCode: 'X' }, 'coupon_code'],
      [{ points: -1n }, 'points'],
      [{ expiresInSeconds: 3001 }, 'expires_in_seconds'],
      [{ itemCodes: Array.from({ length: 101 }, (_, i) => `s${i}`) }, 'item_codes'],
      [{ payerRef: '' }, 'payer_ref'],
    ];
    for (const [over, field] of cases) {
      const err = domainErrorOf(() => toCreateCheckoutCommand(request(over)));
      expect([err.kind, err.detail.field]).toEqual(['invalid_argument', field]);
      expect(err.detail.rule).toBeTruthy();
    }
  });

  it('keeps reservations alive past the payment expiry plus the margin, within 3600 s', () => {
    expect(reservationTtlSeconds(900)).toBe(1500);
    expect(reservationTtlSeconds(3000)).toBe(3600);
    expect(reservationTtlSeconds(60)).toBe(660);
  });

  it('computes the money due, refusing points worth more than what the coupon leaves', () => {
    expect(moneyDue(10_000n, 1_000n, 500n, 1n)).toEqual({ pointsValueMinor: 500n, moneyMinor: 8_500n });
    expect(moneyDue(10_000n, 1_000n, 9_000n, 1n)).toEqual({ pointsValueMinor: 9_000n, moneyMinor: 0n });
    expect(moneyDue(10_000n, 1_000n, 9_001n, 1n)).toBeUndefined();
    expect(moneyDue(10_000n, 0n, 101n, 100n)).toBeUndefined();
  });

  it('refuses refunds of an unfinished checkout, in another currency, or past the full price', () => {
    const c = { status: 'COMPLETED', currency: 'CNY', totalMinor: 100n, committedRefundMinor: 60n };
    expect(refundRefusal(c, { currency: 'CNY', amountMinor: 40n })).toBeUndefined();
    expect(refundRefusal(c, { currency: 'CNY', amountMinor: 41n })).toBe('REFUND_EXCEEDS_PRICE');
    expect(refundRefusal(c, { currency: 'USD', amountMinor: 1n })).toBe('CURRENCY_MISMATCH');
    expect(refundRefusal({ ...c, status: 'AWAITING_PAYMENT' }, { currency: 'CNY', amountMinor: 1n })).toBe(
      'CHECKOUT_NOT_COMPLETED',
    );
    const err = domainErrorOf(() =>
      toRefundCheckoutCommand({
        requestId: 'r',
        checkoutId: ID,
        amount: { currency: 'CNY', amountMinor: 0n },
        reason: 'x',
      }),
    );
    expect(err.detail.field).toBe('amount.amount_minor');
  });

  describe('refund rule', () => {
    // T = 10000, D = 1000, P = 3000 (3000 points at 1 fen), M = 6000
    const paid: Parts = {
      totalMinor: 10_000n,
      discountMinor: 1_000n,
      points: 3_000n,
      pointsValueMinor: 3_000n,
      moneyMinor: 6_000n,
    };

    it('gives back the paid share in proportion, the discount apportioned over the price', () => {
      const r = refundParts(paid, NONE, 5_000n, 1n);
      // share = 5000 x 9000 / 10000 = 4500; points part = 4500 x 3000 / 9000 = 1500
      expect(r).toEqual({
        totalMinor: 5_000n,
        discountMinor: 500n,
        points: 1_500n,
        pointsValueMinor: 1_500n,
        moneyMinor: 3_000n,
        couponRestored: false,
      });
    });

    it('converts the points part to whole points (floor); money absorbs the rounding', () => {
      const p: Parts = {
        totalMinor: 1_000n,
        discountMinor: 0n,
        points: 7n,
        pointsValueMinor: 700n,
        moneyMinor: 300n,
      };
      const r = refundParts(p, NONE, 333n, 100n);
      // share = 333; points part = floor(333 x 700 / 1000) = 233 -> 2 points (200)
      expect(r).toMatchObject({ points: 2n, pointsValueMinor: 200n, moneyMinor: 133n, discountMinor: 0n });
      expect(r.discountMinor + r.pointsValueMinor + r.moneyMinor).toBe(333n);
    });

    it('the refund reaching the full price gives back exactly what is left and restores the coupon', () => {
      const first = refundParts(paid, NONE, 3_333n, 1n);
      const second = refundParts(paid, first, 6_667n, 1n);
      expect(second.couponRestored).toBe(true);
      expect(first.discountMinor + second.discountMinor).toBe(1_000n);
      expect(first.points + second.points).toBe(3_000n);
      expect(first.moneyMinor + second.moneyMinor).toBe(6_000n);
      expect(first.couponRestored).toBe(false);
    });

    it('with no points gives money and discount only; with no money points and discount only', () => {
      const moneyOnly: Parts = {
        totalMinor: 1_000n,
        discountMinor: 200n,
        points: 0n,
        pointsValueMinor: 0n,
        moneyMinor: 800n,
      };
      expect(refundParts(moneyOnly, NONE, 500n, 0n)).toMatchObject({
        points: 0n,
        moneyMinor: 400n,
        discountMinor: 100n,
      });
      const noMoney: Parts = {
        totalMinor: 1_000n,
        discountMinor: 200n,
        points: 800n,
        pointsValueMinor: 800n,
        moneyMinor: 0n,
      };
      expect(refundParts(noMoney, NONE, 500n, 1n)).toMatchObject({
        points: 400n,
        moneyMinor: 0n,
        discountMinor: 100n,
      });
    });

    it('never gives back more of a part than is left', () => {
      let refunded = NONE;
      for (const amount of [1n, 7n, 999n, 2_500n, 13n]) {
        const r = refundParts(paid, refunded, amount, 1n);
        for (const v of [r.discountMinor, r.points, r.pointsValueMinor, r.moneyMinor])
          expect(v).toBeGreaterThanOrEqual(0n);
        expect(r.discountMinor + r.pointsValueMinor + r.moneyMinor).toBe(amount);
        refunded = {
          totalMinor: refunded.totalMinor + r.totalMinor,
          discountMinor: refunded.discountMinor + r.discountMinor,
          points: refunded.points + r.points,
          pointsValueMinor: refunded.pointsValueMinor + r.pointsValueMinor,
          moneyMinor: refunded.moneyMinor + r.moneyMinor,
        };
        expect(refunded.moneyMinor).toBeLessThanOrEqual(paid.moneyMinor);
        expect(refunded.points).toBeLessThanOrEqual(paid.points);
        expect(refunded.discountMinor).toBeLessThanOrEqual(paid.discountMinor);
      }
    });
  });

  it('reads the page token it issues', () => {
    const token = CHECKOUTS_PAGE.encode(['2026-01-02T03:04:05.123456Z', ID]);
    expect(
      toListCheckoutsQuery({ tenancy: { operatorId: 'op-1' }, page: { pageSize: 10, pageToken: token } }),
    ).toEqual({
      operatorId: 'op-1',
      projectId: '',
      userId: '',
      size: 10,
      after: { createdAt: '2026-01-02T03:04:05.123456Z', checkoutId: ID },
    });
  });
});
