import { keyPart, MONTH_PERIOD, pageCursor, parsePage, requiredString, TENANT_ID } from '@citybase/platform';
import {
  ExportTaxRecordsRequest,
  QueryTaxRecordsRequest,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { optionalId } from '../request-rules';
import type { TaxRecordRow } from './tax-records.store';

/**
 * Pure rules of tax records: the requests, the CSV export. The period of a moment is the
 * platform's cityPeriod (YYYY-MM in UTC+8).
 */

/** Page tokens of QueryTaxRecords: the last row's merchant id and currency. */
export const TAX_RECORDS_PAGE = pageCursor(
  'settlement.tax-records',
  keyPart.text(TENANT_ID.pattern, TENANT_ID.max),
  keyPart.text(/^[A-Z]{3}$/, 3),
);

export interface QueryTaxRecordsQuery {
  operatorId: string;
  period: string;
  merchantId: string;
  size: number;
  /** The last row of the previous page: merchant id and currency. */
  after: { merchantId: string; currency: string } | undefined;
}

export function toQueryTaxRecordsQuery(req: QueryTaxRecordsRequest): QueryTaxRecordsQuery {
  const operatorId = requiredString('operator_id', req.operatorId, TENANT_ID);
  const period = requiredString('period', req.period, MONTH_PERIOD);
  const merchantId = optionalId('merchant_id', req.merchantId);
  const { size, after } = parsePage(req.page, TAX_RECORDS_PAGE);
  return {
    operatorId,
    period,
    merchantId,
    size,
    after: after && { merchantId: after[0], currency: after[1] },
  };
}

export function toExportTaxRecordsQuery(req: ExportTaxRecordsRequest): {
  operatorId: string;
  period: string;
} {
  return {
    operatorId: requiredString('operator_id', req.operatorId, TENANT_ID),
    period: requiredString('period', req.period, MONTH_PERIOD),
  };
}

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
