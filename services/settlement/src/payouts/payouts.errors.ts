import { DomainError } from '@citybase/platform';
import { LedgerErrors } from '../ledger/ledger.store';

/** Error codes of payouts, wallets and reconciliation. */
export const PayoutErrors = {
  notFound: (payoutId: string) => DomainError.notFound('payout', payoutId, 'PAYOUT_NOT_FOUND'),

  reportNotFound: (reportId: string) =>
    DomainError.notFound('reconciliation report', reportId, 'RECONCILIATION_REPORT_NOT_FOUND'),

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

  /** The wallet's available balance (balance minus pending withdrawals) does not cover the amount. */
  insufficientFunds: () => LedgerErrors.insufficientFunds('the wallet'),

  billAlreadyPaid: (billRef: string) =>
    DomainError.precondition('BILL_ALREADY_PAID', `bill_ref: property fee bill ${billRef} is already paid`),
};
