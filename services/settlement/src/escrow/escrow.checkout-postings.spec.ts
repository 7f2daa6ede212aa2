import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { AccountKey } from '../ledger/ledger.service';
import { allocateRefund, splitByRule, sumParts } from './escrow.domain';
import { checkoutRefundPosting, partEscrowedPosting, PlannedPosting } from './escrow.postings';
import { rng } from '../../test/spec-helpers';

const K = AccountKind;
const CHECKOUT = '0f7c3e1a-5b7d-4f0e-9c2a-6d1b8e4f2a10';
const place: AccountKey = {
  kind: K.ACCOUNT_KIND_MERCHANT_PAYABLE,
  currency: 'CNY',
  operatorId: 'op',
  projectId: 'p',
  merchantId: 'm',
};
const funder: AccountKey = { kind: K.ACCOUNT_KIND_MARKETING_SUBSIDY, currency: 'CNY', operatorId: 'op' };

const sum = (p: PlannedPosting | undefined) => (p?.lines ?? []).reduce((s, l) => s + l.amountMinor, 0n);
/** Each line as [account name or kind, amount]. */
const lines = (p: PlannedPosting | undefined) =>
  (p?.lines ?? []).map((l) => [typeof l.account === 'string' ? l.account : K[l.account.kind], l.amountMinor]);

describe("a checkout's postings", () => {
  it("a part joins the order: Dr the place's payable, Cr escrow, once per checkout and part", () => {
    const p = partEscrowedPosting(CHECKOUT, 'discount', place, 1_500n);
    expect(p.idempotencyKey).toBe(`checkout:${CHECKOUT}:escrow:discount`);
    expect(p.kind).toBe('checkout_part_escrowed');
    expect(lines(p)).toEqual([
      ['ACCOUNT_KIND_MERCHANT_PAYABLE', 1_500n],
      ['escrow', -1_500n],
    ]);
    expect(partEscrowedPosting(CHECKOUT, 'points', place, 3_000n).idempotencyKey).toBe(
      `checkout:${CHECKOUT}:escrow:points`,
    );
    expect(() => partEscrowedPosting(CHECKOUT, 'points', place, 0n)).toThrow(/positive/);
    expect(() => partEscrowedPosting(CHECKOUT, 'points', funder, 10n)).toThrow(/merchant payable/);
  });

  it('a refund before completion: Dr escrow both parts, Cr the funder the discount, Cr the place the points', () => {
    const p = checkoutRefundPosting(CHECKOUT, {
      refundId: 'r-1',
      discountMinor: 450n,
      funder,
      pointsValueMinor: 900n,
      pointsPlace: place,
      splitReturn: undefined,
    });
    expect(p?.idempotencyKey).toBe(`checkout:${CHECKOUT}:refund:r-1`);
    expect(lines(p)).toEqual([
      ['ACCOUNT_KIND_MARKETING_SUBSIDY', -450n],
      ['ACCOUNT_KIND_MERCHANT_PAYABLE', -900n],
      ['escrow', 1_350n],
    ]);
  });

  it('a refund after completion takes the parts back from the split', () => {
    const parts = splitByRule(10_000n, 'CNY', {
      commissionBps: 500,
      propertyShareBps: 1000,
      taxBps: 300,
      autoConfirmHours: 24,
    });
    const back = allocateRefund(1_350n, 'CNY', parts);
    const p = checkoutRefundPosting(CHECKOUT, {
      refundId: 'r-2',
      discountMinor: 450n,
      funder,
      pointsValueMinor: 900n,
      pointsPlace: place,
      splitReturn: back,
    });
    expect(lines(p)).toEqual([
      ['ACCOUNT_KIND_MARKETING_SUBSIDY', -450n],
      ['ACCOUNT_KIND_MERCHANT_PAYABLE', -900n],
      ['merchant', back.merchant],
      ['property', back.property],
      ['commission', back.commission],
      ['tax', back.tax],
    ]);
    expect(sum(p)).toBe(0n);
    expect(() =>
      checkoutRefundPosting(CHECKOUT, {
        refundId: 'r-3',
        discountMinor: 450n,
        funder,
        pointsValueMinor: 900n,
        pointsPlace: place,
        splitReturn: { ...back, merchant: back.merchant + 1n },
      }),
    ).toThrow(/do not make/);
  });

  it('nothing for a money-only refund; a discount needs its funder, points their place', () => {
    const none = { refundId: 'r', funder: undefined, pointsPlace: undefined, splitReturn: undefined };
    expect(
      checkoutRefundPosting(CHECKOUT, { ...none, discountMinor: 0n, pointsValueMinor: 0n }),
    ).toBeUndefined();
    expect(() =>
      checkoutRefundPosting(CHECKOUT, { ...none, discountMinor: 1n, pointsValueMinor: 0n }),
    ).toThrow(/funder/);
    expect(() =>
      checkoutRefundPosting(CHECKOUT, { ...none, discountMinor: 0n, pointsValueMinor: 1n }),
    ).toThrow(/MERCHANT_PAYABLE/);
    expect(() =>
      checkoutRefundPosting(CHECKOUT, { ...none, funder, discountMinor: -1n, pointsValueMinor: 0n }),
    ).toThrow(/negative/);
  });

  it('every refund posting sums to zero (seeded random parts, before and after completion)', () => {
    const random = rng(14);
    for (let i = 0; i < 500; i++) {
      const discount = BigInt(Math.floor(random() * 5_000));
      const points = BigInt(Math.floor(random() * 5_000));
      if (discount + points === 0n) continue;
      const after = random() < 0.5;
      const split = splitByRule(20_000n, 'CNY', {
        commissionBps: Math.floor(random() * 1500),
        propertyShareBps: Math.floor(random() * 2000),
        taxBps: Math.floor(random() * 600),
        autoConfirmHours: 24,
      });
      const back = after ? allocateRefund(discount + points, 'CNY', split) : undefined;
      if (back) expect(sumParts(back)).toBe(discount + points);
      const p = checkoutRefundPosting(CHECKOUT, {
        refundId: `r-${i}`,
        discountMinor: discount,
        funder,
        pointsValueMinor: points,
        pointsPlace: place,
        splitReturn: back,
      });
      expect(sum(p)).toBe(0n);
    }
  });
});
