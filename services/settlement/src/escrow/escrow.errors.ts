import { DomainError } from '@citybase/platform';
import { EscrowStatus } from '@citybase/contracts/citybase/settlement/v1/settlement';

const status = (s: EscrowStatus): string => (EscrowStatus[s] ?? String(s)).replace('ESCROW_STATUS_', '');

/** Error codes of escrow orders, disputes, refunds, split rules and tax records. */
export const EscrowErrors = {
  /** Also what another tenant's order answers: whose an order is, is not told. */
  orderNotFound: (orderId: string) => DomainError.notFound('escrow order', orderId, 'ESCROW_ORDER_NOT_FOUND'),

  notCompletable: (orderId: string, s: EscrowStatus) =>
    DomainError.precondition('ORDER_NOT_COMPLETABLE', `order ${orderId} is ${status(s)}: it cannot complete`),

  notDisputable: (orderId: string, s: EscrowStatus) =>
    DomainError.precondition(
      'ORDER_NOT_DISPUTABLE',
      `order ${orderId} is ${status(s)}: only a HELD order can be disputed`,
    ),

  notDisputed: (orderId: string, s: EscrowStatus) =>
    DomainError.precondition('ORDER_NOT_DISPUTED', `order ${orderId} is ${status(s)}, not DISPUTED`),

  notRefundable: (orderId: string, s: EscrowStatus) =>
    DomainError.precondition('ORDER_NOT_REFUNDABLE', `order ${orderId} is ${status(s)}: nothing to refund`),

  refundPending: (orderId: string) =>
    DomainError.precondition(
      'REFUND_PENDING',
      `order ${orderId} has a refund through the channel waiting for its answer; retry once it is answered`,
    ),

  resolutionPending: (orderId: string) =>
    DomainError.precondition(
      'DISPUTE_RESOLUTION_PENDING',
      `order ${orderId}: the dispute's resolution is waiting for its refund through the channel`,
    ),

  channelSplitPending: (orderId: string) =>
    DomainError.precondition(
      'CHANNEL_SPLIT_PENDING',
      `order ${orderId}: the channel has not confirmed the split yet; retry once it has`,
    ),

  noPayer: (orderId: string) =>
    DomainError.precondition(
      'NO_PAYER',
      `order ${orderId} has no payer_ref: there is no wallet to refund to`,
    ),

  exceedsRefundable: (refundable: bigint) =>
    new DomainError(
      'failed_precondition',
      'REFUND_EXCEEDS_REFUNDABLE',
      `amount.amount_minor: exceeds what is refundable of the order (${refundable})`,
      { field: 'amount.amount_minor', rule: `at most ${refundable} (paid - refunded - refund pending)` },
    ),

  partialNotLessThanHeld: (held: bigint) =>
    new DomainError(
      'failed_precondition',
      'PARTIAL_REFUND_NOT_LESS_THAN_HELD',
      `refund_amount.amount_minor: must be less than the held amount (${held})`,
      { field: 'refund_amount.amount_minor', rule: `less than ${held}` },
    ),

  partsPending: (orderId: string) =>
    DomainError.precondition(
      'CHECKOUT_PARTS_PENDING',
      `order ${orderId} is a checkout's still waiting for its coupon, points or payment part; retry once they arrived`,
    ),

  checkoutReleased: (orderId: string) =>
    DomainError.precondition(
      'CHECKOUT_RELEASED',
      `order ${orderId} is a released checkout's: it never completes, its money goes back to the payer`,
    ),

  checkoutOrder: (orderId: string) =>
    DomainError.precondition(
      'ORDER_IS_CHECKOUT',
      `order ${orderId} is a checkout's: refund it with payment's RefundCheckout, which gives back money, points and coupon together`,
    ),

  currencyMismatch: (field: string, currency: string) =>
    DomainError.invalid(`${field}.currency`, `must be the order's currency ${currency}`),
};
