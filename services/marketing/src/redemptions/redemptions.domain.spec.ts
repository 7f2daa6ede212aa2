import { toTimestamp } from '@citybase/platform';
import { domainErrorOf, expectInvalid } from '@citybase/platform/testing';
import {
  decideEnd,
  isFullRefund,
  RedemptionState,
  releasedCouponStatus,
  reservationExpiry,
  toBasket,
  toRedeemTokenCommand,
  toReserveCouponCommand,
} from './redemptions.domain';

const ID = '0b9d6b39-2a83-4f0e-9d1c-6d0a4cf2b8e1';
const NOW = new Date('2026-12-06T00:00:00Z');
const basket = {
  tenancy: { operatorId: 'op-1', projectId: 'p-1', merchantId: 'm-1' },
  scenario: 4,
  total: { currency: 'CNY', amountMinor: 100n },
  itemCodes: ['coffee'],
};

describe('redemption rules', () => {
  it('confirms or cancels a held redemption, expires one past its deadline, answers a repeat unchanged', () => {
    const r = (status: RedemptionState, expiresAt = new Date(NOW.getTime() + 1000)) => ({
      redemptionId: ID,
      status,
      expiresAt,
    });
    expect(decideEnd(r('HELD'), 'confirm', NOW)).toBe('apply');
    expect(decideEnd(r('HELD'), 'cancel', NOW)).toBe('apply');
    expect(decideEnd(r('HELD', NOW), 'confirm', NOW)).toBe('expire');
    expect(decideEnd(r('CONFIRMED'), 'confirm', NOW)).toBe('unchanged');
    expect(decideEnd(r('CANCELLED'), 'cancel', NOW)).toBe('unchanged');
    const cases: [RedemptionState, 'confirm' | 'cancel', string][] = [
      ['CANCELLED', 'confirm', 'REDEMPTION_CANCELLED'],
      ['CONFIRMED', 'cancel', 'REDEMPTION_CONFIRMED'],
      ['EXPIRED', 'confirm', 'REDEMPTION_EXPIRED'],
      ['EXPIRED', 'cancel', 'REDEMPTION_EXPIRED'],
      ['ROLLED_BACK', 'confirm', 'REDEMPTION_ROLLED_BACK'],
    ];
    for (const [status, asked, code] of cases) {
      const err = domainErrorOf(() => decideEnd(r(status), asked, NOW));
      expect([err.kind, err.code]).toEqual(['failed_precondition', code]);
    }
  });

  it('a released coupon is usable again unless past its validity; a refund is full when it reaches what was paid', () => {
    expect(releasedCouponStatus(new Date(NOW.getTime() + 1), NOW)).toBe('AVAILABLE');
    expect(releasedCouponStatus(NOW, NOW)).toBe('EXPIRED');
    expect([isFullRefund(8999n, 9000n), isFullRefund(9000n, 9000n)]).toEqual([false, true]);
    expect(reservationExpiry(NOW, 0, 600).getTime() - NOW.getTime()).toBe(600_000);
    expect(reservationExpiry(NOW, 30, 600).getTime() - NOW.getTime()).toBe(30_000);
  });

  it('validates a basket, naming the field', () => {
    expect(toBasket('basket', basket)).toEqual({
      operatorId: 'op-1',
      projectId: 'p-1',
      merchantId: 'm-1',
      scenario: 4,
      currency: 'CNY',
      total: 100n,
      itemCodes: ['coffee'],
    });
    expectInvalid(() => toBasket('basket', undefined), 'basket');
    expectInvalid(() => toBasket('basket', { ...basket, tenancy: undefined }), 'basket.tenancy.operator_id');
    expectInvalid(() => toBasket('basket', { ...basket, scenario: 42 }), 'basket.scenario');
    expectInvalid(() => toBasket('basket', { ...basket, total: undefined }), 'basket.total');
    expectInvalid(
      () => toBasket('basket', { ...basket, total: { currency: 'cny', amountMinor: 1n } }),
      'basket.total.currency',
    );
    expectInvalid(
      () => toBasket('basket', { ...basket, total: { currency: 'CNY', amountMinor: -1n } }),
      'basket.total.amount_minor',
    );
    expectInvalid(() => toBasket('basket', { ...basket, itemCodes: [''] }), 'basket.item_codes[0]');
  });

  it('validates a reservation and a token redemption, naming the field', () => {
    const ok = { requestId: 'r-1', userId: 'u-1', couponId: ID, basket, reference: 'pay-1', ttlSeconds: 0 };
    expect(toReserveCouponCommand(ok).ttlSeconds).toBe(0);
    expectInvalid(() => toReserveCouponCommand({ ...ok, ttlSeconds: 3601 }), 'ttl_seconds');
    expectInvalid(() => toReserveCouponCommand({ ...ok, reference: '' }), 'reference');
    expectInvalid(() => toReserveCouponCommand({ ...ok, couponId: 'c' }), 'coupon_id');
    const scan = {
      requestId: 's-1',
      tenancy: basket.tenancy,
      token: 'a.b.c',
      basket,
      scannedAt: toTimestamp(NOW),
    };
    expect(toRedeemTokenCommand(scan).scannedAtMs).toBe(NOW.getTime());
    expect(toRedeemTokenCommand({ ...scan, scannedAt: undefined }).scannedAtMs).toBeUndefined();
    expectInvalid(
      () => toRedeemTokenCommand({ ...scan, tenancy: { operatorId: 'op-1' } }),
      'tenancy.merchant_id',
    );
    expectInvalid(
      () =>
        toRedeemTokenCommand({
          ...scan,
          basket: { ...basket, tenancy: { ...basket.tenancy, merchantId: 'm-2' } },
        }),
      'basket.tenancy',
    );
  });
});
