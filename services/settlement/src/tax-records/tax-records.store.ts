import type { Pool, PoolClient } from '@citybase/platform';
import type { QueryTaxRecordsQuery } from './tax-records.domain';

/** SQL of tax records (migrations/0003_escrow.sql). */

export interface TaxRecordRow {
  operator_id: string;
  merchant_id: string;
  period: string;
  currency: string;
  taxable_turnover_minor: bigint;
  tax_minor: bigint;
  orders: number;
}

export async function addToTaxRecord(
  client: PoolClient,
  r: {
    operatorId: string;
    merchantId: string;
    period: string;
    currency: string;
    turnover: bigint;
    tax: bigint;
    orders: number;
  },
): Promise<void> {
  await client.query(
    `INSERT INTO tax_records (operator_id, merchant_id, period, currency, taxable_turnover_minor, tax_minor, orders)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (operator_id, period, merchant_id, currency) DO UPDATE
       SET taxable_turnover_minor = tax_records.taxable_turnover_minor + EXCLUDED.taxable_turnover_minor,
           tax_minor = tax_records.tax_minor + EXCLUDED.tax_minor,
           orders = tax_records.orders + EXCLUDED.orders,
           updated_at = clock_timestamp()`,
    [r.operatorId, r.merchantId, r.period, r.currency, r.turnover, r.tax, r.orders],
  );
}

export async function queryTaxRecords(db: Pool, q: QueryTaxRecordsQuery): Promise<TaxRecordRow[]> {
  const { rows } = await db.query<TaxRecordRow>(
    `SELECT operator_id, merchant_id, period, currency, taxable_turnover_minor, tax_minor, orders
       FROM tax_records
      WHERE operator_id = $1 AND period = $2 AND ($3 = '' OR merchant_id = $3)
        AND ($4::text IS NULL OR (merchant_id, currency) > ($4::text, $5::text))
      ORDER BY merchant_id, currency
      LIMIT $6`,
    [
      q.operatorId,
      q.period,
      q.merchantId,
      q.after?.merchantId ?? null,
      q.after?.currency ?? null,
      q.size + 1,
    ],
  );
  return rows;
}

export async function allTaxRecords(db: Pool, operatorId: string, period: string): Promise<TaxRecordRow[]> {
  const { rows } = await db.query<TaxRecordRow>(
    `SELECT operator_id, merchant_id, period, currency, taxable_turnover_minor, tax_minor, orders
       FROM tax_records WHERE operator_id = $1 AND period = $2 ORDER BY merchant_id, currency`,
    [operatorId, period],
  );
  return rows;
}
