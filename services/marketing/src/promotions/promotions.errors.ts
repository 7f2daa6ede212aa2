import { DomainError } from '@citybase/platform';

/** Error codes of the promotion board. */
export const PromotionsErrors = {
  /** Also what another operator's promotion, or a project it does not target, answers. */
  notFound: (promotionId: string) => DomainError.notFound('promotion', promotionId, 'PROMOTION_NOT_FOUND'),

  reviewNotFound: (promotionId: string, projectId: string) =>
    DomainError.notFound(`review by project ${projectId} of promotion`, promotionId, 'PROMOTION_NOT_FOUND'),

  /** A review ends once: the other decision is refused. */
  alreadyReviewed: (promotionId: string, status: string) =>
    DomainError.precondition(
      'PROMOTION_ALREADY_REVIEWED',
      `promotion ${promotionId} was already ${status.toLowerCase()} by this project; a review ends once`,
    ),

  /** A placement needs the promotion approved for the host project. */
  notApproved: (promotionId: string, projectId: string) =>
    DomainError.precondition(
      'PROMOTION_NOT_APPROVED',
      `promotion ${promotionId} is not approved for project ${projectId}`,
    ),
};
