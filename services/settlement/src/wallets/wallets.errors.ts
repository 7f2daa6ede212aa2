import { DomainError } from '@citybase/platform';
import { LedgerErrors } from '../ledger/ledger.service';

/** Error codes of residents' wallets. */
export const WalletErrors = {
  /** The wallet's available balance (balance minus pending withdrawals) does not cover the amount. */
  insufficientFunds: () => LedgerErrors.insufficientFunds('the wallet'),

  billAlreadyPaid: (billRef: string) =>
    DomainError.precondition('BILL_ALREADY_PAID', `bill_ref: property fee bill ${billRef} is already paid`),
};
