import { DomainError } from '../errors';
import {
  calendarDayUtcMs,
  CHANNEL_ID,
  cityPeriod,
  CURRENCY,
  MONTH_PERIOD,
  requiredMoney,
  requiredString,
  requiredTimestamp,
  TENANT_ID,
} from './validate';

const invalid = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return err.message;
    throw err;
  }
  throw new Error('expected INVALID_ARGUMENT');
};

describe('shared string rules', () => {
  it('TENANT_ID: opaque ids of 1-64 letters, digits, dots, dashes, colons or underscores', () => {
    expect(requiredString('operator_id', ' op-1:a_b.c ', TENANT_ID)).toBe('op-1:a_b.c');
    expect(requiredString('operator_id', 'x'.repeat(64), TENANT_ID)).toHaveLength(64);
    expect(invalid(() => requiredString('operator_id', 'x'.repeat(65), TENANT_ID))).toMatch(/at most 64/);
    expect(invalid(() => requiredString('operator_id', 'op 1', TENANT_ID))).toMatch(TENANT_ID.patternRule);
    expect(invalid(() => requiredString('operator_id', '', TENANT_ID))).toMatch(/is required/);
  });

  it('CHANNEL_ID: 1-40 lowercase letters, digits or dashes', () => {
    expect(requiredString('channel_id', 'wxpay-main2', CHANNEL_ID)).toBe('wxpay-main2');
    expect(invalid(() => requiredString('channel_id', 'WxPay', CHANNEL_ID))).toMatch(CHANNEL_ID.patternRule);
    expect(invalid(() => requiredString('channel_id', 'a'.repeat(41), CHANNEL_ID))).toMatch(/at most 40/);
  });

  it('CURRENCY: three capital letters, the rule requiredMoney applies too', () => {
    expect(requiredString('currency', 'CNY', CURRENCY)).toBe('CNY');
    expect(invalid(() => requiredString('currency', 'cny', CURRENCY))).toMatch(CURRENCY.patternRule);
    expect(invalid(() => requiredMoney('amount', { currency: 'cn', amountMinor: 1n }))).toMatch(
      CURRENCY.patternRule,
    );
  });
});

describe('cityPeriod (UTC+8) and MONTH_PERIOD', () => {
  it('is the month in the city time zone', () => {
    expect(cityPeriod(new Date('2026-01-31T15:59:59.999Z'))).toBe('2026-01');
    expect(cityPeriod(new Date('2026-01-31T16:00:00.000Z'))).toBe('2026-02');
    expect(cityPeriod(new Date('2026-12-31T16:00:00.000Z'))).toBe('2027-01');
  });

  it('accepts YYYY-MM months only', () => {
    expect(requiredString('period', '2026-12', MONTH_PERIOD)).toBe('2026-12');
    for (const bad of ['2026-13', '2026-00', '2026-1', '26-01', '2026-01-01'])
      expect(invalid(() => requiredString('period', bad, MONTH_PERIOD))).toMatch(/period: must/);
  });
});

describe('calendarDayUtcMs', () => {
  it('is midnight UTC of a calendar day', () => {
    expect(calendarDayUtcMs('2026-12-05')).toBe(Date.UTC(2026, 11, 5));
    expect(calendarDayUtcMs('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
  });

  it('is undefined for text that is not a calendar day', () => {
    for (const day of [
      '2026-02-30',
      '2025-02-29',
      '2026-13-01',
      '2026-00-10',
      '2026-1-5',
      '20261205',
      '',
      'x',
    ])
      expect(calendarDayUtcMs(day)).toBeUndefined();
  });
});

describe('requiredTimestamp', () => {
  it('reads a timestamp and refuses a missing or malformed one, naming the field', () => {
    expect(requiredTimestamp('deal.deadline', { seconds: 1_765_000_000n, nanos: 500_000_000 })).toEqual(
      new Date(1_765_000_000_500),
    );
    for (const bad of [undefined, { seconds: 1n, nanos: -1 }, { seconds: 1n, nanos: 1_000_000_000 }]) {
      const err = (() => {
        try {
          requiredTimestamp('deal.deadline', bad);
        } catch (e) {
          return e as DomainError;
        }
        throw new Error('expected a refusal');
      })();
      expect([err.kind, err.detail.field]).toEqual(['invalid_argument', 'deal.deadline']);
    }
  });
});
