import { toTimestamp } from '@citybase/platform';
import { Coupon, CouponStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { discountToProto, tenancyOf } from '../campaigns/campaigns.render';
import { CampaignRow, discountOf } from '../campaigns/campaigns.store';
import type { CouponStatusName } from './coupons.domain';
import type { CouponRow } from './coupons.store';

/** Proto answers of coupons. */

export const COUPON_STATUS_PROTO: Record<CouponStatusName, CouponStatus> = {
  AVAILABLE: CouponStatus.COUPON_STATUS_AVAILABLE,
  RESERVED: CouponStatus.COUPON_STATUS_RESERVED,
  REDEEMED: CouponStatus.COUPON_STATUS_REDEEMED,
  EXPIRED: CouponStatus.COUPON_STATUS_EXPIRED,
};

/** A coupon with its campaign's tenancy and discount (the redemption is the redemption room's). */
export function couponToProto(c: CouponRow, campaign: CampaignRow): Coupon {
  return {
    couponId: c.coupon_id,
    campaignId: c.campaign_id,
    tenancy: tenancyOf(campaign),
    userId: c.user_id,
    householdId: c.household_id,
    // an AVAILABLE coupon past its expiry (the job has not run yet) is shown EXPIRED
    status:
      c.status === 'AVAILABLE' && c.expires_at.getTime() <= Date.now()
        ? CouponStatus.COUPON_STATUS_EXPIRED
        : COUPON_STATUS_PROTO[c.status],
    discount: discountToProto(discountOf(campaign), campaign.currency),
    maxValue: { currency: c.currency, amountMinor: c.max_value },
    claimedAt: toTimestamp(c.claimed_at),
    expiresAt: toTimestamp(c.expires_at),
    redemption: undefined,
  };
}
