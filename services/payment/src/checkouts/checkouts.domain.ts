import {
  DomainError,
  keyPart,
  optionalString,
  pageCursor,
  PageRequestLike,
  parsePage,
  requestId,
  requiredEnum,
  requiredMoney,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';

/**
 * Pure rules of checkouts (no I/O): requests validated into commands (INVALID_ARGUMENT naming the
 * proto field and the rule, before anything is read or written), the money due, the lifetimes of
 * the reservations, and the refund rule (docs/payment-checkout.md).
 */

export const DEFAULT_EXPIRES_IN_SECONDS = 900;
export const MIN_EXPIRES_IN_SECONDS = 60;
/**
 * Points and marketing hold a reservation at most 3600 s; a reservation must outlive the payment's
 * expiry plus RESERVATION_MARGIN_SECONDS (the channel-poll job closing the order at the channel,
 * the checkout job confirming), so a checkout's payment expires after at most 3000 s.
 */
export const MAX_EXPIRES_IN_SECONDS = 3000;
export const RESERVATION_MARGIN_SECONDS = 600;
export const MAX_RESERVATION_TTL_SECONDS = 3600;
export const MAX_ITEM_CODES = 100;

/** Lifetime asked of the coupon and points reservations: the payment's expiry + margin. */
export function reservationTtlSeconds(expiresInSeconds: number): number {
  return Math.min(MAX_RESERVATION_TTL_SECONDS, expiresInSeconds + RESERVATION_MARGIN_SECONDS);
}

export interface CreateCheckoutCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  merchantId: string;
  scenario: PaymentScenario;
  currency: string;
  totalMinor: bigint;
  itemCodes: string[];
  userId: string;
  pointsHolderId: string;
  couponId: string;
  couponCode: string;
  points: bigint;
  payerRef: string;
  description: string;
  expiresInSeconds: number;
  profitSharing: boolean;
}

interface TenancyInput {
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
}

export function toCreateCheckoutCommand(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  merchantId?: string;
  scenario?: number;
  total?: { currency?: string; amountMinor?: bigint };
  itemCodes?: string[];
  userId?: string;
  pointsHolderId?: string;
  couponId?: string;
  couponCode?: string;
  points?: bigint;
  payerRef?: string;
  description?: string;
  expiresInSeconds?: number;
  profitSharing?: boolean;
}): CreateCheckoutCommand {
  const base = {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: requiredString('tenancy.project_id', req.tenancy?.projectId, TENANT_ID),
    merchantId: requiredString('merchant_id', req.merchantId, TENANT_ID),
  };
  const tenancyMerchant = (req.tenancy?.merchantId ?? '').trim();
  if (tenancyMerchant !== '' && tenancyMerchant !== base.merchantId) {
    throw DomainError.invalid('tenancy.merchant_id', 'must be empty or equal merchant_id');
  }
  const scenario = requiredEnum('scenario', req.scenario, PaymentScenario) as PaymentScenario;
  const total = requiredMoney('total', req.total as never, { currencies: ['CNY'] });
  const itemCodes = req.itemCodes ?? [];
  if (itemCodes.length > MAX_ITEM_CODES) {
    throw DomainError.invalid('item_codes', `at most ${MAX_ITEM_CODES}`);
  }
  itemCodes.forEach((c, i) => requiredString(`item_codes[${i}]`, c, { max: 64 }));
  const userId = requiredString('user_id', req.userId, TENANT_ID);
  const couponId = optionalString('coupon_id', req.couponId, { max: 64 });
  const couponCode = optionalString('coupon_code', req.couponCode, { max: 64 });
  if (couponId !== '' && couponCode !== '') {
    throw DomainError.invalid('coupon_code', 'at most one of coupon_id and coupon_code');
  }
  const points = req.points ?? 0n;
  if (points < 0n) throw DomainError.invalid('points', 'must be >= 0');
  return {
    ...base,
    scenario,
    currency: total.currency,
    totalMinor: total.amountMinor,
    itemCodes,
    userId,
    pointsHolderId: optionalString('points_holder_id', req.pointsHolderId, TENANT_ID) || userId,
    couponId,
    couponCode,
    points,
    payerRef: requiredString('payer_ref', req.payerRef, { max: 128 }),
    description: optionalString('description', req.description, { max: 256 }),
    expiresInSeconds: expiresIn(req.expiresInSeconds),
    profitSharing: req.profitSharing === true,
  };
}

function expiresIn(value: number | undefined): number {
  if (value === undefined || value === 0) return DEFAULT_EXPIRES_IN_SECONDS;
  if (!Number.isInteger(value) || value < MIN_EXPIRES_IN_SECONDS || value > MAX_EXPIRES_IN_SECONDS) {
    throw DomainError.invalid(
      'expires_in_seconds',
      `must be 0 (default ${DEFAULT_EXPIRES_IN_SECONDS}) or ${MIN_EXPIRES_IN_SECONDS}..${MAX_EXPIRES_IN_SECONDS}`,
    );
  }
  return value;
}

export interface CancelCheckoutCommand {
  requestId: string;
  checkoutId: string;
}

export function toCancelCheckoutCommand(req: {
  requestId?: string;
  checkoutId?: string;
}): CancelCheckoutCommand {
  return { requestId: requestId(req.requestId), checkoutId: requiredUuid('checkout_id', req.checkoutId) };
}

