import { Pacer } from './rate';

describe('Pacer (open-loop rate control)', () => {
  it('starts one operation at the start and then one per 1/rate seconds', () => {
    const p = new Pacer(4, 1_000, 100);
    expect(p.take(999, 0)).toBe(0);
    expect(p.take(1_000, 0)).toBe(1);
    expect(p.take(1_100, 0)).toBe(0);
    expect(p.msUntilNext(1_100)).toBe(150);
    expect(p.take(1_250, 0)).toBe(1);
    // a late loop catches up: everything due by 2 s (9 in all) is started at once
    expect(p.take(3_000, 0)).toBe(7);
    expect(p.startedCount).toBe(9);
  });

  it('skips (and counts) what is due beyond the in-flight limit instead of queueing it', () => {
    const p = new Pacer(10, 0, 3);
    expect(p.take(1_000, 0)).toBe(3);
    expect(p.skipped).toBe(8);
    // the skipped ones are gone: the next due one starts when there is room again
    expect(p.take(1_050, 3)).toBe(0);
    expect(p.take(1_100, 0)).toBe(1);
    expect(p.startedCount + p.skipped).toBe(p.dueBy(1_100));
  });

  it('rate 0 starts nothing and never wakes the loop', () => {
    const p = new Pacer(0, 0, 10);
    expect(p.take(60_000, 0)).toBe(0);
    expect(p.msUntilNext(60_000)).toBe(Infinity);
  });

  it('refuses a negative rate and an in-flight limit below 1', () => {
    expect(() => new Pacer(-1, 0, 1)).toThrow('rate');
    expect(() => new Pacer(1, 0, 0)).toThrow('maxInFlight');
  });

  it('keeps a fractional rate over a long run', () => {
    const p = new Pacer(0.5, 0, 10);
    let started = 0;
    for (let t = 0; t <= 100_000; t += 100) started += p.take(t, 0);
    expect(started).toBe(51);
  });
});
