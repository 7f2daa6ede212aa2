import { DomainError } from '@citybase/platform';

/** Error codes of checkouts. */
export const CheckoutsErrors = {
  /** Also what another tenant's checkout answers: whose it is, is not told. */
  notFound: (checkoutId: string) => DomainError.notFound('checkout', checkoutId, 'CHECKOUT_NOT_FOUND'),

  notCompleted: (checkoutId: string) =>
    DomainError.precondition(
      'CHECKOUT_NOT_COMPLETED',
      `checkout ${checkoutId} is not completed: only a completed checkout is refunded`,
    ),

  currencyMismatch: (currency: string) =>
    DomainError.invalid(
      'amount.currency',
      `must be the checkout's currency ${currency}`,
      'CHECKOUT_CURRENCY_MISMATCH',
    ),

  exceedsPrice: (refundable: bigint) =>
    DomainError.invalid(
      'amount.amount_minor',
      `with the earlier refunds at most the full price: ${refundable} left to refund`,
      'CHECKOUT_REFUND_EXCEEDS_PRICE',
    ),

  notCancellable: (checkoutId: string, status: string) =>
    DomainError.precondition(
      'CHECKOUT_NOT_CANCELLABLE',
      `checkout ${checkoutId} is ${status}: it can no longer be cancelled`,
    ),

  /** A refusal the saga met while creating, answered again to a retry of the same request. */
  refused: (kind: string, code: string, field: string, message: string) =>
    new DomainError(
      (kind || 'failed_precondition') as DomainError['kind'],
      code || 'CHECKOUT_REFUSED',
      message,
      field ? { field } : {},
    ),
};
