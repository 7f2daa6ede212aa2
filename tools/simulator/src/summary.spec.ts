import { renderLine, renderSummary, Stats } from './summary';

describe('Stats and the summary', () => {
  const stats = () => {
    const s = new Stats(0, 5, 10);
    s.begin('fee');
    s.begin('coupon');
    s.begin('parking');
    s.finish('fee', 'ok', 100, 1_000);
    s.finish('coupon', 'refused', 20, 2_000);
    s.finish('parking', 'failed', 300, 3_000, 'timed out waiting for the gate');
    s.begin('parking');
    s.skipped = 2;
    return s;
  };

  it('counts per kind and outcome, the running ones, and rates over the window and overall', () => {
    const snap = stats().snapshot(20_000);
    expect(snap.kinds.fee).toEqual({ ok: 1, refused: 0, failed: 0, latencyMsSum: 100 });
    expect(snap.kinds.coupon.refused).toBe(1);
    expect(snap.kinds.parking.failed).toBe(1);
    expect(snap.inFlight).toBe(1);
    expect(snap.inFlightKinds).toEqual({ parking: 1 });
    expect(snap.recentRate).toBe(0); // nothing finished in the last 10 s
    expect(snap.overallRate).toBeCloseTo(3 / 20);
    expect(stats().snapshot(5_000).recentRate).toBeCloseTo(3 / 5);
    expect(snap.topErrors).toEqual([{ message: 'parking: timed out waiting for the gate', count: 1 }]);
  });

  it('renders one screen: header, a row per kind with ok / refused / errors / mean latency, totals, errors', () => {
    const lines = renderSummary(stats().snapshot(20_000));
    expect(lines[0]).toContain('target 5 ops/s');
    expect(lines[1]).toBe('in flight 1   skipped (city behind) 2');
    expect(
      lines
        .find((l) => l.trim().startsWith('fee'))
        ?.split(/\s+/)
        .filter(Boolean),
    ).toEqual(['fee', '1', '0', '0', '100']);
    expect(
      lines
        .find((l) => l.trim().startsWith('door'))
        ?.trim()
        .split(/\s+/),
    ).toEqual(['door', '0', '0', '0', '-']);
    expect(
      lines
        .find((l) => l.trim().startsWith('total'))
        ?.trim()
        .split(/\s+/),
    ).toEqual(['total', '1', '1', '1']);
    expect(lines.at(-1)).toBe('       1 x parking: timed out waiting for the gate');
  });

  it('renders a plain line for logs, with the errors marked', () => {
    const line = renderLine(stats().snapshot(20_000));
    expect(line).toMatch(/^\[simulator\] 00:00:20 /);
    expect(line).toContain('fee=1 ');
    expect(line).toContain('parking=0/1!');
    expect(line).toContain('last-error="parking: timed out waiting for the gate"');
    expect(renderSummary(new Stats(0, 1).snapshot(0)).at(-1)).toBe('errors: none');
  });
});
