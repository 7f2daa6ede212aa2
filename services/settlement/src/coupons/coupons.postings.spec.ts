import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { PlannedPosting, redeemedPosting, rolledBackPosting } from './coupons.postings';

const K = AccountKind;
const lines = (p: PlannedPosting | undefined) =>
  (p?.lines ?? []).map((l) => [
    K[l.account.kind],
    `${l.account.operatorId}/${l.account.projectId ?? ''}/${l.account.merchantId ?? ''}`,
    l.amountMinor,
  ]);
const r = (discountMinor: bigint, funder = { operatorId: 'op', projectId: '', merchantId: '' }) => ({
  redemptionId: 'red-1',
  funder,
  place: { operatorId: 'op', projectId: 'p', merchantId: 'm' },
  currency: 'CNY',
  discountMinor,
});

describe('coupon postings', () => {
  it("redeemed: Dr the funder's subsidy, Cr the place's payable, keyed by the redemption", () => {
    const p = redeemedPosting(r(800n));
    expect(p?.idempotencyKey).toBe('coupon:redeemed:red-1');
    expect(p?.kind).toBe('coupon_redeemed');
    expect(lines(p)).toEqual([
      ['ACCOUNT_KIND_MARKETING_SUBSIDY', 'op//', 800n],
      ['ACCOUNT_KIND_MERCHANT_PAYABLE', 'op/p/m', -800n],
    ]);
    // the platform funds with empty ids; a merchant with its own
    expect(lines(redeemedPosting(r(1n, { operatorId: '', projectId: '', merchantId: '' })))[0]).toEqual([
      'ACCOUNT_KIND_MARKETING_SUBSIDY',
      '//',
      1n,
    ]);
    expect(lines(redeemedPosting(r(1n, { operatorId: 'op', projectId: 'p', merchantId: 'm' })))[0]).toEqual([
      'ACCOUNT_KIND_MARKETING_SUBSIDY',
      'op/p/m',
      1n,
    ]);
  });

  it('rolled back: the exact reverse under its own key; nothing for a zero discount; a negative one refused', () => {
    const p = rolledBackPosting(r(800n));
    expect(p?.idempotencyKey).toBe('coupon:rolled-back:red-1');
    expect(lines(p)).toEqual([
      ['ACCOUNT_KIND_MARKETING_SUBSIDY', 'op//', -800n],
      ['ACCOUNT_KIND_MERCHANT_PAYABLE', 'op/p/m', 800n],
    ]);
    expect(redeemedPosting(r(0n))).toBeUndefined();
    expect(rolledBackPosting(r(0n))).toBeUndefined();
    expect(() => redeemedPosting(r(-1n))).toThrow(/negative/);
  });
});
