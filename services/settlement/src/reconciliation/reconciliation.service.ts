import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  inTenancy,
  Logger,
  LOGGER,
  Mutations,
  PG_POOL,
  Pool,
  SERVICE_CONFIG,
} from '@citybase/platform';
import type { SettlementConfig } from '../config';
import { LedgerService } from '../ledger/ledger.service';
import { ReconciliationErrors } from './reconciliation.errors';
import {
  dayRange,
  idsInKey,
  ImportStatementCommand,
  matchStatement,
  parseStatement,
} from './reconciliation.domain';
import {
  DifferenceRow,
  differencesOf,
  findReport,
  insertDifferences,
  insertReport,
  insertStatementLines,
  ReportRow,
} from './reconciliation.store';

export interface Report {
  report: ReportRow;
  differences: DifferenceRow[];
}

/**
 * Reconciliation of the channels' daily statements with the ledger: an import stores the statement's
 * lines, matches them against the day's postings on the channel's clearing account and stores the
 * report. Importing a day again makes a new report; the latest one counts.
 */
@Injectable()
export class ReconciliationService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: SettlementConfig,
    private readonly mutations: Mutations,
    private readonly ledger: LedgerService,
  ) {}

  async importStatement(claims: CitybaseClaims, cmd: ImportStatementCommand): Promise<Report> {
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    // the whole file is checked before anything is written
    const lines = parseStatement(cmd.csv, cmd.day);
    const { start, end } = dayRange(cmd.day);
    const currency = this.config.SETTLEMENT_STATEMENT_CURRENCY;
    const { result: reportId, replayed } = await this.mutations.runWithOutcome({
      method: 'SettlementService.ImportChannelStatement',
      claims,
      requestId: cmd.requestId,
      command: cmd,
      replay: ({ resourceId }) => Promise.resolve(resourceId),
      execute: async ({ client, resourceId: id }) => {
        const postings = (await this.ledger.clearingPostings(client, { ...cmd, currency, start, end })).map(
          (p) => ({
            txId: p.tx_id,
            reference: p.reference,
            refundIds: idsInKey(p.idempotency_key, p.reference),
            amountMinor: BigInt(p.amount_minor),
          }),
        );
        const result = matchStatement(lines, postings);
        await insertReport(client, {
          report_id: id,
          operator_id: cmd.operatorId,
          project_id: cmd.projectId,
          channel_id: cmd.channelId,
          day: cmd.day,
          currency,
          statement_lines: lines.length,
          ledger_postings: postings.length,
          matched_one_to_one: result.matchedOneToOne,
          matched_one_to_many: result.matchedOneToMany,
          matched_many_to_one: result.matchedManyToOne,
          statement_total: result.statementTotal,
          ledger_total: result.ledgerTotal,
          fees: result.fees,
        });
        await insertStatementLines(client, id, lines);
        await insertDifferences(client, id, result.differences);
        return id;
      },
    });
    const report = (await this.load(reportId))!;
    if (!replayed)
      this.logger.info(
        {
          report_id: reportId,
          channel_id: cmd.channelId,
          day: cmd.day,
          lines: report.report.statement_lines,
          postings: report.report.ledger_postings,
          differences: report.differences.length,
        },
        'channel statement reconciled',
      );
    return report;
  }

  async getReport(claims: CitybaseClaims, reportId: string): Promise<Report> {
    const found = await this.load(reportId);
    // another tenant's report answers exactly like a missing one
    if (
      !found ||
      !inTenancy(claims, { operatorId: found.report.operator_id, projectId: found.report.project_id })
    )
      throw ReconciliationErrors.reportNotFound(reportId);
    return found;
  }

  private async load(reportId: string): Promise<Report | undefined> {
    const report = await findReport(this.pool, reportId);
    return report && { report, differences: await differencesOf(this.pool, reportId) };
  }
}