export interface RefundCheckoutCommand {
  requestId: string;
  checkoutId: string;
  currency: string;
  amountMinor: bigint;
  reason: string;
}

export function toRefundCheckoutCommand(req: {
  requestId?: string;
  checkoutId?: string;
  amount?: { currency?: string; amountMinor?: bigint };
  reason?: string;
}): RefundCheckoutCommand {
  const base = {
    requestId: requestId(req.requestId),
    checkoutId: requiredUuid('checkout_id', req.checkoutId),
  };
  const amount = requiredMoney('amount', req.amount as never, { currencies: ['CNY'] });
  return {
    ...base,
    currency: amount.currency,
    amountMinor: amount.amountMinor,
    reason: requiredString('reason', req.reason, { max: 200 }),
  };
}

/** Page tokens of the list: newest first, by (created_at, checkout_id). */
export const CHECKOUTS_PAGE = pageCursor('payment.checkouts', keyPart.timestamp, keyPart.uuid);

export interface ListCheckoutsQuery {
  operatorId: string;
  projectId: string;
  userId: string;
  size: number;
  after: { createdAt: string; checkoutId: string } | undefined;
}

export function toListCheckoutsQuery(req: {
  tenancy?: TenancyInput;
  userId?: string;
  page?: PageRequestLike;
}): ListCheckoutsQuery {
  const { size, after } = parsePage(req.page, CHECKOUTS_PAGE);
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: optionalString('tenancy.project_id', req.tenancy?.projectId, TENANT_ID),
    userId: optionalString('user_id', req.userId, TENANT_ID),
    size,
    after: after && { createdAt: after[0], checkoutId: after[1] },
  };
}

/** The parts a price is paid with: total = discount + pointsValue + money. */
export interface Parts {
  totalMinor: bigint;
  discountMinor: bigint;
  points: bigint;
  pointsValueMinor: bigint;
  moneyMinor: bigint;
}

/**
 * The money due once the coupon's discount is known: total - discount - points x point value;
 * undefined when the points would pay more than what is left after the discount.
 */
export function moneyDue(
  totalMinor: bigint,
  discountMinor: bigint,
  points: bigint,
  pointValueMinor: bigint,
): { pointsValueMinor: bigint; moneyMinor: bigint } | undefined {
  const pointsValueMinor = points * pointValueMinor;
  const moneyMinor = totalMinor - discountMinor - pointsValueMinor;
  if (moneyMinor < 0n) return undefined;
  return { pointsValueMinor, moneyMinor };
}

/** What a refund is refused for (undefined: allowed). */
export function refundRefusal(
  c: { status: string; currency: string; totalMinor: bigint; committedRefundMinor: bigint },
  cmd: { currency: string; amountMinor: bigint },
): 'CURRENCY_MISMATCH' | 'CHECKOUT_NOT_COMPLETED' | 'REFUND_EXCEEDS_PRICE' | undefined {
  if (c.status !== 'COMPLETED') return 'CHECKOUT_NOT_COMPLETED';
  if (cmd.currency !== c.currency) return 'CURRENCY_MISMATCH';
  if (c.committedRefundMinor + cmd.amountMinor > c.totalMinor) return 'REFUND_EXCEEDS_PRICE';
  return undefined;
}

/**
 * The refund rule (docs/payment-checkout.md). A refund of R of the full price T gives back the
 * payer's paid share R x (T - D) / T (floor; the coupon's discount D is apportioned over the price
 * and the rest of R is discount given back); of that share the points part is
 * floor(share x P / (P + M)) converted to whole points (floor), the money part is the rest (money
 * absorbs the rounding). The refund that brings the refunded total to T gives back exactly what is
 * left of each part and restores the coupon.
 */
export function refundParts(
  paid: Parts,
  refunded: Parts,
  amountMinor: bigint,
  pointValueMinor: bigint,
): Parts & { couponRestored: boolean } {
  const left: Parts = {
    totalMinor: paid.totalMinor - refunded.totalMinor,
    discountMinor: paid.discountMinor - refunded.discountMinor,
    points: paid.points - refunded.points,
    pointsValueMinor: paid.pointsValueMinor - refunded.pointsValueMinor,
    moneyMinor: paid.moneyMinor - refunded.moneyMinor,
  };
  if (amountMinor >= left.totalMinor) return { ...left, couponRestored: true };
  const T = paid.totalMinor;
  const share = (amountMinor * (T - paid.discountMinor)) / T;
  const P = paid.pointsValueMinor;
  const M = paid.moneyMinor;
  let points = 0n;
  if (P > 0n && pointValueMinor > 0n) {
    const pointsPart = (share * P) / (P + M);
    points = min(pointsPart / pointValueMinor, left.points);
  }
  const pointsValueMinor = min(points * pointValueMinor, left.pointsValueMinor);
  let moneyMinor = share - pointsValueMinor;
  let discountMinor = amountMinor - share;
  // the parts left never go negative: what one part cannot give back, another does
  if (moneyMinor > left.moneyMinor) {
    discountMinor += moneyMinor - left.moneyMinor;
    moneyMinor = left.moneyMinor;
  }
  if (discountMinor > left.discountMinor) {
    moneyMinor += discountMinor - left.discountMinor;
    discountMinor = left.discountMinor;
  }
  return {
    totalMinor: amountMinor,
    discountMinor,
    points,
    pointsValueMinor,
    moneyMinor,
    couponRestored: false,
  };
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
