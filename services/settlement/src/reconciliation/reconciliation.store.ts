import type { PoolClient } from '@citybase/platform';
import { ReconciliationIssue } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { Queryable } from '../ledger/ledger.service';
import type { Difference, StatementLine } from './reconciliation.domain';

/** SQL of reconciliation reports, their statement lines and differences (migrations/0004_payouts.sql). */

export interface ReportRow {
  report_id: string;
  operator_id: string;
  project_id: string;
  channel_id: string;
  /** YYYY-MM-DD */
  day: string;
  currency: string;
  statement_lines: number;
  ledger_postings: number;
  matched_one_to_one: number;
  matched_one_to_many: number;
  matched_many_to_one: number;
  statement_total: bigint;
  ledger_total: bigint;
  fees: bigint;
  created_at: Date;
}

export interface DifferenceRow {
  issue: ReconciliationIssue;
  reference: string;
  channel_transaction_id: string;
  ledger_amount: bigint | null;
  statement_amount: bigint | null;
}

export async function insertReport(client: PoolClient, r: Omit<ReportRow, 'created_at'>): Promise<void> {
  await client.query(
    `INSERT INTO reconciliation_reports (report_id, operator_id, project_id, channel_id, day, currency,
       statement_lines, ledger_postings, matched_one_to_one, matched_one_to_many, matched_many_to_one,
       statement_total, ledger_total, fees)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
    [
      r.report_id,
      r.operator_id,
      r.project_id,
      r.channel_id,
      r.day,
      r.currency,
      r.statement_lines,
      r.ledger_postings,
      r.matched_one_to_one,
      r.matched_one_to_many,
      r.matched_many_to_one,
      r.statement_total,
      r.ledger_total,
      r.fees,
    ],
  );
}

const CHUNK = 5_000;

/** Calls `insert` with the items CHUNK at a time (and the index of each chunk's first item). */
async function inChunks<T>(
  items: T[],
  insert: (chunk: T[], first: number) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < items.length; i += CHUNK) await insert(items.slice(i, i + CHUNK), i);
}

export async function insertStatementLines(
  client: PoolClient,
  reportId: string,
  lines: StatementLine[],
): Promise<void> {
  await inChunks(lines, (chunk) =>
    client.query(
      `INSERT INTO reconciliation_statement_lines
         (report_id, line_no, kind, transaction_id, out_trade_no, out_refund_no, amount_minor, fee_minor, at)
       SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                                $8::bigint[], $9::timestamptz[])`,
      [
        reportId,
        chunk.map((l) => l.lineNo),
        chunk.map((l) => l.kind),
        chunk.map((l) => l.transactionId),
        chunk.map((l) => l.outTradeNo),
        chunk.map((l) => l.outRefundNo),
        chunk.map((l) => l.amountMinor.toString()),
        chunk.map((l) => l.feeMinor.toString()),
        chunk.map((l) => l.at.toISOString()),
      ],
    ),
  );
}

export async function insertDifferences(
  client: PoolClient,
  reportId: string,
  differences: Difference[],
): Promise<void> {
  await inChunks(differences, (chunk, first) =>
    client.query(
      `INSERT INTO reconciliation_differences
         (report_id, ordinal, issue, reference, channel_transaction_id, ledger_amount, statement_amount)
       SELECT $1, * FROM unnest($2::int[], $3::smallint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[])`,
      [
        reportId,
        chunk.map((_d, j) => first + j + 1),
        chunk.map((d) => d.issue),
        chunk.map((d) => d.reference),
        chunk.map((d) => d.channelTransactionId),
        chunk.map((d) => d.ledgerAmount?.toString() ?? null),
        chunk.map((d) => d.statementAmount?.toString() ?? null),
      ],
    ),
  );
}

export async function findReport(db: Queryable, reportId: string): Promise<ReportRow | undefined> {
  const { rows } = await db.query<ReportRow>(
    `SELECT report_id, operator_id, project_id, channel_id, to_char(day, 'YYYY-MM-DD') AS day, currency,
            statement_lines, ledger_postings, matched_one_to_one, matched_one_to_many, matched_many_to_one,
            statement_total, ledger_total, fees, created_at
       FROM reconciliation_reports WHERE report_id = $1`,
    [reportId],
  );
  return rows[0];
}

export async function differencesOf(db: Queryable, reportId: string): Promise<DifferenceRow[]> {
  const { rows } = await db.query<DifferenceRow>(
    `SELECT issue, reference, channel_transaction_id, ledger_amount, statement_amount
       FROM reconciliation_differences WHERE report_id = $1 ORDER BY ordinal`,
    [reportId],
  );
  return rows;
}
