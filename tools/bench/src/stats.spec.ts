import {
  BenchConfigError,
  formatTable,
  intFromEnv,
  parsePgbenchTps,
  percentileOfSorted,
  percentiles,
  perSecond,
  round,
} from './stats';

describe('percentiles (nearest rank)', () => {
  it('picks the nearest-rank value', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
    expect(percentiles(values, [50, 99, 100])).toEqual([50, 99, 100]);
    expect(percentiles([7], [50, 99])).toEqual([7, 7]);
    expect(percentiles([3, 1, 2, 4], [50])).toEqual([2]);
    expect(percentiles([3, 1, 2, 4], [75, 76])).toEqual([3, 4]);
  });

  it('leaves the input alone', () => {
    const values = [3, 1, 2];
    percentiles(values, [50]);
    expect(values).toEqual([3, 1, 2]);
  });

  it('refuses no values and percentiles outside (0, 100]', () => {
    expect(() => percentileOfSorted([], 50)).toThrow(RangeError);
    expect(() => percentileOfSorted([1], 0)).toThrow(RangeError);
    expect(() => percentileOfSorted([1], 101)).toThrow(RangeError);
  });
});

describe('rates and rounding', () => {
  it('computes events per second', () => {
    expect(perSecond(20_000, 10_000)).toBe(2_000);
    expect(() => perSecond(1, 0)).toThrow(RangeError);
  });

  it('rounds to digits', () => {
    expect(round(1.23456, 2)).toBe(1.23);
    expect(round(1234.5, 0)).toBe(1235);
  });
});

describe('intFromEnv', () => {
  it('reads whole numbers, with or without underscores, else the default', () => {
    expect(intFromEnv({ BENCH_EVENTS: '5000' }, 'BENCH_EVENTS', 20_000)).toBe(5_000);
    expect(intFromEnv({ BENCH_EVENTS: '20_000' }, 'BENCH_EVENTS', 1)).toBe(20_000);
    expect(intFromEnv({}, 'BENCH_EVENTS', 20_000)).toBe(20_000);
    expect(intFromEnv({ BENCH_EVENTS: ' ' }, 'BENCH_EVENTS', 7)).toBe(7);
    expect(intFromEnv({ BENCH_WARMUP: '0' }, 'BENCH_WARMUP', 500, 0)).toBe(0);
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => intFromEnv({ BENCH_EVENTS: '1e4' }, 'BENCH_EVENTS', 1)).toThrow(BenchConfigError);
    expect(() => intFromEnv({ BENCH_EVENTS: '-3' }, 'BENCH_EVENTS', 1)).toThrow(/BENCH_EVENTS/);
    expect(() => intFromEnv({ BENCH_EVENTS: '0' }, 'BENCH_EVENTS', 1)).toThrow(/at least 1/);
  });
});

describe('parsePgbenchTps', () => {
  it('reads the tps line of pgbench 15', () => {
    const out = [
      'number of transactions actually processed: 12345',
      'latency average = 9.720 ms',
      'initial connection time = 12.345 ms',
      'tps = 823.115208 (without initial connection time)',
    ].join('\n');
    expect(parsePgbenchTps(out)).toBeCloseTo(823.115208, 6);
  });

  it('takes the line excluding connections from older pgbench', () => {
    const out =
      'tps = 700.1 (including connections establishing)\ntps = 710.5 (excluding connections establishing)\n';
    expect(parsePgbenchTps(out)).toBe(710.5);
  });

  it('fails clearly without one', () => {
    expect(() => parsePgbenchTps('connection refused')).toThrow(/tps = /);
  });
});

describe('formatTable', () => {
  it('pads columns and rules the header', () => {
    expect(formatTable(['a', 'bb'], [['xxx', 'y']])).toBe(['a    bb', '---  --', 'xxx  y'].join('\n'));
  });
});
