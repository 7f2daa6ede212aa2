import { Outbox, PoolClient, toTimestamp } from '@citybase/platform';
import { PaymentEvents } from '@citybase/contracts/events';
import type { CheckoutRefundRow, CheckoutRow } from './checkouts.store';

/**
 * CheckoutRefunded of a succeeded checkout refund, in the transaction that made it succeed
 * (settlement, points and marketing apply exactly the parts it names).
 */
export async function emitCheckoutRefunded(
  outbox: Outbox,
  client: PoolClient,
  c: CheckoutRow,
  r: CheckoutRefundRow,
): Promise<void> {
  const tenancy = { operatorId: c.operator_id, projectId: c.project_id, merchantId: c.merchant_id };
  const money = (amountMinor: bigint) => ({ currency: c.currency, amountMinor });
  await outbox.enqueue(
    client,
    PaymentEvents.CheckoutRefunded,
    {
      checkoutId: c.checkout_id,
      refundId: r.checkout_refund_id,
      tenancy,
      merchantId: c.merchant_id,
      parts: {
        total: money(r.total_minor),
        discount: money(r.discount_minor),
        points: r.points,
        pointsValue: money(r.points_value_minor),
        money: money(r.money_minor),
      },
      refundedTotal: {
        total: money(c.refunded_total_minor),
        discount: money(c.refunded_discount_minor),
        points: c.refunded_points,
        pointsValue: money(c.refunded_points_value_minor),
        money: money(c.refunded_money_minor),
      },
      couponRestored: r.coupon_restored,
      paymentRefundId: r.payment_refund_id ?? '',
      pointsReservationId: c.points_reservation_id,
      pointsHolderId: c.points_holder_id,
      couponRedemptionId: c.coupon_redemption_id,
      occurredAt: toTimestamp(r.completed_at ?? new Date()),
      scenario: c.scenario,
      paymentId: c.payment_id ?? '',
      couponId: c.coupon_id,
    },
    { key: c.checkout_id, subject: r.checkout_refund_id, tenancy },
  );
}
