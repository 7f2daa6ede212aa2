import { toTimestamp } from '@citybase/platform';
import {
  Checkout,
  CheckoutRefund,
  CheckoutRefundStatus,
  CheckoutStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { partsOf } from './checkouts.saga';
import type { CheckoutRefundRow, CheckoutRow } from './checkouts.store';

const STATUS: Record<CheckoutRow['status'], CheckoutStatus> = {
  PENDING: CheckoutStatus.CHECKOUT_STATUS_PENDING,
  AWAITING_PAYMENT: CheckoutStatus.CHECKOUT_STATUS_AWAITING_PAYMENT,
  COMPLETED: CheckoutStatus.CHECKOUT_STATUS_COMPLETED,
  RELEASED: CheckoutStatus.CHECKOUT_STATUS_RELEASED,
};

const REFUND_STATUS: Record<CheckoutRefundRow['status'], CheckoutRefundStatus> = {
  PROCESSING: CheckoutRefundStatus.CHECKOUT_REFUND_STATUS_PROCESSING,
  SUCCEEDED: CheckoutRefundStatus.CHECKOUT_REFUND_STATUS_SUCCEEDED,
  FAILED: CheckoutRefundStatus.CHECKOUT_REFUND_STATUS_FAILED,
};

/**
 * A checkout as the API answers it; `payUrl` is the open payment's (empty once the checkout left
 * AWAITING_PAYMENT or when there is no money part).
 */
export function checkoutToProto(c: CheckoutRow, payUrl = ''): Checkout {
  const money = (amountMinor: bigint) => ({ currency: c.currency, amountMinor });
  return {
    checkoutId: c.checkout_id,
    status: STATUS[c.status],
    tenancy: { operatorId: c.operator_id, projectId: c.project_id, merchantId: c.merchant_id },
    merchantId: c.merchant_id,
    scenario: c.scenario,
    userId: c.user_id,
    pointsHolderId: c.points_holder_id,
    parts: partsOf(c),
    paymentId: c.payment_id ?? '',
    payUrl: c.status === 'AWAITING_PAYMENT' || c.status === 'PENDING' ? payUrl : '',
    couponId: c.coupon_id,
    couponRedemptionId: c.coupon_redemption_id,
    pointsReservationId: c.points_reservation_id,
    createdAt: toTimestamp(c.created_at),
    expiresAt: toTimestamp(c.expires_at),
    completedAt: c.completed_at ? toTimestamp(c.completed_at) : undefined,
    releaseReason: c.status === 'RELEASED' ? c.release_reason : '',
    refunded: {
      total: money(c.refunded_total_minor),
      discount: money(c.refunded_discount_minor),
      points: c.refunded_points,
      pointsValue: money(c.refunded_points_value_minor),
      money: money(c.refunded_money_minor),
    },
    profitSharing: c.profit_sharing,
    payerRef: c.payer_ref,
    description: c.description,
    itemCodes: c.item_codes,
  };
}

export function checkoutRefundToProto(r: CheckoutRefundRow, currency: string): CheckoutRefund {
  const money = (amountMinor: bigint) => ({ currency, amountMinor });
  return {
    checkoutRefundId: r.checkout_refund_id,
    checkoutId: r.checkout_id,
    status: REFUND_STATUS[r.status],
    parts: {
      total: money(r.total_minor),
      discount: money(r.discount_minor),
      points: r.points,
      pointsValue: money(r.points_value_minor),
      money: money(r.money_minor),
    },
    paymentRefundId: r.payment_refund_id ?? '',
    couponRestored: r.coupon_restored,
    reason: r.reason,
    createdAt: toTimestamp(r.created_at),
    completedAt: r.completed_at ? toTimestamp(r.completed_at) : undefined,
    failureReason: r.failure_reason,
  };
}
