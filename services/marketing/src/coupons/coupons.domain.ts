import {
  CITY_UTC_OFFSET_HOURS,
  DomainError,
  keyPart,
  optionalString,
  pageCursor,
  parsePage,
  requestId,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import type {
  ClaimCouponRequest,
  GetCouponRequest,
  ListCouponsRequest,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import { GENERIC_CODE, optionalTenantId, toTenancy } from '../campaigns/campaigns.domain';
import type { CampaignRow } from '../campaigns/campaigns.store';
import { UNIQUE_CODE } from '../codes/codes.domain';
import { CouponsErrors } from './coupons.errors';

/**
 * Pure rules of coupons (docs/marketing.md "Coupons"): claim requests validated into commands, the
 * holder counters a claim counts in, a coupon's expiry, and the flash-sale gate's stock.
 */

export const COUPON_STATUSES = ['AVAILABLE', 'RESERVED', 'REDEEMED', 'EXPIRED'] as const;
export type CouponStatusName = (typeof COUPON_STATUSES)[number];

export const COUNTER_SCOPES = ['USER', 'HOUSEHOLD', 'USER_DAY'] as const;
export type CounterScope = (typeof COUNTER_SCOPES)[number];

export interface ClaimCouponCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  /** Exactly one of campaignId and code. */
  campaignId: string | undefined;
  code: string | undefined;
  userId: string;
  householdId: string;
}

export function toClaimCouponCommand(req: Partial<ClaimCouponRequest>): ClaimCouponCommand {
  const id = requestId(req.requestId);
  const t = toTenancy(req.tenancy);
  const rawCampaign = (req.campaignId ?? '').trim();
  const rawCode = (req.code ?? '').trim().toUpperCase();
  if ((rawCampaign === '') === (rawCode === ''))
    throw DomainError.invalid('campaign_id', 'give exactly one of campaign_id and code');
  const campaignId = rawCampaign === '' ? undefined : requiredUuid('campaign_id', rawCampaign);
  if (rawCode !== '' && !GENERIC_CODE.test(rawCode))
    throw DomainError.invalid('code', 'must be 4-32 of A-Z and 0-9');
  return {
    requestId: id,
    operatorId: t.operatorId,
    projectId: t.projectId,
    campaignId,
    code: rawCode === '' ? undefined : rawCode,
    userId: requiredString('user_id', req.userId, TENANT_ID),
    householdId: optionalTenantId('household_id', req.householdId),
  };
}

/** A unique code (16 Crockford base32 characters) rather than a generic one. */
export function isUniqueCode(code: string): boolean {
  return UNIQUE_CODE.test(code);
}

/** The city day (YYYY-MM-DD, UTC+8) of a moment: the USER_DAY counter's day. */
export function cityDay(at: Date): string {
  return new Date(at.getTime() + CITY_UTC_OFFSET_HOURS * 3_600_000).toISOString().slice(0, 10);
}

/** One holder counter a claim counts in: its row in claim_counters and its field in the gate's hash. */
export interface HolderField {
  scope: CounterScope;
  key: string;
  limit: number;
  /** The gate hash's field. */
  field: string;
}

export function counterKey(scope: CounterScope, key: string): string {
  return `${scope === 'USER' ? 'U' : scope === 'HOUSEHOLD' ? 'H' : 'D'}:${key}`;
}

/**
 * The counters a claim counts in: the user's, the household's, the user's of the city day, for
 * each limit the campaign has (0: no limit, no counter). A household limit needs the household.
 */
export function holderFields(
  c: Pick<CampaignRow, 'per_user_limit' | 'per_household_limit' | 'per_user_daily_limit'>,
  cmd: { userId: string; householdId: string },
  day: string,
): HolderField[] {
  const out: HolderField[] = [];
  const add = (scope: CounterScope, key: string, limit: number) =>
    out.push({ scope, key, limit, field: counterKey(scope, key) });
  if (c.per_user_limit > 0) add('USER', cmd.userId, c.per_user_limit);
  if (c.per_household_limit > 0) {
    if (cmd.householdId === '') throw CouponsErrors.householdRequired();
    add('HOUSEHOLD', cmd.householdId, c.per_household_limit);
  }
  if (c.per_user_daily_limit > 0) add('USER_DAY', `${day}:${cmd.userId}`, c.per_user_daily_limit);
  return out;
}

/** A coupon claimed at `at` is valid coupon_valid_days, never past use_until. */
export function couponExpiry(c: Pick<CampaignRow, 'coupon_valid_days' | 'use_until'>, at: Date): Date {
  const byDays = new Date(at.getTime() + c.coupon_valid_days * 86_400_000);
  return c.use_until && c.use_until.getTime() < byDays.getTime() ? c.use_until : byDays;
}

/**
 * Whether the campaign takes claims at `at` (status ACTIVE, inside its claim window, coupons still
 * usable after the claim); refusals are FAILED_PRECONDITION.
 */
export function assertClaimable(
  c: Pick<CampaignRow, 'campaign_id' | 'status' | 'claim_from' | 'claim_until' | 'use_until'>,
  at: Date,
): void {
  if (c.status !== 'ACTIVE') throw CouponsErrors.notActive(c.campaign_id, c.status);
  const t = at.getTime();
  if (
    t < c.claim_from.getTime() ||
    t >= c.claim_until.getTime() ||
    (c.use_until && c.use_until.getTime() <= t)
  )
    throw CouponsErrors.windowClosed(c.campaign_id);
}

/** The tier targeting: a holder's tier (undefined: no projection row) among the campaign's tiers. */
export function assertTierTargeted(
  c: Pick<CampaignRow, 'campaign_id' | 'target_tiers'>,
  tier: string | undefined,
): void {
  if (c.target_tiers.length === 0) return;
  if (tier === undefined || !c.target_tiers.includes(tier)) throw CouponsErrors.notTargeted(c.campaign_id);
}

/**
 * The flash-sale gate's stock: what the count budget has left, and the money budget in coupons of
 * the campaign's worst-case value (never below zero).
 */
export function gateStock(
  c: Pick<CampaignRow, 'max_coupons' | 'claimed' | 'max_spend' | 'claimed_value' | 'coupon_max_value'>,
): bigint {
  let stock = c.max_coupons - c.claimed;
  if (c.max_spend !== null && c.coupon_max_value > 0n) {
    const byMoney = (c.max_spend - c.claimed_value) / c.coupon_max_value;
    if (byMoney < stock) stock = byMoney;
  }
  return stock < 0n ? 0n : stock;
}

export interface GetCouponQuery {
  operatorId: string;
  projectId: string;
  couponId: string;
}

export function toGetCouponQuery(req: Partial<GetCouponRequest>): GetCouponQuery {
  const t = toTenancy(req.tenancy);
  return {
    operatorId: t.operatorId,
    projectId: t.projectId,
    couponId: requiredUuid('coupon_id', req.couponId),
  };
}

/** Page tokens of ListCoupons: usable first (rank 0, then 1), newest first, by coupon id. */
export const COUPONS_PAGE = pageCursor('marketing.coupons', keyPart.bigint, keyPart.timestamp, keyPart.uuid);

export interface ListCouponsQuery {
  operatorId: string;
  projectId: string;
  userId: string;
  includeUsed: boolean;
  size: number;
  after: { rank: bigint; claimedAt: string; couponId: string } | undefined;
}

export function toListCouponsQuery(req: Partial<ListCouponsRequest>): ListCouponsQuery {
  const t = toTenancy(req.tenancy);
  const userId = requiredString('user_id', req.userId, TENANT_ID);
  const { size, after } = parsePage(req.page, COUPONS_PAGE);
  return {
    operatorId: t.operatorId,
    projectId: t.projectId,
    userId,
    includeUsed: req.includeUsed ?? false,
    size,
    after: after && { rank: after[0], claimedAt: after[1], couponId: after[2] },
  };
}

/** TierChanged's tier as the projection keeps it. */
export function tierName(v: string | undefined): string {
  return optionalString('to_tier', v, { max: 80 });
}
