import {
  requestFingerprint,
  requestId,
  requiredMoney,
  requiredString,
  requiredUuid,
} from '@citybase/platform';
import { RefundPaymentRequest, RefundStatus } from '@citybase/contracts/citybase/payment/v1/payment';
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

export function fingerprint(cmd: RefundPaymentCommand): string {
  return requestFingerprint(cmd);
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
  switch (news.status) {
    case 'PROCESSING':
      return { kind: 'none', why: 'still processing' };
    case 'SUCCESS':
      return {
        kind: 'transition',
        transition: {
          to: RefundStatus.REFUND_STATUS_SUCCEEDED,
          channelRefundId: news.channelRefundId ?? '',
          completedAt: news.completedAt ?? now,
        },
      };
    case 'ABNORMAL':
      return {
        kind: 'transition',
        transition: {
          to: RefundStatus.REFUND_STATUS_FAILED,
          channelRefundId: news.channelRefundId ?? '',
          completedAt: now,
          failureReason: news.failureReason || RefundFailureReasons.abnormal,
        },
      };
  }
}
