import { TAX_CSV_HEADER, taxPeriod, taxRecordsCsv } from './tax-records.domain';

describe('taxPeriod (UTC+8)', () => {
  it('is the month in the city time zone', () => {
    expect(taxPeriod(new Date('2026-01-31T15:59:59.999Z'))).toBe('2026-01');
    expect(taxPeriod(new Date('2026-01-31T16:00:00.000Z'))).toBe('2026-02');
    expect(taxPeriod(new Date('2026-12-31T16:00:00.000Z'))).toBe('2027-01');
  });
});

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
