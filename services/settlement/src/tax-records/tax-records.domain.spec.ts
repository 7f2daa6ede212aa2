import { TAX_CSV_HEADER, taxRecordsCsv } from './tax-records.domain';

// the tax period of a moment is the platform's cityPeriod: its UTC+8 cases are in validate.spec.ts

describe('tax CSV', () => {
  it('has the header of the proto and one line per record', () => {
    expect(TAX_CSV_HEADER).toBe(
      'operator_id,merchant_id,period,currency,taxable_turnover_minor,tax_minor,orders',
    );
    expect(
      taxRecordsCsv([
        {
          operator_id: 'op-1',
          merchant_id: 'm,1',
          period: '2026-11',
          currency: 'CNY',
          taxable_turnover_minor: 10_000n,
          tax_minor: 300n,
          orders: 2,
        },
      ]),
    ).toBe(`${TAX_CSV_HEADER}\nop-1,"m,1",2026-11,CNY,10000,300,2\n`);
  });
});
