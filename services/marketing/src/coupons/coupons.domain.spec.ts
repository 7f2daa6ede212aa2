import { domainErrorOf } from '@citybase/platform/testing';
import { cityDay, couponExpiry, gateStock, holderFields } from './coupons.domain';

describe('coupons rules', () => {
  it('counts a claim in the counters of the limits the campaign has (the user always in a flash sale)', () => {
    const limits = { per_user_limit: 2, per_household_limit: 3, per_user_daily_limit: 1, flash_sale: false };
    expect(holderFields(limits, { userId: 'u', householdId: 'h' }, '2026-12-06')).toEqual([
      { scope: 'USER', key: 'u', limit: 2, field: 'U:u' },
      { scope: 'HOUSEHOLD', key: 'h', limit: 3, field: 'H:h' },
      { scope: 'USER_DAY', key: '2026-12-06:u', limit: 1, field: 'D:2026-12-06:u' },
    ]);
    const none = { per_user_limit: 0, per_household_limit: 0, per_user_daily_limit: 0 };
    expect(holderFields({ ...none, flash_sale: false }, { userId: 'u', householdId: '' }, 'd')).toEqual([]);
    expect(holderFields({ ...none, flash_sale: true }, { userId: 'u', householdId: '' }, 'd')).toEqual([
      { scope: 'USER', key: 'u', limit: 0, field: 'U:u' },
    ]);
    expect(
      domainErrorOf(() => holderFields({ ...limits }, { userId: 'u', householdId: '' }, 'd')).detail.field,
    ).toBe('household_id');
  });

  it('days are city days (UTC+8); coupons expire after their days, never past use_until', () => {
    expect(cityDay(new Date('2026-12-05T15:59:59Z'))).toBe('2026-12-05');
    expect(cityDay(new Date('2026-12-05T16:00:00Z'))).toBe('2026-12-06');
    const at = new Date('2026-12-06T00:00:00Z');
    expect(couponExpiry({ coupon_valid_days: 7, use_until: null }, at)).toEqual(
      new Date('2026-12-13T00:00:00Z'),
    );
    const until = new Date('2026-12-08T00:00:00Z');
    expect(couponExpiry({ coupon_valid_days: 7, use_until: until }, at)).toEqual(until);
  });

  it('gives the gate what the tighter budget leaves, never below zero', () => {
    const c = { max_coupons: 100n, claimed: 40n, max_spend: null, claimed_value: 0n, coupon_max_value: 500n };
    expect(gateStock(c)).toBe(60n);
    expect(gateStock({ ...c, max_spend: 10_000n, claimed_value: 8_000n })).toBe(4n);
    expect(gateStock({ ...c, max_spend: 10_000n, claimed_value: 9_800n })).toBe(0n);
    expect(gateStock({ ...c, max_spend: 10_000n, coupon_max_value: 0n })).toBe(60n);
    expect(gateStock({ ...c, claimed: 100n })).toBe(0n);
  });
});
