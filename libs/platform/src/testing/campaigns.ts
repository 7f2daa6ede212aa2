import { randomUUID } from 'node:crypto';
import {
  Campaign,
  CampaignStatus,
  FundingSource,
  MarketingServiceService,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import { toTimestamp } from '../messaging/timestamp';
import type { PromiseClient } from './grpc-clients';

const HOUR = 3_600_000;

/**
 * A campaign of `operatorId` as CreateCampaign takes it: `offMinor` CNY off a basket (amount off),
 * funded by the operator, no targeting, claimable from an hour ago for a day, coupons valid 30 days,
 * 1,000 coupons, no per-user limits, no code unless `over` gives one. The one builder of the test
 * suites, the e2e city and the benchmarks.
 */
export function amountOffCampaign(
  operatorId: string,
  offMinor: bigint,
  over: Partial<Campaign> = {},
): Campaign {
  const now = Date.now();
  return {
    campaignId: '',
    tenancy: { operatorId, projectId: '', merchantId: '' },
    name: 'Amount off',
    status: CampaignStatus.CAMPAIGN_STATUS_UNSPECIFIED,
    discount: { kind: { $case: 'amountOff', value: { currency: 'CNY', amountMinor: offMinor } } },
    funding: FundingSource.FUNDING_SOURCE_OPERATOR,
    targeting: { projectIds: [], merchantIds: [], scenarios: [], tiers: [] },
    stacking: { exclusive: false, group: '', priority: 0 },
    claimFrom: toTimestamp(new Date(now - HOUR)),
    claimUntil: toTimestamp(new Date(now + 24 * HOUR)),
    couponValidDays: 30,
    useUntil: undefined,
    maxCoupons: 1000n,
    maxSpend: undefined,
    perUserLimit: 0,
    perHouseholdLimit: 0,
    perUserDailyLimit: 0,
    flashSale: false,
    genericCode: '',
    claimed: 0n,
    redeemed: 0n,
    claimedValue: undefined,
    redeemedDiscount: undefined,
    createdAt: undefined,
    updatedAt: undefined,
    ...over,
  };
}

/** A generic coupon code unique to the run: upper-case letters and digits, `length` at most. */
export function uniqueCampaignCode(prefix = 'C', length = 20): string {
  return `${prefix}${randomUUID().replace(/-/g, '')}`.toUpperCase().slice(0, length);
}

/** Creates the campaign (CreateCampaign) and activates it (UpdateCampaign); answers it ACTIVE. */
export async function createActiveCampaign(
  client: Pick<PromiseClient<typeof MarketingServiceService>, 'createCampaign' | 'updateCampaign'>,
  campaign: Campaign,
): Promise<Campaign> {
  const created = (await client.createCampaign({ requestId: randomUUID(), campaign })).campaign;
  if (!created) throw new Error('CreateCampaign answered no campaign');
  const active = (
    await client.updateCampaign({
      requestId: randomUUID(),
      tenancy: created.tenancy,
      campaignId: created.campaignId,
      status: CampaignStatus.CAMPAIGN_STATUS_ACTIVE,
      maxCoupons: 0n,
      maxSpend: undefined,
      claimUntil: undefined,
    })
  ).campaign;
  if (!active) throw new Error('UpdateCampaign answered no campaign');
  return active;
}
