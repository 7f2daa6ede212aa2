import { Money } from '@citybase/platform';
import { ChannelSplitStatus, EscrowStatus } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { SplitRuleTerms } from '../split-rules/split-rules.service';
import { EscrowErrors } from './escrow.errors';

/**
 * Pure rules of escrow (no I/O): how a completed order is split, how a refund after completion
 * takes back the split, and which state an order may move to.
 * docs/settlement-escrow.md describes the flows these serve.
 */

export const SPLIT_ROLES = ['merchant', 'property', 'commission', 'tax'] as const;
export type SplitRole = (typeof SPLIT_ROLES)[number];
export type SplitParts = Record<SplitRole, bigint>;

export const NO_PARTS: SplitParts = Object.freeze({ merchant: 0n, property: 0n, commission: 0n, tax: 0n });

export function sumParts(p: SplitParts): bigint {
  return p.merchant + p.property + p.commission + p.tax;
}

/**
 * Splits `amount` by the rule with the largest-remainder method: each part is its exact share
 * (amount * bps / 10000) rounded down, and the few units left over go to the largest fractional
 * remainders (ties: merchant, then property, commission, tax). The merchant's share is what the
 * rule leaves (10000 - commission - property - tax bp). The parts sum exactly to the amount.
 */
export function splitByRule(amountMinor: bigint, currency: string, rule: SplitRuleTerms): SplitParts {
  if (amountMinor < 0n) throw new Error(`cannot split a negative amount ${amountMinor}`);
  const others = rule.commissionBps + rule.propertyShareBps + rule.taxBps;
  if (others > 10_000) throw new Error(`split rule takes ${others} bp, more than the whole`);
  if (amountMinor === 0n) return { ...NO_PARTS };
  const parts = Money.of(amountMinor, currency).allocateByBasisPoints({
    merchant: BigInt(10_000 - others),
    property: BigInt(rule.propertyShareBps),
    commission: BigInt(rule.commissionBps),
    tax: BigInt(rule.taxBps),
  });
  return {
    merchant: parts.merchant.amountMinor,
    property: parts.property.amountMinor,
    commission: parts.commission.amountMinor,
    tax: parts.tax.amountMinor,
  };
}

/**
 * Which part of a completed order's split a refund of `amount` takes back: proportional to what is
 * left of each part (after earlier refunds and those still in flight), by largest remainder, so the
 * refund's parts sum to the amount and no part gives back more than it still has. The last refund
 * takes exactly what is left.
 */
export function allocateRefund(amountMinor: bigint, currency: string, left: SplitParts): SplitParts {
  const total = sumParts(left);
  if (amountMinor <= 0n) throw new Error(`a refund must be positive, not ${amountMinor}`);
  if (amountMinor > total)
    throw new Error(`refund ${amountMinor} exceeds what is left of the split (${total})`);
  const [merchant, property, commission, tax] = Money.of(amountMinor, currency)
    .allocate(SPLIT_ROLES.map((r) => left[r]))
    .map((m) => m.amountMinor);
  return { merchant: merchant ?? 0n, property: property ?? 0n, commission: commission ?? 0n, tax: tax ?? 0n };
}

export function subtractParts(a: SplitParts, b: SplitParts): SplitParts {
  return {
    merchant: a.merchant - b.merchant,
    property: a.property - b.property,
    commission: a.commission - b.commission,
    tax: a.tax - b.tax,
  };
}

/** A receiver account at the channel and its amount (commission and tax both go to the platform). */
export interface ChannelReceiverShare {
  account: string;
  amountMinor: bigint;
  description: string;
}

/**
 * The receivers of a split (or of split returns) at the channel: "merchant:<merchant_id>" the
 * merchant's net, "property:<project_id>" the property share, "platform:<operator_id>" commission
 * plus tax. Zero receivers are left out.
 */
export function channelReceivers(
  parts: SplitParts,
  tenancy: { operatorId: string; projectId: string; merchantId: string },
): ChannelReceiverShare[] {
  const receivers: ChannelReceiverShare[] = [
    { account: `merchant:${tenancy.merchantId}`, amountMinor: parts.merchant, description: 'merchant' },
    { account: `property:${tenancy.projectId}`, amountMinor: parts.property, description: 'property share' },
    {
      account: `platform:${tenancy.operatorId}`,
      amountMinor: parts.commission + parts.tax,
      description: 'platform commission and tax',
    },
  ];
  return receivers.filter((r) => r.amountMinor > 0n);
}

export function autoConfirmAt(paidAt: Date, hours: number): Date {
  return new Date(paidAt.getTime() + hours * 3_600_000);
}

// ---- state decisions ----

/** What an order looks like to the decisions below. */
export interface OrderState {
  orderId: string;
  status: EscrowStatus;
  heldMinor: bigint;
  paidMinor: bigint;
  refundedMinor: bigint;
  refundPendingMinor: bigint;
  profitSharing: boolean;
  channelSplit: ChannelSplitStatus;
  /** A dispute resolution waiting for its refund through the channel. */
  resolutionPending: boolean;
  /** The order is a checkout's (docs/settlement-checkout.md). */
  checkout: boolean;
  /** A checkout's order still waiting for one of its parts. */
  partsPending: boolean;
  /** A released checkout's order: never completes; its money may only go back to the payer. */
  checkoutReleased: boolean;
}

export type CompletedBy = 'app' | 'auto_confirm' | 'dispute';

/**
 * Whether an order may complete now: `complete` (release the held amount), `already` (completed
 * before: the same answer again). Refuses a disputed order (unless a resolution completes it), a
 * refunded one, and one with a refund through the channel still unanswered (its money is reserved
 * in escrow; the order completes once the channel has answered).
 */
