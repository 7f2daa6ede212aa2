import { toTimestamp } from '@citybase/platform';
import type {
  AppliedDiscount,
  QuoteDiscountResponse,
  Redemption,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import type { Quote } from './quote.domain';
import { REDEMPTION_STATUS_PROTO } from './redemptions.domain';
import type { RedemptionRow } from './redemptions.store';

/** Proto answers of redemptions. */

export function redemptionProto(r: RedemptionRow): Redemption {
  const money = (amountMinor: bigint) => ({ currency: r.currency, amountMinor });
  return {
    redemptionId: r.redemption_id,
    couponId: r.coupon_id,
    status: REDEMPTION_STATUS_PROTO[r.status],
    redeemedAt: { operatorId: r.operator_id, projectId: r.project_id, merchantId: r.merchant_id },
    reference: r.reference,
    basketTotal: money(r.basket_total),
    discount: money(r.discount),
    createdAt: toTimestamp(r.created_at),
    expiresAt: toTimestamp(r.expires_at),
    endedAt: r.ended_at ? toTimestamp(r.ended_at) : undefined,
  };
}

export function quoteProto(q: Quote, currency: string): QuoteDiscountResponse {
  const money = (amountMinor: bigint) => ({ currency, amountMinor });
  const discounts: AppliedDiscount[] = q.lines.map((l) => ({
    couponId: l.couponId,
    discount: money(l.discount),
    reason: l.reason,
  }));
  return { discounts, totalDiscount: money(q.totalDiscount), due: money(q.due) };
}
