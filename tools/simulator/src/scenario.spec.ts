import { Random } from './random';
import { DEFAULT_WEIGHTS, OP_KINDS, OpKind, ScenarioChooser } from './scenario';

const count = (chooser: ScenarioChooser, n: number, eligible?: (k: OpKind) => boolean) => {
  const seen = Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as Record<OpKind, number>;
  for (let i = 0; i < n; i++) {
    const k = chooser.next(eligible);
    if (k) seen[k] += 1;
  }
  return seen;
};

describe('ScenarioChooser', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = count(new ScenarioChooser(new Random('s1')), 200);
    expect(count(new ScenarioChooser(new Random('s1')), 200)).toEqual(a);
    const seq = (seed: string) => {
      const c = new ScenarioChooser(new Random(seed));
      return Array.from({ length: 30 }, () => c.next());
    };
    expect(seq('s1')).not.toEqual(seq('s2'));
  });

  it('picks kinds in proportion to their weights', () => {
    const n = 40_000;
    const seen = count(new ScenarioChooser(new Random('prop')), n);
    const total = OP_KINDS.reduce((acc, k) => acc + DEFAULT_WEIGHTS[k], 0);
    for (const k of OP_KINDS) {
      const expected = (n * DEFAULT_WEIGHTS[k]) / total;
      expect([k, Math.abs(seen[k] - expected) < expected * 0.1 + 50]).toEqual([k, true]);
    }
  });

  it('never picks a kind of weight 0 nor one that is not eligible', () => {
    const weights = { ...DEFAULT_WEIGHTS, feed: 0 };
    const seen = count(new ScenarioChooser(new Random('w'), weights), 5_000, (k) => k !== 'refund');
    expect(seen.feed).toBe(0);
    expect(seen.refund).toBe(0);
    expect(seen.telemetry).toBeGreaterThan(0);
  });

  it('answers undefined when nothing is eligible, and refuses weights that allow nothing', () => {
    expect(new ScenarioChooser(new Random('x')).next(() => false)).toBeUndefined();
    const none = Object.fromEntries(OP_KINDS.map((k) => [k, 0])) as Record<OpKind, number>;
    expect(() => new ScenarioChooser(new Random('x'), none)).toThrow('at least one');
    expect(() => new ScenarioChooser(new Random('x'), { ...none, fee: -1 })).toThrow('fee');
  });
});