export function decideCompletion(order: OrderState, by: CompletedBy): 'complete' | 'already' {
  switch (order.status) {
    case EscrowStatus.ESCROW_STATUS_COMPLETED:
      return 'already';
    case EscrowStatus.ESCROW_STATUS_HELD:
      break;
    case EscrowStatus.ESCROW_STATUS_DISPUTED:
      if (by !== 'dispute') throw EscrowErrors.notCompletable(order.orderId, order.status);
      break;
    case EscrowStatus.ESCROW_STATUS_REFUNDED:
    case EscrowStatus.ESCROW_STATUS_UNSPECIFIED:
    case EscrowStatus.UNRECOGNIZED:
      throw EscrowErrors.notCompletable(order.orderId, order.status);
  }
  if (order.checkoutReleased) throw EscrowErrors.checkoutReleased(order.orderId);
  if (order.refundPendingMinor > 0n) throw EscrowErrors.refundPending(order.orderId);
  if (order.partsPending) throw EscrowErrors.partsPending(order.orderId);
  if (order.heldMinor <= 0n) throw EscrowErrors.notCompletable(order.orderId, order.status);
  return 'complete';
}

export function decideOpenDispute(order: OrderState): void {
  if (order.status !== EscrowStatus.ESCROW_STATUS_HELD)
    throw EscrowErrors.notDisputable(order.orderId, order.status);
}

export function decideResolveDispute(order: OrderState): void {
  if (order.status !== EscrowStatus.ESCROW_STATUS_DISPUTED)
    throw EscrowErrors.notDisputed(order.orderId, order.status);
  if (order.refundPendingMinor > 0n) throw EscrowErrors.refundPending(order.orderId);
}

/** How a refund of an order is carried out. */
export type RefundPlan =
  /** Before completion, to the wallet: escrow -> wallet at once. */
  | { kind: 'escrow_to_wallet' }
  /** Before completion, through the channel: reserve, ask payment, post on its answer. */
  | { kind: 'escrow_via_channel' }
  /** After completion: take the split parts back; first from the channel's receivers if it split. */
  | { kind: 'after_split'; splitReturns: boolean };

export type RefundDestinationName = 'original' | 'wallet';

/**
 * Checks a refund against the order and says how it goes. Refundable is paid - refunded - pending.
 * After completion with profit sharing, the channel's split must have been confirmed or have
 * failed (a split still pending cannot be returned from yet).
 */
export function decideRefund(
  order: OrderState,
  amountMinor: bigint,
  destination: RefundDestinationName,
  payerRef: string,
): RefundPlan {
  if (order.resolutionPending) throw EscrowErrors.resolutionPending(order.orderId);
  // a checkout's refund gives back money, points and coupon together: payment's RefundCheckout;
  // a released checkout has no refund at payment, only its money to give back
  if (order.checkout && !order.checkoutReleased) throw EscrowErrors.checkoutOrder(order.orderId);
  if (order.status === EscrowStatus.ESCROW_STATUS_REFUNDED)
    throw EscrowErrors.notRefundable(order.orderId, order.status);
  const refundable = order.paidMinor - order.refundedMinor - order.refundPendingMinor;
  if (amountMinor > refundable) throw EscrowErrors.exceedsRefundable(refundable < 0n ? 0n : refundable);
  if (destination === 'wallet' && payerRef === '') throw EscrowErrors.noPayer(order.orderId);
  switch (order.status) {
    case EscrowStatus.ESCROW_STATUS_HELD:
    case EscrowStatus.ESCROW_STATUS_DISPUTED:
      return destination === 'wallet' ? { kind: 'escrow_to_wallet' } : { kind: 'escrow_via_channel' };
    case EscrowStatus.ESCROW_STATUS_COMPLETED:
      return afterSplitPlan(order);
    case EscrowStatus.ESCROW_STATUS_UNSPECIFIED:
    case EscrowStatus.UNRECOGNIZED:
      throw EscrowErrors.notRefundable(order.orderId, order.status);
  }
}

/**
 * After completion with profit sharing, the channel's split must have been confirmed (take the
 * parts back from its receivers first) or have failed (it still holds the funds); a split still
 * pending cannot be returned from yet.
 */
function afterSplitPlan(order: OrderState): RefundPlan {
  if (!order.profitSharing) return { kind: 'after_split', splitReturns: false };
  switch (order.channelSplit) {
    case ChannelSplitStatus.CHANNEL_SPLIT_STATUS_SPLIT:
      return { kind: 'after_split', splitReturns: true };
    case ChannelSplitStatus.CHANNEL_SPLIT_STATUS_FAILED:
      return { kind: 'after_split', splitReturns: false };
    case ChannelSplitStatus.CHANNEL_SPLIT_STATUS_PENDING:
    case ChannelSplitStatus.CHANNEL_SPLIT_STATUS_HELD:
    case ChannelSplitStatus.CHANNEL_SPLIT_STATUS_NOT_NEEDED:
    case ChannelSplitStatus.CHANNEL_SPLIT_STATUS_UNSPECIFIED:
    case ChannelSplitStatus.UNRECOGNIZED:
      throw EscrowErrors.channelSplitPending(order.orderId);
  }
}

/** The status an order not completed has once its held amount changed. */
export function statusAfterRefund(order: {
  status: EscrowStatus;
  heldMinor: bigint;
  refundPendingMinor: bigint;
}) {
  if (
    order.status !== EscrowStatus.ESCROW_STATUS_COMPLETED &&
    order.heldMinor === 0n &&
    order.refundPendingMinor === 0n
  )
    return EscrowStatus.ESCROW_STATUS_REFUNDED;
  return order.status;
}
