import type { AlarmRule } from '../profiles/profiles';
import { decideAcknowledge, decideClear, evaluateRule } from './alarms.domain';

const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 7, 0, s));
const SMOKE: AlarmRule = {
  type: 'SMOKE',
  metric: 'smoke_ppm',
  above: 150,
  sustainedS: 0,
  severity: 'CRITICAL',
};
const HOT: AlarmRule = {
  type: 'OVER_TEMPERATURE',
  metric: 'temperature_c',
  above: 60,
  sustainedS: 30,
  severity: 'WARNING',
  clearAtOrBelow: 55,
};

function run(rule: AlarmRule, readings: [number, number][]) {
  let condition = { aboveSince: null as Date | null, lastAt: null as Date | null };
  return readings.map(([s, value]) => {
    const r = evaluateRule(rule, condition, { value, at: at(s) });
    condition = r.condition;
    return r.decision;
  });
}

describe('alarm rules', () => {
  it('smoke raises at the first reading above the threshold, and clears below it', () => {
    expect(
      run(SMOKE, [
        [0, 5],
        [1, 400],
        [2, 500],
        [3, 3],
      ]),
    ).toEqual(['clear', 'raise', 'raise', 'clear']);
  });

  it('temperature raises only when above for the sustained time, and clears at the lower threshold', () => {
    expect(
      run(HOT, [
        [0, 61],
        [10, 65],
        [29, 70],
        [30, 70],
        [40, 58],
        [50, 54],
      ]),
    ).toEqual(['none', 'none', 'none', 'raise', 'none', 'clear']);
    // a dip between the thresholds restarts the sustain timer
    expect(
      run(HOT, [
        [0, 61],
        [20, 57],
        [40, 61],
        [60, 61],
        [70, 61],
      ]),
    ).toEqual(['none', 'none', 'none', 'none', 'raise']);
  });

  it('ignores a reading older than the last one evaluated', () => {
    expect(
      run(SMOKE, [
        [5, 400],
        [1, 3],
      ]),
    ).toEqual(['raise', 'none']);
  });

  it('lifecycle: ACTIVE_UNACKED > ACKED > CLEARED; acknowledging twice or clearing twice changes nothing', () => {
    expect(decideAcknowledge('active_unacked', false)).toEqual({ status: 'acked', changed: true });
    expect(decideAcknowledge('acked', true)).toEqual({ status: 'acked', changed: false });
    expect(decideAcknowledge('cleared', false)).toEqual({ status: 'cleared', changed: true });
    expect(decideClear('acked')).toEqual({ status: 'cleared', changed: true });
    expect(decideClear('cleared')).toEqual({ status: 'cleared', changed: false });
  });
});
