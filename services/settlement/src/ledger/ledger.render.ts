import { toTimestamp } from '@citybase/platform';
import { Account, AccountBalance, Transaction } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { AccountRow, StatementEntryRow } from './ledger.store';
import type { AccountBalanceView, TransactionView } from './ledger.service';

/** Proto answers of the ledger's RPCs. */

export function accountProto(a: AccountRow): Account {
  return {
    accountId: a.account_id,
    kind: a.kind,
    tenancy: { operatorId: a.operator_id, projectId: a.project_id, merchantId: a.merchant_id },
    ownerRef: a.owner_ref,
    currency: a.currency.trim(),
    normalSide: a.normal_side === 1 ? 'debit' : 'credit',
    mustNotGoNegative: a.must_not_go_negative,
  };
}

export function accountBalanceProto({ account: a, balance: b }: AccountBalanceView): AccountBalance {
  const currency = a.currency.trim();
  return {
    account: accountProto(a),
    balance: { currency, amountMinor: b.balanceMinor },
    held: { currency, amountMinor: b.heldMinor },
    available: { currency, amountMinor: b.availableMinor },
    asOf: b.asOf ? toTimestamp(b.asOf) : undefined,
  };
}

export function statementEntryProto(currency: string) {
  return (r: StatementEntryRow) => ({
    transactionId: r.tx_id,
    transactionKind: r.kind,
    reference: r.reference,
    amount: { currency, amountMinor: BigInt(r.amount) },
    balanceAfter: { currency, amountMinor: BigInt(r.after) },
    postedAt: toTimestamp(r.posted_at),
  });
}

export function transactionProto({ tx, entries }: TransactionView): Transaction {
  return {
    transactionId: tx.tx_id,
    kind: tx.kind,
    tenancy: { operatorId: tx.operator_id, projectId: tx.project_id, merchantId: '' },
    reference: tx.reference,
    reversesTransactionId: tx.reverses_tx_id ?? '',
    postings: entries.map((e) => ({
      accountId: e.account_id,
      accountKind: e.kind,
      amount: { currency: e.currency.trim(), amountMinor: e.amount_minor },
    })),
    postedAt: toTimestamp(tx.posted_at),
  };
}
