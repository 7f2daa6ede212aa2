import { ProviderError } from './errors';
import { dayRange, feeOf, renderStatement, STATEMENT_HEADER } from './statement';

describe('statement fee: 0.6% rounded half up to whole minor units', () => {
  it.each([
    [1n, 0n],
    [83n, 0n], // 0.498
    [84n, 1n], // 0.504
    [250n, 2n], // 1.5 exactly: up
    [249n, 1n], // 1.494
    [750n, 5n], // 4.5 exactly: up
    [1000n, 6n],
    [12_345n, 74n], // 74.07
    [9_223_372_036_854_775_807n, 55_340_232_221_128_655n], // int64 max: no precision lost
  ])('fee of %s is %s', (amount, fee) => {
    expect(feeOf(amount)).toBe(fee);
  });

  it('agrees with exact decimal arithmetic for every amount up to 20 000', () => {
    for (let a = 0; a <= 20_000; a++) {
      // 0.6% of a = 6a/1000; half up = floor(6a/1000 + 1/2) = floor((6a + 500) / 1000)
      const thousandths = a * 6;
      const expected = Math.floor(thousandths / 1000) + (thousandths % 1000 >= 500 ? 1 : 0);
      expect(feeOf(BigInt(a))).toBe(BigInt(expected));
    }
  });
});

describe('statement day (UTC+8)', () => {
  it('starts at 16:00 UTC of the day before', () => {
    const { start, end } = dayRange('2025-03-01');
    expect(new Date(start).toISOString()).toBe('2025-02-28T16:00:00.000Z');
    expect(new Date(end).toISOString()).toBe('2025-03-01T16:00:00.000Z');
  });

  it.each(['2025-02-30', '2025-13-01', '2025-1-01', '20250101', '2025-01-01T00:00', ''])(
    'refuses %p',
    (day) => {
      expect(() => dayRange(day)).toThrow(ProviderError);
      expect(() => dayRange(day)).toThrow('day: must be a date YYYY-MM-DD');
    },
  );
});

describe('renderStatement', () => {
  it('writes the header and one line per payment or refund, in time order', () => {
    const csv = renderStatement([
      {
        kind: 'REFUND',
        transactionId: 'T1',
        outTradeNo: 'pay-1',
        outRefundNo: 'ref-1',
        amount: 250n,
        at: new Date('2025-03-01T02:00:00Z'),
      },
      {
        kind: 'PAYMENT',
        transactionId: 'T1',
        outTradeNo: 'pay-1',
        amount: 10_000n,
        at: new Date('2025-03-01T01:00:00Z'),
      },
    ]);
    expect(csv).toBe(
      [
        STATEMENT_HEADER,
        'PAYMENT,T1,pay-1,,10000,60,2025-03-01T01:00:00.000Z',
        'REFUND,T1,pay-1,ref-1,250,2,2025-03-01T02:00:00.000Z',
        '',
      ].join('\n'),
    );
  });

  it('is just the header for a day without transactions', () => {
    expect(renderStatement([])).toBe(`${STATEMENT_HEADER}\n`);
  });
});
