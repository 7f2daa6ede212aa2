import { toTimestamp } from '@citybase/platform';
import { ReconciliationReport } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { Report } from './reconciliation.service';

/** Proto answers of reconciliation reports. */

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
