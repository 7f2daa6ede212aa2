import { toTimestamp } from '@citybase/platform';
import {
  Campaign,
  CampaignStatus,
  Discount,
  FundingSource,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import type { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import type { CampaignStatus as StatusName, DiscountSpec, Funding } from './campaigns.domain';
import { CampaignRow, discountOf } from './campaigns.store';

/** Proto answers of campaigns. */

export const STATUS_PROTO: Record<StatusName, CampaignStatus> = {
  DRAFT: CampaignStatus.CAMPAIGN_STATUS_DRAFT,
  ACTIVE: CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
  PAUSED: CampaignStatus.CAMPAIGN_STATUS_PAUSED,
  ENDED: CampaignStatus.CAMPAIGN_STATUS_ENDED,
};

export const FUNDING_PROTO: Record<Funding, FundingSource> = {
  PLATFORM: FundingSource.FUNDING_SOURCE_PLATFORM,
  OPERATOR: FundingSource.FUNDING_SOURCE_OPERATOR,
  MERCHANT: FundingSource.FUNDING_SOURCE_MERCHANT,
};

export function discountToProto(d: DiscountSpec, currency: string): Discount {
  const money = (amountMinor: bigint) => ({ currency, amountMinor });
  switch (d.kind) {
    case 'AMOUNT_OFF':
      return { kind: { $case: 'amountOff', value: money(d.amountMinor) } };
    case 'PERCENT_OFF':
      return {
        kind: {
          $case: 'percentOff',
          value: { basisPoints: d.basisPoints, cap: d.capMinor === null ? undefined : money(d.capMinor) },
        },
      };
    case 'THRESHOLD':
      return {
        kind: { $case: 'threshold', value: { spend: money(d.spendMinor), save: money(d.saveMinor) } },
      };
    case 'FREE_ITEM':
      return { kind: { $case: 'freeItem', value: { itemCode: d.itemCode, value: money(d.valueMinor) } } };
  }
}

export function tenancyOf(r: Pick<CampaignRow, 'operator_id' | 'project_id' | 'merchant_id'>) {
  return { operatorId: r.operator_id, projectId: r.project_id, merchantId: r.merchant_id };
}

export function campaignToProto(r: CampaignRow): Campaign {
  const money = (amountMinor: bigint) => ({ currency: r.currency, amountMinor });
  return {
    campaignId: r.campaign_id,
    tenancy: tenancyOf(r),
    name: r.name,
    status: STATUS_PROTO[r.status],
    discount: discountToProto(discountOf(r), r.currency),
    funding: FUNDING_PROTO[r.funding],
    targeting: {
      projectIds: r.target_project_ids,
      merchantIds: r.target_merchant_ids,
      scenarios: r.target_scenarios as PaymentScenario[],
      tiers: r.target_tiers,
    },
    stacking: { exclusive: r.stacking_exclusive, group: r.stacking_group, priority: r.stacking_priority },
    claimFrom: toTimestamp(r.claim_from),
    claimUntil: toTimestamp(r.claim_until),
    couponValidDays: r.coupon_valid_days,
    useUntil: r.use_until ? toTimestamp(r.use_until) : undefined,
    maxCoupons: r.max_coupons,
    maxSpend: r.max_spend === null ? undefined : money(r.max_spend),
    perUserLimit: r.per_user_limit,
    perHouseholdLimit: r.per_household_limit,
    perUserDailyLimit: r.per_user_daily_limit,
    flashSale: r.flash_sale,
    genericCode: r.generic_code ?? '',
    claimed: r.claimed,
    redeemed: r.redeemed,
    claimedValue: money(r.claimed_value),
    redeemedDiscount: money(r.redeemed_discount),
    createdAt: toTimestamp(r.created_at),
    updatedAt: toTimestamp(r.updated_at),
  };
}
