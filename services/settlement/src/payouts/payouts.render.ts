import { toTimestamp } from '@citybase/platform';
import {
  AccountBalance,
  AccountKind,
  Payout,
  ReconciliationReport,
  Transaction,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { accountPolicy, EntryRow, TransactionRow } from '../ledger/ledger.store';
import type { PayoutRow } from './payouts.store';
import type { Report } from './reconciliation.service';
import type { WalletView } from './wallets.service';

/** Proto answers of payouts, wallets and reconciliation reports. */

export function payoutProto(p: PayoutRow): Payout {
  return {
    payoutId: p.payout_id,
    batchId: p.batch_id ?? '',
    tenancy: { operatorId: p.operator_id, projectId: p.project_id, merchantId: p.merchant_id },
    accountId: p.account_id,
    accountKind: p.account_kind,
    amount: { currency: p.currency, amountMinor: p.amount_minor },
    status: p.status,
    // stored masked already
    bankAccount: p.bank_account,
    bankReference: p.bank_reference,
    createdAt: toTimestamp(p.created_at),
    expiresAt: toTimestamp(p.expires_at),
    settledAt: p.settled_at ? toTimestamp(p.settled_at) : undefined,
    failureReason: p.failure_reason,
  };
}

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

export function transactionProto(tx: TransactionRow, entries: EntryRow[]): Transaction {
  return {
    transactionId: tx.tx_id,
    kind: tx.kind,
    tenancy: { operatorId: tx.operator_id, projectId: tx.project_id, merchantId: '' },
    reference: tx.reference,
    reversesTransactionId: tx.reverses_tx_id ?? '',
    postings: entries.map((e) => ({
      accountId: e.account_id,
      accountKind: e.kind,
      amount: { currency: e.currency, amountMinor: e.amount_minor },
    })),
    postedAt: toTimestamp(tx.posted_at),
  };
}

export function reportProto({ report: r, differences }: Report): ReconciliationReport {
  const money = (amountMinor: bigint) => ({ currency: r.currency, amountMinor });
  return {
    reportId: r.report_id,
    tenancy: { operatorId: r.operator_id, projectId: r.project_id, merchantId: '' },
    channelId: r.channel_id,
    day: r.day,
    statementLines: BigInt(r.statement_lines),
    ledgerPostings: BigInt(r.ledger_postings),
    matchedOneToOne: BigInt(r.matched_one_to_one),
    matchedOneToMany: BigInt(r.matched_one_to_many),
    matchedManyToOne: BigInt(r.matched_many_to_one),
    differences: differences.map((d) => ({
      issue: d.issue,
      reference: d.reference,
      channelTransactionId: d.channel_transaction_id,
      ledgerAmount: d.ledger_amount === null ? undefined : money(d.ledger_amount),
      statementAmount: d.statement_amount === null ? undefined : money(d.statement_amount),
    })),
    statementTotal: money(r.statement_total),
    ledgerTotal: money(r.ledger_total),
    fees: money(r.fees),
    createdAt: toTimestamp(r.created_at),
  };
}
