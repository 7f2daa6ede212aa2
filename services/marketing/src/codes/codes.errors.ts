import { DomainError } from '@citybase/platform';

/** Error codes of codes. */
export const CodesErrors = {
  /** Also what a batch of another tenant's campaign answers. */
  batchNotFound: (batchId: string) => DomainError.notFound('code batch', batchId, 'CODE_BATCH_NOT_FOUND'),

  /** More codes than the campaign can ever give coupons for. */
  beyondBudget: (campaignId: string, left: bigint) =>
    DomainError.precondition(
      'CODES_BEYOND_BUDGET',
      `count: campaign ${campaignId} can take at most ${left} more codes (codes never exceed max_coupons)`,
    ),

  campaignEnded: (campaignId: string) =>
    DomainError.precondition('CAMPAIGN_ENDED', `campaign ${campaignId} has ended: no more codes`),
};
