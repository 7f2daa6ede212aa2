import { toTimestamp } from '@citybase/platform';
import { AccountBalance, AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { accountPolicy } from '../ledger/ledger.service';
import type { WalletView } from './wallets.service';

/** Proto answers of wallets. */

export function walletProto(w: WalletView): AccountBalance {
  const kind = AccountKind.ACCOUNT_KIND_RESIDENT_WALLET;
  const policy = accountPolicy(kind);
  const money = (amountMinor: bigint) => ({ currency: w.currency, amountMinor });
  return {
    account: {
      accountId: w.accountId,
      kind,
      tenancy: { operatorId: w.operatorId, projectId: '', merchantId: '' },
      ownerRef: w.ownerRef,
      currency: w.currency,
      normalSide: policy.normalSide === 1 ? 'debit' : 'credit',
      mustNotGoNegative: policy.mustNotGoNegative,
    },
    balance: money(w.balance?.balanceMinor ?? 0n),
    held: money(w.balance?.heldMinor ?? 0n),
    available: money(w.balance?.availableMinor ?? 0n),
    asOf: w.balance?.asOf ? toTimestamp(w.balance.asOf) : undefined,
  };
}
