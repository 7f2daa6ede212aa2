import { DomainError } from '@citybase/platform';

/** Error codes of campaigns. */
export const CampaignsErrors = {
  /** Also what another tenant's campaign answers: whose it is, is not told. */
  notFound: (campaignId: string) => DomainError.notFound('campaign', campaignId, 'CAMPAIGN_NOT_FOUND'),

  /** A status move the machine DRAFT > ACTIVE <> PAUSED > ENDED does not have. */
  badMove: (campaignId: string, from: string, to: string) =>
    DomainError.precondition(
      'CAMPAIGN_STATUS_MOVE',
      `campaign ${campaignId} is ${from}: it cannot become ${to} (DRAFT > ACTIVE <> PAUSED > ENDED)`,
    ),

  /** A budget lowered below what is claimed. */
  belowClaimed: (field: 'max_coupons' | 'max_spend', claimed: bigint) =>
    DomainError.precondition(
      'BUDGET_BELOW_CLAIMED',
      `${field}: must be at least what is claimed (${claimed})`,
    ),

  ended: (campaignId: string) =>
    DomainError.precondition(
      'CAMPAIGN_ENDED',
      `campaign ${campaignId} has ended: its budgets and window are final`,
    ),

  /** The operator already has a campaign with this generic code. */
  genericCodeTaken: (code: string) =>
    new DomainError(
      'already_exists',
      'GENERIC_CODE_TAKEN',
      `campaign.generic_code: ${code} is already used`,
      {
        field: 'campaign.generic_code',
        rule: "must be unique among the operator's campaigns",
      },
    ),
};
