import {
  DomainError,
  optionalString,
  requestId,
  requiredEnum,
  requiredMoney,
  requiredString,
  TENANT_ID,
} from '@citybase/platform';
import {
  CreatePaymentRequest,
  PaymentScenario,
  PaymentStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import type { ChannelOrder } from '../channels/channel-adapter';

export const DEFAULT_EXPIRES_IN_SECONDS = 900;
export const MIN_EXPIRES_IN_SECONDS = 60;
export const MAX_EXPIRES_IN_SECONDS = 86_400;

export interface CreatePaymentCommand {
  requestId: string;
  operatorId: string;
  projectId: string;
  merchantId: string;
  scenario: PaymentScenario;
  currency: string;
  amountMinor: bigint;
  payerRef: string;
  description: string;
  expiresInSeconds: number;
  profitSharing: boolean;
  /** The checkout whose money part this payment is (its events name it); absent for CreatePayment. */
  checkoutId?: string;
}

/** Validates a CreatePayment request into a command; throws INVALID_ARGUMENT naming the field. */
export function toCreatePaymentCommand(req: CreatePaymentRequest): CreatePaymentCommand {
  const cmd = {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: requiredString('tenancy.project_id', req.tenancy?.projectId, TENANT_ID),
    merchantId: requiredString('merchant_id', req.merchantId, TENANT_ID),
  };
  const tenancyMerchant = (req.tenancy?.merchantId ?? '').trim();
  if (tenancyMerchant !== '' && tenancyMerchant !== cmd.merchantId) {
    throw DomainError.invalid('tenancy.merchant_id', 'must be empty or equal merchant_id');
  }
  const scenario = requiredEnum('scenario', req.scenario, PaymentScenario) as PaymentScenario;
  const money = requiredMoney('amount', req.amount, { currencies: ['CNY'] });
  return {
    ...cmd,
    scenario,
    currency: money.currency,
    amountMinor: money.amountMinor,
    payerRef: requiredString('payer_ref', req.payerRef, { max: 128 }),
    description: optionalString('description', req.description, { max: 256 }),
    expiresInSeconds: expiresIn(req.expiresInSeconds),
    profitSharing: req.profitSharing === true,
  };
}

function expiresIn(value: number | undefined): number {
  if (value === undefined || value === 0) return DEFAULT_EXPIRES_IN_SECONDS;
  if (!Number.isInteger(value) || value < MIN_EXPIRES_IN_SECONDS || value > MAX_EXPIRES_IN_SECONDS) {
    throw DomainError.invalid(
      'expires_in_seconds',
      `must be 0 (default ${DEFAULT_EXPIRES_IN_SECONDS}) or ${MIN_EXPIRES_IN_SECONDS}..${MAX_EXPIRES_IN_SECONDS}`,
    );
  }
  return value;
}

export const OPEN_STATUSES: readonly PaymentStatus[] = [
  PaymentStatus.PAYMENT_STATUS_CREATED,
  PaymentStatus.PAYMENT_STATUS_PROCESSING,
  PaymentStatus.PAYMENT_STATUS_UNKNOWN,
];

export function isFinal(status: PaymentStatus): boolean {
  return !OPEN_STATUSES.includes(status);
}

/** Reasons a payment failed or expired (failure_reason, PaymentFailed.reason). */
export const FailureReasons = {
  noChannel: 'NO_CHANNEL',
  channelsRejected: 'CHANNEL_REJECTED',
  declined: 'CHANNEL_DECLINED',
  expired: 'EXPIRED',
  closedByChannel: 'CLOSED_BY_CHANNEL',
} as const;

/** What the stored payment looks like to the transition rules. */
export interface PaymentState {
  status: PaymentStatus;
  channel: string;
  amountMinor: bigint;
}

/**
 * A change of a payment's status. `from` is the compare-and-set condition: the update happens only
 * if the payment is still in one of these statuses, so concurrent sources (callback, client
 * confirmation, channel-poll job) apply a transition exactly once.
 */
export interface PaymentTransition {
  from: readonly PaymentStatus[];
  to: PaymentStatus;
  channel: string;
  payUrl?: string;
  channelTransactionId?: string;
  completedAt?: Date;
  failureReason?: string;
}

export type OrderDecision =
  | { kind: 'transition'; transition: PaymentTransition }
  | { kind: 'none'; why: string }
  /** The order says something that must not happen (paid twice, wrong amount): changes nothing, logged. */
  | { kind: 'anomaly'; why: string };

/**
 * The one set of rules for what a channel's view of an order means for the payment, whatever
 * brought it (the channel's notification, the client's confirmation, the channel-poll job's query, the
 * answer to opening or closing the order).
 *
 * `channelId` is the channel that answered. It is normally the payment's channel; it may be another
 * channel at which routing tried to open the order before falling back: only a SUCCESS from such a
 * channel matters (the payer paid there), and only while the payment is still open.
 */
export function decideOrder(
  payment: PaymentState,
  channelId: string,
  order: ChannelOrder,
  now: Date,
): OrderDecision {
  const routedHere = payment.channel === '' || payment.channel === channelId;
  if (isFinal(payment.status)) {
    if (order.status === 'SUCCESS') {
      const paidHere = payment.status === PaymentStatus.PAYMENT_STATUS_SUCCEEDED && routedHere;
      return paidHere
        ? { kind: 'none', why: 'already succeeded' }
        : {
            kind: 'anomaly',
            why: `channel ${channelId} reports the order paid but the payment is final (status ${payment.status}, channel ${payment.channel || 'none'})`,
          };
    }
    return { kind: 'none', why: 'payment is final' };
  }
  switch (order.status) {
    case 'SUCCESS':
      if (order.amountMinor !== payment.amountMinor) {
        return {
          kind: 'anomaly',
          why: `channel ${channelId} reports ${order.amountMinor} paid for a payment of ${payment.amountMinor}`,
        };
      }
      return {
        kind: 'transition',
        transition: {
          from: OPEN_STATUSES,
          to: PaymentStatus.PAYMENT_STATUS_SUCCEEDED,
          channel: channelId,
          channelTransactionId: order.transactionId ?? '',
          completedAt: order.paidAt ?? now,
          ...(order.payUrl && { payUrl: order.payUrl }),
        },
      };
    case 'PAYERROR':
      if (!routedHere) return { kind: 'none', why: `not the payment's channel (${payment.channel})` };
      return {
        kind: 'transition',
        transition: {
          from: OPEN_STATUSES,
          to: PaymentStatus.PAYMENT_STATUS_FAILED,
          channel: channelId,
          completedAt: now,
          failureReason: order.failureReason || FailureReasons.declined,
        },
      };
    case 'CLOSED':
      if (!routedHere) return { kind: 'none', why: `not the payment's channel (${payment.channel})` };
      return {
        kind: 'transition',
        transition: {
          from: OPEN_STATUSES,
          to: PaymentStatus.PAYMENT_STATUS_EXPIRED,
          channel: channelId,
          completedAt: now,
          failureReason: FailureReasons.expired,
        },
      };
    case 'NOTPAY':
      if (!routedHere) return { kind: 'none', why: `not the payment's channel (${payment.channel})` };
      if (payment.status === PaymentStatus.PAYMENT_STATUS_PROCESSING)
        return { kind: 'none', why: 'still unpaid' };
      // created (order just opened) or unknown (the channel's answer was lost): the order is open
      return {
        kind: 'transition',
        transition: {
          from: [PaymentStatus.PAYMENT_STATUS_CREATED, PaymentStatus.PAYMENT_STATUS_UNKNOWN],
          to: PaymentStatus.PAYMENT_STATUS_PROCESSING,
          channel: channelId,
          payUrl: order.payUrl,
        },
      };
  }
}
