import { TaxRecord } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { TaxRecordRow } from './tax-records.store';

/** Proto answers of tax records. */

const money = (currency: string, amountMinor: bigint) => ({ currency, amountMinor });

export function taxRecordToProto(r: TaxRecordRow): TaxRecord {
  return {
    operatorId: r.operator_id,
    merchantId: r.merchant_id,
    period: r.period,
    taxableTurnover: money(r.currency, r.taxable_turnover_minor),
    tax: money(r.currency, r.tax_minor),
    orders: BigInt(r.orders),
  };
}
