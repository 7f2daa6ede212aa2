import { DomainError } from '@citybase/platform';

/** Error codes of payment intents. */
export const PaymentErrors = {
  notFound: (paymentId: string) => DomainError.notFound('payment', paymentId, 'PAYMENT_NOT_FOUND'),

  /** Routing found no channel to open the order at; the payment is stored as failed. */
  notRoutable: (paymentId: string, reason: string) =>
    DomainError.precondition(
      reason,
      reason === 'NO_CHANNEL'
        ? `payment ${paymentId} failed: no channel is configured for this payment (project, scenario, amount)`
        : `payment ${paymentId} failed: every channel configured for this payment refused it`,
    ),
};
