import { toTimestamp } from '@citybase/platform';
import {
  Placement,
  Promotion,
  PromotionStats,
  PromotionStatus,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import type { ReviewStatus } from './promotions.domain';
import type { PlacementRow, PromotionRow, ReviewRow, StatsRow } from './promotions.store';

/** Proto answers of the promotion board. */

const STATUS: Record<ReviewStatus, PromotionStatus> = {
  PENDING: PromotionStatus.PROMOTION_STATUS_PENDING,
  APPROVED: PromotionStatus.PROMOTION_STATUS_APPROVED,
  REJECTED: PromotionStatus.PROMOTION_STATUS_REJECTED,
};

export function promotionToProto(p: PromotionRow, reviews: readonly ReviewRow[]): Promotion {
  return {
    promotionId: p.promotion_id,
    tenancy: { operatorId: p.operator_id, projectId: p.project_id, merchantId: p.merchant_id },
    title: p.title,
    body: p.body,
    imageRefs: p.image_refs,
    campaignId: p.campaign_id,
    validFrom: toTimestamp(p.valid_from),
    validUntil: toTimestamp(p.valid_until),
    reviews: reviews
      .filter((r) => r.promotion_id === p.promotion_id)
      .map((r) => ({
        projectId: r.project_id,
        status: STATUS[r.status],
        reason: r.reason,
        reviewer: r.reviewer,
        reviewedAt: r.reviewed_at ? toTimestamp(r.reviewed_at) : undefined,
      })),
    createdAt: toTimestamp(p.created_at),
  };
}

export function placementToProto(p: PlacementRow): Placement {
  return {
    placementId: p.placement_id,
    tenancy: { operatorId: p.operator_id, projectId: p.project_id, merchantId: '' },
    slot: p.slot,
    promotionId: p.promotion_id,
    validFrom: toTimestamp(p.valid_from),
    validUntil: toTimestamp(p.valid_until),
  };
}

export function statsToProto(s: StatsRow): PromotionStats {
  return {
    projectId: s.project_id,
    placementId: s.placement_id,
    impressions: s.impressions,
    clicks: s.clicks,
  };
}
