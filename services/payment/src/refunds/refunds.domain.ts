import { requestId, requiredMoney, requiredString, requiredUuid } from '@citybase/platform';
import {
  PaymentStatus,
  RefundPaymentRequest,
  RefundStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import type { ChannelRefund } from '../channels/channel-adapter';

export interface RefundPaymentCommand {
  requestId: string;
  paymentId: string;
  currency: string;
  amountMinor: bigint;
  reason: string;
}

/** Validates a RefundPayment request; throws INVALID_ARGUMENT naming the field. */
export function toRefundPaymentCommand(req: RefundPaymentRequest): RefundPaymentCommand {
  const cmd = {
    requestId: requestId(req.requestId),
    paymentId: requiredUuid('payment_id', req.paymentId),
  };
  const money = requiredMoney('amount', req.amount);
  return {
    ...cmd,
    currency: money.currency,
    amountMinor: money.amountMinor,
    reason: requiredString('reason', req.reason, { max: 200 }),
  };
}

/**
 * The API client id under which refunds settlement instructs (ChannelRefundRequested) are
 * requested, with the instruction id as request id. Identity's client ids look like `cb_...`, so it
 * is never a real client's.
 */
export const SETTLEMENT_CLIENT_ID = 'settlement';

/** A refund settlement instructed (ChannelRefundRequested), as the refund path takes it. */
export interface InstructedRefundCommand {
  instructionId: string;
  paymentId: string;
  /** The instruction's tenancy: the events of a refused one name it. */
  operatorId: string;
  projectId: string;
  currency: string;
  amountMinor: bigint;
  reason: string;
}

/** Why a refund is refused before anything is written (the codes of RefundErrors). */
export type RefundRefusal = 'CURRENCY_MISMATCH' | 'PAYMENT_NOT_SUCCEEDED' | 'REFUND_EXCEEDS_PAID';

/**
 * The rules every refund passes, whoever asks (RefundPayment, a settlement instruction), decided
 * under the payment's row lock: the payment's currency, a succeeded payment, and never more than is
 * left to refund (paid minus succeeded and processing refunds).
 */
export function refundRefusal(
  payment: { status: PaymentStatus; currency: string },
  refund: { currency: string; amountMinor: bigint },
  refundable: bigint,
): RefundRefusal | undefined {
  if (refund.currency !== payment.currency) return 'CURRENCY_MISMATCH';
  if (payment.status !== PaymentStatus.PAYMENT_STATUS_SUCCEEDED) return 'PAYMENT_NOT_SUCCEEDED';
  if (refund.amountMinor > refundable) return 'REFUND_EXCEEDS_PAID';
  return undefined;
}

/** Reasons a refund failed (failure_reason, RefundFailed.reason) besides the channel's own codes. */
export const RefundFailureReasons = {
  abnormal: 'CHANNEL_ABNORMAL',
  noChannelAccount: 'CHANNEL_ACCOUNT_MISSING',
} as const;

export interface RefundTransition {
  to: RefundStatus.REFUND_STATUS_SUCCEEDED | RefundStatus.REFUND_STATUS_FAILED;
  channelRefundId?: string;
  completedAt: Date;
  failureReason?: string;
}

export type RefundDecision =
  | { kind: 'transition'; transition: RefundTransition }
  | { kind: 'none'; why: string }
  | { kind: 'anomaly'; why: string };

/**
 * What the channel's view of a refund means for the stored refund: processing > succeeded | failed,
 * once. Whatever brought the news (notification, query, the answer to starting it), the same rules.
 */
export function decideRefund(
  refund: { status: RefundStatus; amountMinor: bigint },
  news: ChannelRefund,
  now: Date,
): RefundDecision {
  if (refund.status !== RefundStatus.REFUND_STATUS_PROCESSING) {
    return { kind: 'none', why: 'refund is final' };
  }
  if (news.amountMinor !== refund.amountMinor) {
    return {
      kind: 'anomaly',
      why: `channel reports ${news.amountMinor} for a refund of ${refund.amountMinor}`,
    };
  }
  const final = (t: Omit<RefundTransition, 'channelRefundId'>): RefundDecision => ({
    kind: 'transition',
    transition: { ...t, channelRefundId: news.channelRefundId ?? '' },
  });
  switch (news.status) {
    case 'PROCESSING':
      return { kind: 'none', why: 'still processing' };
    case 'SUCCESS':
      return final({ to: RefundStatus.REFUND_STATUS_SUCCEEDED, completedAt: news.completedAt ?? now });
    case 'ABNORMAL':
      return final({
        to: RefundStatus.REFUND_STATUS_FAILED,
        completedAt: now,
        failureReason: news.failureReason || RefundFailureReasons.abnormal,
      });
  }
}
