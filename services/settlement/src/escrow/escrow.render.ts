import { toTimestamp } from '@citybase/platform';
import {
  EscrowOrder,
  EscrowPosition,
  EscrowStatus,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { SPLIT_ROLES } from './escrow.domain';
import { EscrowOrderRow, netParts, PositionRow } from './escrow.store';

/** Rows as the proto messages of settlement.proto. */

const money = (currency: string, amountMinor: bigint) => ({ currency, amountMinor });

export function orderToProto(o: EscrowOrderRow): EscrowOrder {
  const m = (amount: bigint) => money(o.currency, amount);
  const parts = netParts(o);
  return {
    orderId: o.order_id,
    tenancy: { operatorId: o.operator_id, projectId: o.project_id, merchantId: o.merchant_id },
    merchantCategory: o.merchant_category,
    payerRef: o.payer_ref,
    channelId: o.channel_id,
    status: o.status,
    paid: m(o.paid_minor),
    held: m(o.held_minor),
    released: m(o.released_minor),
    refunded: m(o.refunded_minor),
    // the split as it stands: each part less what refunds after completion took back
    split:
      o.status === EscrowStatus.ESCROW_STATUS_COMPLETED
        ? SPLIT_ROLES.filter((r) => parts[r] > 0n).map((role) => ({ role, amount: m(parts[role]) }))
        : [],
    channelSplit: o.channel_split_status,
    paidAt: toTimestamp(o.paid_at),
    autoConfirmAt: toTimestamp(o.auto_confirm_at),
    completedAt: o.completed_at ? toTimestamp(o.completed_at) : undefined,
    disputeReason: o.dispute_reason,
    refundPending: m(o.refund_pending_minor),
    checkoutId: o.checkout_id ?? '',
    paidParts: {
      money: m(o.paid_minor - o.discount_minor - o.points_minor),
      discount: m(o.discount_minor),
      pointsValue: m(o.points_minor),
    },
    refundedParts: {
      money: m(o.refunded_minor - o.discount_refunded_minor - o.points_refunded_minor),
      discount: m(o.discount_refunded_minor),
      pointsValue: m(o.points_refunded_minor),
    },
    partsPending: o.parts_pending,
  };
}

export function positionToProto(p: PositionRow): EscrowPosition {
  return {
    operatorId: p.operator_id,
    projectId: p.project_id,
    paid: money(p.currency, p.paid),
    released: money(p.currency, p.released),
    refunded: money(p.currency, p.refunded),
    held: money(p.currency, p.held),
    ledgerBalance: money(p.currency, p.ledger),
    heldOrders: p.held_orders,
    disputedOrders: p.disputed_orders,
    paidParts: {
      money: money(p.currency, p.paid - p.paid_discount - p.paid_points),
      discount: money(p.currency, p.paid_discount),
      pointsValue: money(p.currency, p.paid_points),
    },
    refundedParts: {
      money: money(p.currency, p.refunded - p.refunded_discount - p.refunded_points),
      discount: money(p.currency, p.refunded_discount),
      pointsValue: money(p.currency, p.refunded_points),
    },
  };
}
