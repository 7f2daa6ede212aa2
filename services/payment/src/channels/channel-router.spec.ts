import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { seededRandom as seeded } from '@citybase/platform/testing';
import { RankableRule, rankChannels } from './channel-router';

const PARKING = PaymentScenario.PAYMENT_SCENARIO_PARKING;
const PROPERTY_FEE = PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE;
const GOODS = PaymentScenario.PAYMENT_SCENARIO_GOODS;

const rule = (channelId: string, over: Partial<RankableRule> = {}): RankableRule => ({
  channelId,
  priority: 0,
  weight: 1,
  scenarios: [],
  minAmountMinor: 0n,
  maxAmountMinor: 0n,
  usable: true,
  ...over,
});

const q = (scenario = PARKING, amountMinor = 1_000n) => ({ scenario, amountMinor });

describe('rankChannels', () => {
  it('orders by priority, lowest first, whatever order the rules come in', () => {
    const rules = [rule('c', { priority: 20 }), rule('a', { priority: 0 }), rule('b', { priority: 10 })];
    expect(rankChannels(rules, q(), seeded(1))).toEqual(['a', 'b', 'c']);
  });

  it('splits the first choice of one priority by weight: 70/20/10 over 10,000 draws within ±3 points', () => {
    const rules = [
      rule('wechat', { weight: 7000 }),
      rule('alipay', { weight: 2000 }),
      rule('bank', { weight: 1000 }),
      rule('fallback', { priority: 5, weight: 10_000 }),
    ];
    const random = seeded(42);
    const first = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const order = rankChannels(rules, q(), random);
      // every draw is a full order: the three of priority 0 in some order, then the fallback
      expect(order).toHaveLength(4);
      expect(new Set(order.slice(0, 3))).toEqual(new Set(['wechat', 'alipay', 'bank']));
      expect(order[3]).toBe('fallback');
      first.set(order[0]!, (first.get(order[0]!) ?? 0) + 1);
    }
    const share = (id: string) => (first.get(id) ?? 0) / 10_000;
    expect(Math.abs(share('wechat') - 0.7)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(share('alipay') - 0.2)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(share('bank') - 0.1)).toBeLessThanOrEqual(0.03);
  });

  it('draws the fallbacks of one priority by weight too (without replacement)', () => {
    // after "a" (weight 1) is drawn first, "b" (8) should come second ~8/9 of the time vs "c" (1)
    const rules = [rule('a', { weight: 1 }), rule('b', { weight: 8 }), rule('c', { weight: 1 })];
    const random = seeded(7);
    let aFirst = 0;
    let bSecond = 0;
    for (let i = 0; i < 10_000; i++) {
      const order = rankChannels(rules, q(), random);
      if (order[0] !== 'a') continue;
      aFirst++;
      if (order[1] === 'b') bSecond++;
    }
    expect(aFirst).toBeGreaterThan(500);
    expect(Math.abs(bSecond / aFirst - 8 / 9)).toBeLessThanOrEqual(0.03);
  });

  it('is deterministic for an injected random: the lowest draw picks the first rule, the highest the last', () => {
    const rules = [rule('a', { weight: 1 }), rule('b', { weight: 1 })];
    expect(rankChannels(rules, q(), () => 0)).toEqual(['a', 'b']);
    expect(rankChannels(rules, q(), () => 0.9999)).toEqual(['b', 'a']);
    // out-of-range draws are clamped, never index past the list
    expect(rankChannels(rules, q(), () => 1)).toEqual(['b', 'a']);
    expect(rankChannels(rules, q(), () => -3)).toEqual(['a', 'b']);
  });

  it('keeps only rules whose scenarios include the payment scenario (empty = every scenario)', () => {
    const rules = [
      rule('parking-only', { scenarios: [PARKING] }),
      rule('fees', { scenarios: [PROPERTY_FEE, GOODS] }),
      rule('any', { priority: 9 }),
    ];
    expect(rankChannels(rules, q(PARKING), seeded(3))).toEqual(['parking-only', 'any']);
    expect(rankChannels(rules, q(GOODS), seeded(3))).toEqual(['fees', 'any']);
    expect(rankChannels(rules, q(PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING), seeded(3))).toEqual(['any']);
  });

  it('keeps only rules whose inclusive amount bounds hold (max 0 = no upper bound)', () => {
    const rules = [
      rule('small', { minAmountMinor: 1n, maxAmountMinor: 10_000n }),
      rule('large', { minAmountMinor: 10_001n, priority: 1 }),
    ];
    expect(rankChannels(rules, q(PARKING, 1n), seeded(1))).toEqual(['small']);
    expect(rankChannels(rules, q(PARKING, 10_000n), seeded(1))).toEqual(['small']);
    expect(rankChannels(rules, q(PARKING, 10_001n), seeded(1))).toEqual(['large']);
    expect(rankChannels(rules, q(PARKING, 9_007_199_254_740_993n), seeded(1))).toEqual(['large']);
    expect(rankChannels(rules, q(PARKING, 0n), seeded(1))).toEqual([]);
  });

  it('skips unusable rules (channel or account disabled, no adapter) without letting their weight count', () => {
    const rules = [
      rule('disabled', { weight: 9_999, usable: false }),
      rule('on', { weight: 1 }),
      rule('later', { priority: 3 }),
    ];
    const random = seeded(5);
    for (let i = 0; i < 100; i++) expect(rankChannels(rules, q(), random)).toEqual(['on', 'later']);
    expect(rankChannels([rule('x', { usable: false })], q(), random)).toEqual([]);
  });

  it('lists a channel once: at its best priority, with the weights of its rules of that priority added', () => {
    const rules = [
      rule('a', { priority: 0, weight: 1 }),
      rule('b', { priority: 0, weight: 1 }),
      rule('b', { priority: 0, weight: 2, scenarios: [PARKING] }),
      rule('a', { priority: 7 }),
      rule('b', { priority: 9 }),
    ];
    const random = seeded(11);
    let bFirst = 0;
    for (let i = 0; i < 10_000; i++) {
      const order = rankChannels(rules, q(PARKING), random);
      expect(order.sort()).toEqual(['a', 'b']);
      if (rankChannels(rules, q(PARKING), () => i / 10_000)[0] === 'b') bFirst++;
    }
    // b carries 1 + 2 = 3 of the 4 weight units of priority 0
    expect(bFirst / 10_000).toBeCloseTo(0.75, 2);
  });

  it('returns nothing when no rule applies', () => {
    expect(rankChannels([], q(), seeded(1))).toEqual([]);
  });
});
