import { CouponStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { DiscountRule, discountOn, quote, QuoteBasket, QuoteCoupon } from './quote.domain';

const NOW = new Date('2026-12-06T00:00:00Z');
const LATER = new Date('2026-12-07T00:00:00Z');

const basket = (over: Partial<QuoteBasket> = {}): QuoteBasket => ({
  operatorId: 'op-1',
  projectId: 'p-1',
  merchantId: 'm-1',
  scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
  currency: 'CNY',
  total: 10_000n,
  itemCodes: ['coffee'],
  ...over,
});

let seq = 0;
const coupon = (discount: DiscountRule, over: Partial<QuoteCoupon> = {}): QuoteCoupon => {
  seq += 1;
  return {
    couponId: `c-${String(seq).padStart(3, '0')}`,
    campaignId: `k-${String(seq).padStart(3, '0')}`,
    status: CouponStatus.COUPON_STATUS_AVAILABLE,
    expiresAt: LATER,
    currency: 'CNY',
    discount,
    scope: {
      operatorId: 'op-1',
      projectId: '',
      merchantId: '',
      projectIds: [],
      merchantIds: [],
      scenarios: [],
    },
    stacking: { exclusive: false, group: '', priority: 0 },
    ...over,
  };
};

const amount = (a: bigint): DiscountRule => ({ kind: 'amount_off', amount: a });
const percent = (bp: number, cap?: bigint): DiscountRule => ({ kind: 'percent_off', basisPoints: bp, cap });
const lines = (q: ReturnType<typeof quote>) => q.lines.map((l) => [l.couponId, l.discount, l.reason]);

describe('discount per kind', () => {
  it.each<[string, DiscountRule, bigint, bigint]>([
    ['amount off', amount(500n), 10_000n, 500n],
    ['amount off never beyond what is left', amount(500n), 300n, 300n],
    ['percent without cap', percent(1000), 10_000n, 1000n],
    ['percent rounds down', percent(1000), 9_999n, 999n],
    ['percent capped', percent(5000, 2000n), 10_000n, 2000n],
    ['percent under the cap', percent(5000, 2000n), 3_000n, 1500n],
    ['100 percent takes all', percent(10_000), 777n, 777n],
    ['threshold saves its amount', { kind: 'threshold', spend: 5000n, save: 800n }, 10_000n, 800n],
    ['free item worth its value', { kind: 'free_item', itemCode: 'coffee', value: 1500n }, 10_000n, 1500n],
    ['free item never beyond what is left', { kind: 'free_item', itemCode: 'x', value: 1500n }, 900n, 900n],
    ['nothing left, nothing off', amount(500n), 0n, 0n],
  ])('%s', (_name, rule, remaining, expected) => {
    expect(discountOn(rule, remaining)).toBe(expected);
  });
});

describe('which coupons apply', () => {
  it.each<[string, Partial<QuoteCoupon>, Partial<QuoteBasket>, string]>([
    ['reserved', { status: CouponStatus.COUPON_STATUS_RESERVED }, {}, 'COUPON_RESERVED'],
    ['redeemed', { status: CouponStatus.COUPON_STATUS_REDEEMED }, {}, 'COUPON_REDEEMED'],
    ['expired status', { status: CouponStatus.COUPON_STATUS_EXPIRED }, {}, 'COUPON_EXPIRED'],
    ['expired at exactly now', { expiresAt: NOW }, {}, 'COUPON_EXPIRED'],
    ['other currency', {}, { currency: 'USD' }, 'CURRENCY_MISMATCH'],
    ['other operator', {}, { operatorId: 'op-2' }, 'NOT_TARGETED'],
  ])('%s', (_n, over, b, reason) => {
    const c = coupon(amount(100n), over);
    expect(lines(quote([c], basket(b), NOW))).toEqual([[c.couponId, 0n, reason]]);
  });

  it('targets by project, merchant and scenario, and by the campaign narrowed to a project or merchant', () => {
    const scope = (s: Partial<QuoteCoupon['scope']>) => ({
      scope: { ...coupon(amount(1n)).scope, ...s },
    });
    const cases: [Partial<QuoteCoupon>, boolean][] = [
      [scope({ projectIds: ['p-1', 'p-2'] }), true],
      [scope({ projectIds: ['p-2'] }), false],
      [scope({ merchantIds: ['m-1'] }), true],
      [scope({ merchantIds: ['m-2'] }), false],
      [scope({ scenarios: [PaymentScenario.PAYMENT_SCENARIO_GOODS] }), true],
      [scope({ scenarios: [PaymentScenario.PAYMENT_SCENARIO_PARKING] }), false],
      [scope({ projectId: 'p-1' }), true],
      [scope({ projectId: 'p-9' }), false],
      [scope({ merchantId: 'm-1' }), true],
      [scope({ merchantId: 'm-9' }), false],
    ];
    for (const [over, applies] of cases) {
      const q = quote([coupon(amount(100n), over)], basket(), NOW);
      expect([q.totalDiscount, q.lines[0]?.reason]).toEqual(applies ? [100n, ''] : [0n, 'NOT_TARGETED']);
    }
  });

  it('a threshold needs the whole basket at least its spend; a free item needs its item', () => {
    const t = coupon({ kind: 'threshold', spend: 10_000n, save: 1000n });
    expect(quote([t], basket(), NOW).totalDiscount).toBe(1000n);
    expect(lines(quote([t], basket({ total: 9_999n }), NOW))).toEqual([
      [t.couponId, 0n, 'THRESHOLD_NOT_MET'],
    ]);
    const f = coupon({ kind: 'free_item', itemCode: 'tea', value: 300n });
    expect(lines(quote([f], basket(), NOW))).toEqual([[f.couponId, 0n, 'ITEM_NOT_IN_BASKET']]);
    expect(quote([f], basket({ itemCodes: ['tea'] }), NOW).totalDiscount).toBe(300n);
  });
});

describe('stacking', () => {
  it('applies by (priority, campaign id), each on what the basket still costs', () => {
    const pct = coupon(percent(1000), {
      campaignId: 'k-b',
      stacking: { exclusive: false, group: '', priority: 1 },
    });
    const amt = coupon(amount(2000n), {
      campaignId: 'k-a',
      stacking: { exclusive: false, group: '', priority: 1 },
    });
    const first = coupon(amount(1000n), {
      campaignId: 'k-z',
      stacking: { exclusive: false, group: '', priority: 0 },
    });
    const q = quote([pct, amt, first], basket(), NOW);
    // 10000 - 1000 (priority 0) = 9000; - 2000 (k-a) = 7000; 10% of 7000 = 700 (k-b)
    expect(lines(q)).toEqual([
      [first.couponId, 1000n, ''],
      [amt.couponId, 2000n, ''],
      [pct.couponId, 700n, ''],
    ]);
    expect([q.totalDiscount, q.due]).toEqual([3700n, 6300n]);
    // the order asked does not matter
    expect(quote([first, pct, amt], basket(), NOW)).toEqual(q);
  });

  it('never below zero: later coupons get what is left, then nothing', () => {
    const a = coupon(amount(6000n), { stacking: { exclusive: false, group: '', priority: 0 } });
    const b = coupon(amount(6000n), { stacking: { exclusive: false, group: '', priority: 1 } });
    const c = coupon(amount(6000n), { stacking: { exclusive: false, group: '', priority: 2 } });
    const q = quote([a, b, c], basket(), NOW);
    expect(lines(q)).toEqual([
      [a.couponId, 6000n, ''],
      [b.couponId, 4000n, ''],
      [c.couponId, 0n, 'NOTHING_LEFT_TO_DISCOUNT'],
    ]);
    expect([q.totalDiscount, q.due]).toEqual([10_000n, 0n]);
  });

  it('one coupon per group: the larger discount wins, ties by (priority, campaign id)', () => {
    const g = (d: DiscountRule, campaignId: string, priority = 0) =>
      coupon(d, { campaignId, stacking: { exclusive: false, group: 'food', priority } });
    const small = g(amount(500n), 'k-1');
    const big = g(percent(1000), 'k-2');
    const other = coupon(amount(100n), { stacking: { exclusive: false, group: 'drinks', priority: 5 } });
    expect(lines(quote([small, big, other], basket(), NOW))).toEqual([
      [big.couponId, 1000n, ''],
      [other.couponId, 100n, ''],
      [small.couponId, 0n, 'STACKING_GROUP_TAKEN'],
    ]);
    const tieA = g(amount(500n), 'k-b');
    const tieB = g(amount(500n), 'k-a');
    expect(lines(quote([tieA, tieB], basket(), NOW))).toEqual([
      [tieB.couponId, 500n, ''],
      [tieA.couponId, 0n, 'STACKING_GROUP_TAKEN'],
    ]);
    // two coupons of one campaign (its own group) never stack
    const one = coupon(amount(300n), { campaignId: 'k-same' });
    const two = coupon(amount(300n), { campaignId: 'k-same' });
    expect(quote([one, two], basket(), NOW).totalDiscount).toBe(300n);
  });

  it('an exclusive coupon is applied alone when it gives more than the others together', () => {
    const ex = coupon(amount(3000n), { stacking: { exclusive: true, group: '', priority: 9 } });
    const a = coupon(amount(1000n));
    const b = coupon(amount(1500n));
    const q = quote([a, ex, b], basket(), NOW);
    expect(lines(q)).toEqual([
      [ex.couponId, 3000n, ''],
      [a.couponId, 0n, 'STACKING_EXCLUSIVE'],
      [b.couponId, 0n, 'STACKING_EXCLUSIVE'],
    ]);
    expect(q.due).toBe(7000n);
  });

  it('the others together win over an exclusive coupon that gives less; a tie goes to the exclusive', () => {
    const ex = coupon(amount(2000n), { stacking: { exclusive: true, group: '', priority: 0 } });
    const a = coupon(amount(1000n));
    const b = coupon(amount(1500n));
    expect(lines(quote([ex, a, b], basket(), NOW))).toEqual([
      [a.couponId, 1000n, ''],
      [b.couponId, 1500n, ''],
      [ex.couponId, 0n, 'STACKING_EXCLUSIVE'],
    ]);
    const tie = coupon(amount(2500n), { stacking: { exclusive: true, group: '', priority: 0 } });
    expect(quote([a, b, tie], basket(), NOW).lines[0]).toEqual({
      couponId: tie.couponId,
      discount: 2500n,
      reason: '',
    });
  });

  it('of several exclusive coupons only the largest can apply', () => {
    const x1 = coupon(percent(2000), { stacking: { exclusive: true, group: '', priority: 0 } });
    const x2 = coupon(amount(2500n), { stacking: { exclusive: true, group: '', priority: 0 } });
    expect(lines(quote([x1, x2], basket(), NOW))).toEqual([
      [x2.couponId, 2500n, ''],
      [x1.couponId, 0n, 'STACKING_EXCLUSIVE'],
    ]);
  });

  it('an ineligible exclusive coupon does not block the others', () => {
    const ex = coupon(amount(9000n), {
      stacking: { exclusive: true, group: '', priority: 0 },
      expiresAt: NOW,
    });
    const a = coupon(amount(1000n));
    expect(lines(quote([ex, a], basket(), NOW))).toEqual([
      [a.couponId, 1000n, ''],
      [ex.couponId, 0n, 'COUPON_EXPIRED'],
    ]);
  });

  it('a coupon asked twice counts once', () => {
    const a = coupon(amount(1000n));
    expect(lines(quote([a, a], basket(), NOW))).toEqual([
      [a.couponId, 1000n, ''],
      [a.couponId, 0n, 'DUPLICATE_COUPON'],
    ]);
  });

  it('seeded random baskets: the discount is never negative nor beyond the basket, and due = total - discount', () => {
    let state = 42;
    const rnd = (n: number) => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state % n;
    };
    for (let i = 0; i < 500; i += 1) {
      const coupons = Array.from({ length: 1 + rnd(6) }, () => {
        const rules: DiscountRule[] = [
          amount(BigInt(1 + rnd(5000))),
          percent(1 + rnd(10_000), rnd(2) ? BigInt(1 + rnd(3000)) : undefined),
          { kind: 'threshold', spend: BigInt(1 + rnd(8000)), save: BigInt(1 + rnd(4000)) },
          { kind: 'free_item', itemCode: 'coffee', value: BigInt(1 + rnd(2000)) },
        ];
        return coupon(rules[rnd(4)] as DiscountRule, {
          stacking: { exclusive: rnd(4) === 0, group: ['', 'a', 'b'][rnd(3)] as string, priority: rnd(3) },
        });
      });
      const b = basket({ total: BigInt(rnd(10_000)) });
      const q = quote(coupons, b, NOW);
      expect(q.totalDiscount >= 0n && q.totalDiscount <= b.total).toBe(true);
      expect(q.due).toBe(b.total - q.totalDiscount);
      expect(q.lines.reduce((s, l) => s + l.discount, 0n)).toBe(q.totalDiscount);
      expect(q.lines.every((l) => l.discount >= 0n && l.discount > 0n === (l.reason === ''))).toBe(true);
      const applied = coupons.filter((c) =>
        q.lines.some((l) => l.couponId === c.couponId && l.discount > 0n),
      );
      if (applied.some((c) => c.stacking.exclusive)) expect(applied).toHaveLength(1);
      expect(quote([...coupons].reverse(), b, NOW).totalDiscount).toBe(q.totalDiscount);
    }
  });
});
