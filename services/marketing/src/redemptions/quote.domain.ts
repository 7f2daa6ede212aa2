import { BASIS_POINTS_PER_UNIT, divideRounded } from '@citybase/platform';
import { CouponStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';

/**
 * The quote (docs/marketing.md "quote"): a pure function of a basket and a holder's coupons. Which
 * coupons apply (state, validity, currency, where, threshold, item), then stacking: exclusive
 * coupons are applied alone, the larger discount winning against the best combination of the
 * others; at most one coupon per group; the winners in order (priority, campaign id) each take
 * their discount from what the basket still costs; never below zero. Reserve re-runs it inside the
 * coupon's lock; QuoteDiscount only reports it.
 */

/** A coupon's discount rule, amounts in the campaign's currency's minor units. */
export type DiscountRule =
  | { kind: 'amount_off'; amount: bigint }
  | { kind: 'percent_off'; basisPoints: number; cap: bigint | undefined }
  | { kind: 'threshold'; spend: bigint; save: bigint }
  | { kind: 'free_item'; itemCode: string; value: bigint };

/** Where a coupon can be used: the campaign's tenancy narrowed by its targeting (empty: any). */
export interface CouponScope {
  operatorId: string;
  /** '' unless the campaign is narrowed to one project. */
  projectId: string;
  /** '' unless the campaign is one merchant's. */
  merchantId: string;
  projectIds: readonly string[];
  merchantIds: readonly string[];
  scenarios: readonly PaymentScenario[];
}

export interface StackingRule {
  exclusive: boolean;
  /** '' means the campaign's own group. */
  group: string;
  priority: number;
}

/** What the quote needs of one coupon and its campaign. */
export interface QuoteCoupon {
  couponId: string;
  campaignId: string;
  status: CouponStatus;
  expiresAt: Date;
  currency: string;
  discount: DiscountRule;
  scope: CouponScope;
  stacking: StackingRule;
}

export interface QuoteBasket {
  operatorId: string;
  projectId: string;
  merchantId: string;
  scenario: PaymentScenario;
  currency: string;
  total: bigint;
  itemCodes: readonly string[];
}

/** Why a coupon takes nothing off this basket. */
export type NotApplied =
  | 'COUPON_RESERVED'
  | 'COUPON_REDEEMED'
  | 'COUPON_EXPIRED'
  | 'CURRENCY_MISMATCH'
  | 'NOT_TARGETED'
  | 'THRESHOLD_NOT_MET'
  | 'ITEM_NOT_IN_BASKET'
  | 'STACKING_EXCLUSIVE'
  | 'STACKING_GROUP_TAKEN'
  | 'NOTHING_LEFT_TO_DISCOUNT'
  | 'DUPLICATE_COUPON';

export interface QuoteLine {
  couponId: string;
  discount: bigint;
  /** '' when the coupon applies. */
  reason: NotApplied | '';
}

export interface Quote {
  /** Applied coupons in application order, then the others in the order asked. */
  lines: QuoteLine[];
  totalDiscount: bigint;
  due: bigint;
}

/** Why this coupon cannot apply to this basket at all (before stacking), or undefined. */
export function ineligibility(c: QuoteCoupon, basket: QuoteBasket, now: Date): NotApplied | undefined {
  switch (c.status) {
    case CouponStatus.COUPON_STATUS_AVAILABLE:
      break;
    case CouponStatus.COUPON_STATUS_RESERVED:
      return 'COUPON_RESERVED';
    case CouponStatus.COUPON_STATUS_REDEEMED:
      return 'COUPON_REDEEMED';
    case CouponStatus.COUPON_STATUS_EXPIRED:
    case CouponStatus.COUPON_STATUS_UNSPECIFIED:
    case CouponStatus.UNRECOGNIZED:
      return 'COUPON_EXPIRED';
  }
  if (c.expiresAt.getTime() <= now.getTime()) return 'COUPON_EXPIRED';
  if (c.currency !== basket.currency) return 'CURRENCY_MISMATCH';
  if (!targets(c.scope, basket)) return 'NOT_TARGETED';
  const d = c.discount;
  if (d.kind === 'threshold' && basket.total < d.spend) return 'THRESHOLD_NOT_MET';
  if (d.kind === 'free_item' && !basket.itemCodes.includes(d.itemCode)) return 'ITEM_NOT_IN_BASKET';
  return undefined;
}

/** The campaign's operator, its project and merchant if narrowed, and its targeting lists. */
export function targets(s: CouponScope, b: QuoteBasket): boolean {
  if (s.operatorId !== b.operatorId) return false;
  if (s.projectId !== '' && s.projectId !== b.projectId) return false;
  if (s.merchantId !== '' && s.merchantId !== b.merchantId) return false;
  if (s.projectIds.length > 0 && !s.projectIds.includes(b.projectId)) return false;
  if (s.merchantIds.length > 0 && !s.merchantIds.includes(b.merchantId)) return false;
  if (s.scenarios.length > 0 && !s.scenarios.includes(b.scenario)) return false;
  return true;
}

/**
 * What a rule takes off when the basket still costs `remaining` (at most `remaining`). A percentage
 * is rounded down (the holder never gets more than the rule says); the threshold is judged on the
 * whole basket (ineligibility), its saving on what is left.
 */
export function discountOn(rule: DiscountRule, remaining: bigint): bigint {
  if (remaining <= 0n) return 0n;
  let d: bigint;
  switch (rule.kind) {
    case 'amount_off':
      d = rule.amount;
      break;
    case 'percent_off': {
      d = divideRounded(remaining * BigInt(rule.basisPoints), BASIS_POINTS_PER_UNIT, 'down');
      if (rule.cap !== undefined && d > rule.cap) d = rule.cap;
      break;
    }
    case 'threshold':
      d = rule.save;
      break;
    case 'free_item':
      d = rule.value;
      break;
  }
  return d < remaining ? d : remaining;
}

/** The stacking group a coupon competes in: its campaign's own when it names none. */
export function groupOf(c: QuoteCoupon): string {
  return c.stacking.group === '' ? `campaign:${c.campaignId}` : `group:${c.stacking.group}`;
}

/** Application order: (priority, campaign id), then coupon id so two of one campaign are ordered too. */
export function byApplicationOrder(a: QuoteCoupon, b: QuoteCoupon): number {
  if (a.stacking.priority !== b.stacking.priority) return a.stacking.priority - b.stacking.priority;
  if (a.campaignId !== b.campaignId) return a.campaignId < b.campaignId ? -1 : 1;
  return a.couponId < b.couponId ? -1 : a.couponId > b.couponId ? 1 : 0;
}

/** The larger discount on the whole basket first; ties by application order. */
function byValueThenOrder(total: bigint) {
  return (a: QuoteCoupon, b: QuoteCoupon): number => {
    const da = discountOn(a.discount, total);
    const db = discountOn(b.discount, total);
    if (da !== db) return da > db ? -1 : 1;
    return byApplicationOrder(a, b);
  };
}

/** Applies coupons in application order, each on what the basket still costs. */
function applyInOrder(coupons: readonly QuoteCoupon[], total: bigint): QuoteLine[] {
  let remaining = total;
  return [...coupons].sort(byApplicationOrder).map((c) => {
    const discount = discountOn(c.discount, remaining);
    remaining -= discount;
    return { couponId: c.couponId, discount, reason: discount === 0n ? 'NOTHING_LEFT_TO_DISCOUNT' : '' };
  });
}

const sum = (lines: readonly QuoteLine[]) => lines.reduce((s, l) => s + l.discount, 0n);

/**
 * The quote of `coupons` (in the order asked) on `basket` at `now`. Deterministic: the same
 * coupons in any order give the same discounts.
 */
export function quote(coupons: readonly QuoteCoupon[], basket: QuoteBasket, now: Date): Quote {
  const refused = new Map<string, NotApplied>();
  const seen = new Set<string>();
  const candidates: QuoteCoupon[] = [];
  const asked: string[] = [];
  for (const c of coupons) {
    asked.push(c.couponId);
    if (seen.has(c.couponId)) continue;
    seen.add(c.couponId);
    const why = ineligibility(c, basket, now);
    if (why) refused.set(c.couponId, why);
    else candidates.push(c);
  }

  // one per group: the larger discount on the whole basket wins the group
  const winners: QuoteCoupon[] = [];
  const groups = new Map<string, QuoteCoupon[]>();
  for (const c of candidates) groups.set(groupOf(c), [...(groups.get(groupOf(c)) ?? []), c]);
  for (const members of groups.values()) {
    const [best, ...rest] = [...members].sort(byValueThenOrder(basket.total));
    if (best) winners.push(best);
    for (const r of rest) refused.set(r.couponId, 'STACKING_GROUP_TAKEN');
  }

  // an exclusive coupon is applied alone: the best one against the best combination of the others
  const exclusives = winners.filter((c) => c.stacking.exclusive).sort(byValueThenOrder(basket.total));
  const combinable = winners.filter((c) => !c.stacking.exclusive);
  const combined = applyInOrder(combinable, basket.total);
  let applied = combined;
  const [bestExclusive] = exclusives;
  if (bestExclusive) {
    const alone = applyInOrder([bestExclusive], basket.total);
    // on a tie the exclusive coupon wins: the holder keeps the other coupons for later
    if (sum(alone) >= sum(combined)) {
      applied = alone;
      for (const c of combinable) refused.set(c.couponId, 'STACKING_EXCLUSIVE');
    } else {
      refused.set(bestExclusive.couponId, 'STACKING_EXCLUSIVE');
    }
    for (const c of exclusives.slice(1)) refused.set(c.couponId, 'STACKING_EXCLUSIVE');
  }

  const lines: QuoteLine[] = [...applied];
  const listed = new Set<string>();
  const inApplied = new Set(applied.map((l) => l.couponId));
  for (const id of asked) {
    if (listed.has(id)) {
      lines.push({ couponId: id, discount: 0n, reason: 'DUPLICATE_COUPON' });
      continue;
    }
    listed.add(id);
    if (inApplied.has(id)) continue;
    lines.push({ couponId: id, discount: 0n, reason: refused.get(id) ?? 'NOTHING_LEFT_TO_DISCOUNT' });
  }
  const totalDiscount = sum(applied);
  return { lines, totalDiscount, due: basket.total - totalDiscount };
}

/** The most a rule can take off any basket (a percentage without a cap: the whole basket). */
export function ruleCeiling(rule: DiscountRule): bigint | undefined {
  switch (rule.kind) {
    case 'amount_off':
      return rule.amount;
    case 'percent_off':
      return rule.cap;
    case 'threshold':
      return rule.save;
    case 'free_item':
      return rule.value;
  }
}
