import { DomainError } from '@citybase/platform';

/** Error codes of payouts. */
export const PayoutErrors = {
  notFound: (payoutId: string) => DomainError.notFound('payout', payoutId, 'PAYOUT_NOT_FOUND'),

  alreadySettled: (payoutId: string, as: 'paid' | 'failed') =>
    DomainError.precondition(
      'PAYOUT_ALREADY_SETTLED',
      `payout ${payoutId} is already ${as}; the bank's answer contradicts it`,
    ),

  expired: (payoutId: string) =>
    DomainError.precondition(
      'PAYOUT_EXPIRED',
      `payout ${payoutId} expired and its hold was released; a transfer the bank made anyway must be booked by a correction`,
    ),
};
