import { allHold, evaluateInvariants, InvariantInputs } from './invariants';

const holding = (): InvariantInputs => ({
  ledger: { ok: true, violations: [] },
  budgets: [{ name: 'city', allotted: 1_000n, issued: 1_000n }],
  coupons: [{ name: 'flash', maxCoupons: 10n, claimed: 10n, claimedBySimulator: 10n, unsure: 0n }],
  counts: [{ name: 'checkouts', simulator: 5, unsure: 0, service: 5 }],
});

describe('evaluateInvariants', () => {
  it('holds when the ledger is clean, budgets and coupons are within limits and counts agree', () => {
    const results = evaluateInvariants(holding());
    expect(results.map((r) => [r.name, r.ok])).toEqual([
      ['ledger: settlement check-ledger', true],
      ['points: city issued <= allotted', true],
      ['coupons: flash not oversold', true],
      ['coupons: flash claims acknowledged = claims counted', true],
      ['events = database: checkouts', true],
    ]);
    expect(allHold(results)).toBe(true);
  });

  it.each([
    [
      'a ledger violation',
      (i: InvariantInputs) => (i.ledger = { ok: false, violations: [{ kind: 'unbalanced' }] }),
    ],
    [
      'a ledger check that could not run',
      (i: InvariantInputs) => ((i.ledger = undefined), (i.ledgerError = 'ENOENT')),
    ],
    ['a budget issued beyond its allotment', (i: InvariantInputs) => (i.budgets[0]!.issued = 1_001n)],
    [
      'an oversold campaign',
      (i: InvariantInputs) => ((i.coupons[0]!.claimed = 11n), (i.coupons[0]!.claimedBySimulator = 11n)),
    ],
    ['a claim lost', (i: InvariantInputs) => (i.coupons[0]!.claimed = 9n)],
    [
      'a claim counted twice',
      (i: InvariantInputs) => ((i.coupons[0]!.maxCoupons = 0n), (i.coupons[0]!.claimed = 11n)),
    ],
    ['a checkout the service lost', (i: InvariantInputs) => (i.counts[0]!.service = 4)],
    [
      'a checkout beyond the unsure ones',
      (i: InvariantInputs) => ((i.counts[0]!.unsure = 1), (i.counts[0]!.service = 7)),
    ],
  ])('fails on %s', (_name, breakIt) => {
    const inputs = holding();
    breakIt(inputs);
    const results = evaluateInvariants(inputs);
    expect(allHold(results)).toBe(false);
    expect(results.filter((r) => !r.ok)).toHaveLength(1);
  });

  it('accepts an operation whose outcome was unsure either way', () => {
    for (const service of [5, 6]) {
      const inputs = holding();
      inputs.counts[0]!.unsure = 1;
      inputs.counts[0]!.service = service;
      expect(allHold(evaluateInvariants(inputs))).toBe(true);
    }
  });

  it('holds nothing when there is nothing to check', () => {
    expect(allHold([])).toBe(false);
  });
});
