import {
  CURRENCY,
  DomainError,
  fromTimestamp,
  ProtoTimestamp,
  requestId,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import { RedemptionStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import type { QuoteBasket } from './quote.domain';
import { RedemptionsErrors } from './redemptions.errors';

/**
 * Pure rules of redemptions (no I/O): requests validated into commands (INVALID_ARGUMENT naming
 * the proto field, before anything is read), and what confirming or cancelling a redemption in a
 * given state does.
 */

interface TenancyInput {
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
}

interface BasketInput {
  tenancy?: TenancyInput;
  scenario?: number;
  total?: { currency: string; amountMinor: bigint };
  itemCodes?: string[];
}

/** Coupons one quote may name. */
export const MAX_QUOTE_COUPONS = 10;
/** Item codes one basket may carry. */
export const MAX_ITEM_CODES = 100;
/** Longest reservation, seconds. */
export const MAX_RESERVATION_TTL_SECONDS = 3600;
/** Baskets up to a trillion minor units (sums stay far inside int64). */
const MAX_TOTAL = 1_000_000_000_000n;
const ITEM_CODE = { max: 64 };

function optionalTenantId(field: string, value: string | undefined): string {
  return value ? requiredString(field, value, TENANT_ID) : '';
}

/** A basket: where (operator required; project and merchant optional), scenario, total, items. */
export function toBasket(field: string, b: BasketInput | undefined): QuoteBasket {
  if (!b) throw DomainError.invalid(field, 'is required');
  const scenario = b.scenario ?? 0;
  if (scenario !== 0 && !Object.values(PaymentScenario).includes(scenario))
    throw DomainError.invalid(`${field}.scenario`, `unknown value ${scenario}`);
  if (!b.total) throw DomainError.invalid(`${field}.total`, 'is required');
  const currency = requiredString(`${field}.total.currency`, b.total.currency, CURRENCY);
  const total = b.total.amountMinor;
  if (typeof total !== 'bigint' || total < 0n)
    throw DomainError.invalid(`${field}.total.amount_minor`, 'must not be negative');
  if (total > MAX_TOTAL)
    throw DomainError.invalid(`${field}.total.amount_minor`, `must be at most ${MAX_TOTAL}`);
  const items = b.itemCodes ?? [];
  if (items.length > MAX_ITEM_CODES)
    throw DomainError.invalid(`${field}.item_codes`, `must have at most ${MAX_ITEM_CODES} items`);
  return {
    operatorId: requiredString(`${field}.tenancy.operator_id`, b.tenancy?.operatorId, TENANT_ID),
    projectId: optionalTenantId(`${field}.tenancy.project_id`, b.tenancy?.projectId),
    merchantId: optionalTenantId(`${field}.tenancy.merchant_id`, b.tenancy?.merchantId),
    scenario: scenario as PaymentScenario,
    currency,
    total,
    itemCodes: items.map((c, i) => requiredString(`${field}.item_codes[${i}]`, c, ITEM_CODE)),
  };
}

export interface QuoteQuery {
  userId: string;
  basket: QuoteBasket;
  couponIds: string[];
}

export function toQuoteQuery(req: {
  userId?: string;
  basket?: BasketInput;
  couponIds?: string[];
}): QuoteQuery {
  const ids = req.couponIds ?? [];
  if (ids.length === 0) throw DomainError.invalid('coupon_ids', 'is required');
  if (ids.length > MAX_QUOTE_COUPONS)
    throw DomainError.invalid('coupon_ids', `must have at most ${MAX_QUOTE_COUPONS} coupons`);
  return {
    userId: requiredString('user_id', req.userId, TENANT_ID),
    basket: toBasket('basket', req.basket),
    couponIds: ids.map((id, i) => requiredUuid(`coupon_ids[${i}]`, id)),
  };
}

export interface ReserveCouponCommand {
  requestId: string;
  userId: string;
  couponId: string;
  basket: QuoteBasket;
  reference: string;
  /** 0: the server's default. */
  ttlSeconds: number;
}

export function toReserveCouponCommand(req: {
  requestId?: string;
  userId?: string;
  couponId?: string;
  basket?: BasketInput;
  reference?: string;
  ttlSeconds?: number;
}): ReserveCouponCommand {
  const ttl = req.ttlSeconds ?? 0;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_RESERVATION_TTL_SECONDS)
    throw DomainError.invalid(
      'ttl_seconds',
      `must be from 0 to ${MAX_RESERVATION_TTL_SECONDS} (0 means the default)`,
    );
  return {
    requestId: requestId(req.requestId),
    userId: requiredString('user_id', req.userId, TENANT_ID),
    couponId: requiredUuid('coupon_id', req.couponId),
    basket: toBasket('basket', req.basket),
    reference: requiredString('reference', req.reference, { max: 128 }),
    ttlSeconds: ttl,
  };
}

export interface EndRedemptionCommand {
  requestId: string;
  /** '' when the request names no operator; else another operator's redemption is not found. */
  operatorId: string;
  redemptionId: string;
}

export function toEndRedemptionCommand(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  redemptionId?: string;
}): EndRedemptionCommand {
  return {
    requestId: requestId(req.requestId),
    operatorId: optionalTenantId('tenancy.operator_id', req.tenancy?.operatorId),
    redemptionId: requiredUuid('redemption_id', req.redemptionId),
  };
}

