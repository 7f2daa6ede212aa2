import { Inject, Injectable } from '@nestjs/common';
import {
  assertTenancy,
  CitybaseClaims,
  cityPeriod,
  pageOf,
  PG_POOL,
  Pool,
  PoolClient,
} from '@citybase/platform';
import { type QueryTaxRecordsQuery, TAX_RECORDS_PAGE, taxRecordsCsv } from './tax-records.domain';
import { addToTaxRecord, allTaxRecords, queryTaxRecords, TaxRecordRow } from './tax-records.store';

/**
 * Tax records per operator, merchant and month, written with the completions and refunds they
 * count (escrow's completions and refunds call `add`). They are an operator's records: a client bound to projects only
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

  /**
   * Adds a completion (turnover and tax, one order) or a refund after completion (negative turnover
   * and tax, no order) to the record of its merchant and month, in the caller's transaction.
   */
  async add(
    client: PoolClient,
    r: {
      operatorId: string;
      merchantId: string;
      /** When it happened: the record of that month (UTC+8) grows. */
      at: Date;
      currency: string;
      turnover: bigint;
      tax: bigint;
      orders: number;
    },
  ): Promise<void> {
    const { at, ...rest } = r;
    await addToTaxRecord(client, { ...rest, period: cityPeriod(at) });
  }
}
