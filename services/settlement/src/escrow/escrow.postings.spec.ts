import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { allocateRefund, NO_PARTS, SplitParts, splitByRule, sumParts } from './escrow.domain';
import {
  completionPosting,
  orderAccounts,
  paymentEscrowedPosting,
  PlannedPosting,
  refundPosting,
} from './escrow.postings';
import { rng } from '../../test/spec-helpers';

const ORDER = '6b1f4ad6-3f4b-4d0a-9a49-0c8f2d9a7b11';

const total = (p: PlannedPosting) => p.lines.reduce((s, l) => s + l.amountMinor, 0n);
/** Debits (positive) and credits (negative, shown positive) by account name. */
const sides = (p: PlannedPosting) => ({
  debit: Object.fromEntries(p.lines.filter((l) => l.amountMinor > 0n).map((l) => [l.account, l.amountMinor])),
  credit: Object.fromEntries(
    p.lines.filter((l) => l.amountMinor < 0n).map((l) => [l.account, -l.amountMinor]),
  ),
});

describe('orderAccounts', () => {
  it('puts each of the order’s accounts under its owner', () => {
    const keys = orderAccounts({
      operator_id: 'op',
      project_id: 'p',
      merchant_id: 'm',
      channel_id: 'wechat',
      payer_ref: 'resident-1',
      currency: 'CNY',
    });
    expect(keys.clearing).toEqual({
      kind: AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING,
      currency: 'CNY',
      operatorId: 'op',
      projectId: 'p',
      ownerRef: 'wechat',
    });
    expect(keys.escrow).toMatchObject({ kind: AccountKind.ACCOUNT_KIND_ESCROW, projectId: 'p' });
    expect(keys.merchant).toMatchObject({ kind: AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE, merchantId: 'm' });
    expect(keys.property).toMatchObject({ kind: AccountKind.ACCOUNT_KIND_PROPERTY_SHARE, projectId: 'p' });
    // commission, tax and wallets are the operator's, not a project's
    expect(keys.commission).toEqual({
      kind: AccountKind.ACCOUNT_KIND_PLATFORM_COMMISSION,
      currency: 'CNY',
      operatorId: 'op',
    });
    expect(keys.tax).toEqual({
      kind: AccountKind.ACCOUNT_KIND_TAX_PAYABLE,
      currency: 'CNY',
      operatorId: 'op',
    });
    expect(keys.wallet).toEqual({
      kind: AccountKind.ACCOUNT_KIND_RESIDENT_WALLET,
      currency: 'CNY',
      operatorId: 'op',
      ownerRef: 'resident-1',
    });
  });
});

describe('paymentEscrowedPosting', () => {
  it('debits clearing and credits escrow with the paid amount, once per order', () => {
    const p = paymentEscrowedPosting(ORDER, 1_234n);
    expect(p.kind).toBe('payment_escrowed');
    expect(p.idempotencyKey).toBe(`order:${ORDER}:escrow`);
    expect(sides(p)).toEqual({ debit: { clearing: 1_234n }, credit: { escrow: 1_234n } });
    expect(total(p)).toBe(0n);
  });

  it('refuses a payment that is not positive', () => {
    expect(() => paymentEscrowedPosting(ORDER, 0n)).toThrow();
  });
});