export interface IssueTokenCommand {
  operatorId: string;
  projectId: string;
  userId: string;
  couponId: string;
  /** As asked (0: default); tokenTtl decides. */
  ttlSeconds: number;
}

export function toIssueTokenCommand(req: {
  tenancy?: TenancyInput;
  userId?: string;
  couponId?: string;
  ttlSeconds?: number;
}): IssueTokenCommand {
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: optionalTenantId('tenancy.project_id', req.tenancy?.projectId),
    userId: requiredString('user_id', req.userId, TENANT_ID),
    couponId: requiredUuid('coupon_id', req.couponId),
    ttlSeconds: req.ttlSeconds ?? 0,
  };
}

export interface RedeemTokenCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  merchantId: string;
  token: string;
  basket: QuoteBasket;
  /** Epoch ms; undefined: now. */
  scannedAtMs: number | undefined;
}

export function toRedeemTokenCommand(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  token?: string;
  basket?: BasketInput;
  scannedAt?: ProtoTimestamp;
}): RedeemTokenCommand {
  const operatorId = requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID);
  const merchantId = requiredString('tenancy.merchant_id', req.tenancy?.merchantId, TENANT_ID);
  const projectId = optionalTenantId('tenancy.project_id', req.tenancy?.projectId);
  const basket = toBasket('basket', req.basket);
  if (basket.operatorId !== operatorId || basket.merchantId !== merchantId || basket.projectId !== projectId)
    throw DomainError.invalid('basket.tenancy', 'must be the redeeming merchant (tenancy)');
  let scannedAtMs: number | undefined;
  if (req.scannedAt) {
    scannedAtMs = fromTimestamp(req.scannedAt).getTime();
    if (!Number.isFinite(scannedAtMs)) throw DomainError.invalid('scanned_at', 'is not a valid time');
  }
  return {
    requestId: requestId(req.requestId),
    operatorId,
    projectId,
    merchantId,
    token: requiredString('token', req.token, { max: 4096 }),
    basket,
    scannedAtMs,
  };
}

// ---- rules ----

export type RedemptionState = 'HELD' | 'CONFIRMED' | 'CANCELLED' | 'EXPIRED' | 'ROLLED_BACK';

export const REDEMPTION_STATUS_PROTO: Record<RedemptionState, RedemptionStatus> = {
  HELD: RedemptionStatus.REDEMPTION_STATUS_HELD,
  CONFIRMED: RedemptionStatus.REDEMPTION_STATUS_CONFIRMED,
  CANCELLED: RedemptionStatus.REDEMPTION_STATUS_CANCELLED,
  EXPIRED: RedemptionStatus.REDEMPTION_STATUS_EXPIRED,
  ROLLED_BACK: RedemptionStatus.REDEMPTION_STATUS_ROLLED_BACK,
};

/**
 * What confirming (or cancelling) a checkout redemption does: a HELD one past its deadline expires
 * (a confirmation then fails REDEMPTION_EXPIRED, a cancellation answers it expired); a HELD one is
 * confirmed (cancelled); one already in the asked state is answered unchanged (a retried payment
 * confirms once); one that ended otherwise is refused naming its state.
 */
export function decideEnd(
  r: { redemptionId: string; status: RedemptionState; expiresAt: Date },
  asked: 'confirm' | 'cancel',
  now: Date,
): 'apply' | 'expire' | 'unchanged' {
  const askedStatus: RedemptionState = asked === 'confirm' ? 'CONFIRMED' : 'CANCELLED';
  if (r.status === 'HELD') return r.expiresAt.getTime() <= now.getTime() ? 'expire' : 'apply';
  if (r.status === askedStatus) return 'unchanged';
  if (r.status === 'EXPIRED' && asked === 'confirm')
    throw RedemptionsErrors.redemptionExpired(r.redemptionId);
  throw RedemptionsErrors.redemptionEnded(r.redemptionId, r.status);
}

/** When a reservation asked for now with `ttlSeconds` (0: `defaultTtl`) expires. */
export function reservationExpiry(now: Date, ttlSeconds: number, defaultTtl: number): Date {
  return new Date(now.getTime() + (ttlSeconds === 0 ? defaultTtl : ttlSeconds) * 1000);
}

/**
 * Whether a refund makes the payment fully refunded: `refunded_total` reaches what was paid, the
 * basket less every confirmed discount on that reference (docs/marketing.md "refund rollback").
 */
export function isFullRefund(refundedTotal: bigint, paid: bigint): boolean {
  return refundedTotal >= paid;
}

/** Where a coupon goes when its hold or redemption ends unused: back to use, or expired. */
export function releasedCouponStatus(expiresAt: Date, now: Date): 'AVAILABLE' | 'EXPIRED' {
  return expiresAt.getTime() <= now.getTime() ? 'EXPIRED' : 'AVAILABLE';
}
