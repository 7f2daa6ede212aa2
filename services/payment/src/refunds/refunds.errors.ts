import { DomainError } from '@citybase/platform';

/** Error codes of refunds. */
export const RefundErrors = {
  notFound: (refundId: string) => DomainError.notFound('refund', refundId, 'REFUND_NOT_FOUND'),

  paymentNotFound: (paymentId: string) => DomainError.notFound('payment', paymentId, 'PAYMENT_NOT_FOUND'),

  currencyMismatch: (currency: string) =>
    DomainError.invalid('amount.currency', `must be the payment's currency ${currency}`),

  paymentNotSucceeded: (paymentId: string) =>
    DomainError.precondition(
      'PAYMENT_NOT_SUCCEEDED',
      `payment ${paymentId}: only a succeeded payment can be refunded`,
    ),

  exceedsPaid: (refundable: bigint) =>
    new DomainError(
      'failed_precondition',
      'REFUND_EXCEEDS_PAID',
      `amount.amount_minor: exceeds what is left to refund of the payment (${refundable})`,
      {
        field: 'amount.amount_minor',
        rule: `at most ${refundable} (paid minus succeeded and processing refunds)`,
      },
    ),
};