describe('completionPosting', () => {
  it('debits escrow with the release and credits each positive part; zero parts post no line', () => {
    const parts = splitByRule(10_001n, 'CNY', {
      commissionBps: 500,
      propertyShareBps: 0,
      taxBps: 300,
      autoConfirmHours: 24,
    });
    const p = completionPosting(ORDER, 10_001n, parts);
    expect(p.kind).toBe('order_completed');
    expect(p.idempotencyKey).toBe(`order:${ORDER}:complete`);
    // 10001 * 5% = 500.05, 3% = 300.03, merchant 92% = 9200.92: the one unit left goes to the merchant
    expect(sides(p)).toEqual({
      debit: { escrow: 10_001n },
      credit: { merchant: 9_201n, commission: 500n, tax: 300n },
    });
    expect(p.lines.map((l) => l.account)).toEqual(['escrow', 'merchant', 'commission', 'tax']);
    expect(total(p)).toBe(0n);
  });

  it('sums to zero for any amount and rule (largest remainder rounding)', () => {
    const next = rng(7);
    for (let i = 0; i < 500; i++) {
      const amount = BigInt(1 + Math.floor(next() * 1_000_000));
      const rule = {
        commissionBps: Math.floor(next() * 3001),
        propertyShareBps: Math.floor(next() * 5001),
        taxBps: Math.floor(next() * 2001),
        autoConfirmHours: 24,
      };
      const parts = splitByRule(amount, 'CNY', rule);
      const p = completionPosting(ORDER, amount, parts);
      expect(total(p)).toBe(0n);
      expect(p.lines.filter((l) => l.amountMinor === 0n)).toEqual([]);
      expect(p.lines.filter((l) => l.amountMinor > 0n)).toEqual([{ account: 'escrow', amountMinor: amount }]);
    }
  });

  it('refuses parts that do not make the release (a bug in the caller)', () => {
    const parts: SplitParts = { ...NO_PARTS, merchant: 99n };
    expect(() => completionPosting(ORDER, 100n, parts)).toThrow(/do not make 100/);
    expect(() => completionPosting(ORDER, 100n, { ...NO_PARTS, merchant: 101n, tax: -1n })).toThrow();
  });
});

describe('refundPosting', () => {
  const REFUND = '11111111-1111-4111-8111-111111111111';

  it('before completion: debits escrow, credits the wallet or clearing (the channel pays back)', () => {
    const toWallet = refundPosting(ORDER, {
      refundId: REFUND,
      amountMinor: 300n,
      destination: 'wallet',
      splitReturn: undefined,
    });
    expect(toWallet.kind).toBe('refund');
    expect(toWallet.idempotencyKey).toBe(`order:${ORDER}:refund:${REFUND}`);
    expect(sides(toWallet)).toEqual({ debit: { escrow: 300n }, credit: { wallet: 300n } });
    const viaChannel = refundPosting(ORDER, {
      refundId: REFUND,
      amountMinor: 300n,
      destination: 'original',
      splitReturn: undefined,
    });
    expect(sides(viaChannel)).toEqual({ debit: { escrow: 300n }, credit: { clearing: 300n } });
    expect(total(toWallet)).toBe(0n);
    expect(total(viaChannel)).toBe(0n);
  });

  it('after completion: the split return debits each part taken back, never escrow', () => {
    const left = { merchant: 9_201n, property: 0n, commission: 500n, tax: 300n };
    const taken = allocateRefund(3_333n, 'CNY', left);
    const p = refundPosting(ORDER, {
      refundId: REFUND,
      amountMinor: 3_333n,
      destination: 'original',
      splitReturn: taken,
    });
    expect(sides(p).credit).toEqual({ clearing: 3_333n });
    expect(sides(p).debit).toEqual({
      merchant: taken.merchant,
      commission: taken.commission,
      tax: taken.tax,
    });
    expect(p.lines.some((l) => l.account === 'escrow' || l.account === 'property')).toBe(false);
    expect(total(p)).toBe(0n);
  });

  it('sums to zero for any refund of any split (largest remainder rounding)', () => {
    const next = rng(11);
    for (let i = 0; i < 500; i++) {
      const left: SplitParts = {
        merchant: BigInt(Math.floor(next() * 100_000)),
        property: BigInt(Math.floor(next() * 10_000)),
        commission: BigInt(Math.floor(next() * 5_000)),
        tax: BigInt(Math.floor(next() * 3_000)),
      };
      const available = sumParts(left);
      if (available === 0n) continue;
      const amount = 1n + BigInt(Math.floor(next() * Number(available)));
      const taken = allocateRefund(amount, 'CNY', left);
      const p = refundPosting(ORDER, {
        refundId: REFUND,
        amountMinor: amount,
        destination: next() < 0.5 ? 'wallet' : 'original',
        splitReturn: taken,
      });
      expect(total(p)).toBe(0n);
      expect(p.lines.filter((l) => l.amountMinor === 0n)).toEqual([]);
    }
  });

  it('refuses a refund that is not positive, or parts that do not make it', () => {
    const base = { refundId: REFUND, destination: 'wallet' as const, splitReturn: undefined };
    expect(() => refundPosting(ORDER, { ...base, amountMinor: 0n })).toThrow();
    expect(() =>
      refundPosting(ORDER, { ...base, amountMinor: 10n, splitReturn: { ...NO_PARTS, merchant: 9n } }),
    ).toThrow(/do not make 10/);
  });
});
