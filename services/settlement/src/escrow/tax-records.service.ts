import { Inject, Injectable } from '@nestjs/common';
import { assertTenancy, CitybaseClaims, pageOf, PG_POOL, Pool } from '@citybase/platform';
import { type QueryTaxRecordsQuery, TAX_RECORDS_PAGE } from './escrow.requests';
import { allTaxRecords, queryTaxRecords, TaxRecordRow } from './escrow.store';

/** The CSV header of ExportTaxRecords (settlement.proto). */
export const TAX_CSV_HEADER =
  'operator_id,merchant_id,period,currency,taxable_turnover_minor,tax_minor,orders';

/** A CSV field, quoted when it has to be (RFC 4180). */
function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function taxRecordsCsv(rows: TaxRecordRow[]): string {
  const lines = rows.map((r) =>
    [
      r.operator_id,
      r.merchant_id,
      r.period,
      r.currency,
      r.taxable_turnover_minor.toString(),
      r.tax_minor.toString(),
      String(r.orders),
    ]
      .map(csvField)
      .join(','),
  );
  return [TAX_CSV_HEADER, ...lines].join('\n') + '\n';
}

/**
 * Tax records per operator, merchant and month, written with the completions and refunds they
 * count (escrow.transitions.ts). They are an operator's records: a client bound to projects only
 * does not see them.
 */
@Injectable()
export class TaxRecordsService {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async query(
    claims: CitybaseClaims,
    q: QueryTaxRecordsQuery,
  ): Promise<{ records: TaxRecordRow[]; nextPageToken: string }> {
    assertTenancy(claims, { operatorId: q.operatorId });
    const rows = await queryTaxRecords(this.pool, q);
    const { rows: records, nextPageToken } = pageOf(rows, q.size, TAX_RECORDS_PAGE, (r) => [
      r.merchant_id,
      r.currency,
    ]);
    return { records, nextPageToken };
  }

  async exportCsv(claims: CitybaseClaims, q: { operatorId: string; period: string }): Promise<string> {
    assertTenancy(claims, { operatorId: q.operatorId });
    return taxRecordsCsv(await allTaxRecords(this.pool, q.operatorId, q.period));
  }
}
