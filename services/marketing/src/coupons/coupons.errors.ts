import { DomainError } from '@citybase/platform';

/** Error codes of coupons. */
export const CouponsErrors = {
  /** Also what another tenant's coupon answers. */
  notFound: (couponId: string) => DomainError.notFound('coupon', couponId, 'COUPON_NOT_FOUND'),

  /** No campaign of the operator has this generic code, and no unique code is this one. */
  codeNotFound: () => DomainError.notFound('code', '(given)', 'CODE_NOT_FOUND'),

  codeUsed: () =>
    DomainError.precondition('CODE_ALREADY_USED', 'code: this unique code has already claimed its coupon'),

  notActive: (campaignId: string, status: string) =>
    DomainError.precondition(
      'CAMPAIGN_NOT_ACTIVE',
      `campaign ${campaignId} is ${status}: it takes no claims`,
    ),

  windowClosed: (campaignId: string) =>
    DomainError.precondition(
      'CLAIM_WINDOW_CLOSED',
      `campaign ${campaignId} takes no claims now (outside its claim window)`,
    ),

  notTargeted: (campaignId: string) =>
    DomainError.precondition('NOT_TARGETED', `campaign ${campaignId} is not offered to this holder's tier`),

  /** The count budget is used up. */
  soldOut: (campaignId: string) =>
    new DomainError('resource_exhausted', 'CAMPAIGN_SOLD_OUT', `campaign ${campaignId} has no coupons left`),

  /** The money budget cannot take another coupon's worst-case value. */
  budgetExhausted: (campaignId: string) =>
    new DomainError(
      'resource_exhausted',
      'CAMPAIGN_BUDGET_EXHAUSTED',
      `campaign ${campaignId} has no money budget left`,
    ),

  /** A per-user, per-household or per-user-per-day limit is reached. */
  limitReached: (scope: 'USER' | 'HOUSEHOLD' | 'USER_DAY', limit: number) =>
    new DomainError(
      'resource_exhausted',
      scope === 'USER'
        ? 'USER_LIMIT_REACHED'
        : scope === 'HOUSEHOLD'
          ? 'HOUSEHOLD_LIMIT_REACHED'
          : 'DAILY_LIMIT_REACHED',
      `the ${scope === 'USER' ? 'per-user' : scope === 'HOUSEHOLD' ? 'per-household' : 'per-user daily'} limit of ${limit} is reached`,
    ),

  householdRequired: () =>
    DomainError.invalid('household_id', 'is required: the campaign limits claims per household'),
};
