import { nextCheckDelayMs } from './jobs';

describe('nextCheckDelayMs', () => {
  it('backs off from the interval, doubling, up to five minutes', () => {
    expect([0, 1, 2, 3].map((c) => nextCheckDelayMs(c, 5_000))).toEqual([5_000, 10_000, 20_000, 40_000]);
    expect(nextCheckDelayMs(20, 5_000)).toBe(300_000);
    expect(nextCheckDelayMs(20, 600_000)).toBe(600_000);
  });
});
