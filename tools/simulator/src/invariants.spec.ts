import { allHold, evaluateInvariants, InvariantInputs } from './invariants';

const holding = (): InvariantInputs => ({
  ledger: { ok: true, violations: [] },
  budgets: [{ name: 'city', allotted: 1_000n, issued: 1_000n }],
  coupons: [{ name: 'flash', maxCoupons: 10n, claimed: 10n, claimedBySimulator: 10n, unsure: 0n }],
  counts: [{ name: 'checkouts', simulator: 5, unsure: 0, service: 5 }],
});

/** Every kind of the day's checks, holding: a filled deal, a failed one, an open one, a dispute, an alarm, a member. */
const holdingLife = (): InvariantInputs => ({
  ...holding(),
  deals: [
    {
      name: 'filled',
      minParticipants: 2,
      maxParticipants: 3,
      status: 2,
      paid: 3,
      pending: 0,
      pastDeadline: false,
      seats: ['a', 'b', 'c'].map((participantId) => ({ participantId, status: 2, escrow: 3 })),
      acknowledged: ['a', 'b', 'c'],
      unsure: 0,
    },
    {
      name: 'failed',
      minParticipants: 5,
      maxParticipants: 5,
      status: 3,
      paid: 0,
      pending: 0,
      pastDeadline: true,
      seats: [
        { participantId: 'd', status: 4, escrow: 4 },
        { participantId: 'e', status: 3, escrow: 0 },
      ],
      acknowledged: ['d', 'e'],
      unsure: 0,
    },
    {
      name: 'open',
      minParticipants: 2,
      maxParticipants: 3,
      status: 1,
      paid: 1,
      pending: 1,
      pastDeadline: false,
      seats: [
        { participantId: 'f', status: 2, escrow: 1 },
        { participantId: 'g', status: 1, escrow: 0 },
      ],
      acknowledged: ['f'],
      unsure: 1,
    },
  ],
  disputes: [
    {
      name: 'partial',
      expectedStatus: 3,
      expectedRefunded: 100n,
      status: 3,
      refunded: 100n,
      outstanding: 0n,
    },
  ],
  alarms: [
    {
      name: 'smoke 1',
      smokeReadings: 2,
      unsure: 0,
      occurrences: 2,
      acknowledged: ['al-1'],
      acknowledgedInService: ['al-1'],
    },
  ],
  members: [{ name: 'spouse', bound: true }],
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

  it('holds for group buys that filled, failed and are still open, a resolved dispute, an acknowledged alarm, a bound member', () => {
    const results = evaluateInvariants(holdingLife());
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.map((r) => r.name)).toEqual(
      expect.arrayContaining([
        'group buys: filled never above its size',
        'group buys: failed joins acknowledged = participants',
        'group buys: open outcome',
        'disputes: partial as resolved',
        'alarms: smoke 1 acknowledged alarms stay acknowledged',
        'alarms: smoke 1 no smoke reading counted twice',
        'household members: spouse bound',
      ]),
    );
  });

  it.each([
    ['a deal above its size', (i: InvariantInputs) => (i.deals![0]!.pending = 1)],
    [
      'a deal holding more seats than its size',
      (i: InvariantInputs) => {
        i.deals![0]!.seats.push({ participantId: 'x', status: 2, escrow: 3 });
        i.deals![0]!.acknowledged.push('x');
      },
    ],
    [
      'an acknowledged seat marketing lost',
      (i: InvariantInputs) => (i.deals![1]!.acknowledged = ['d', 'e', 'z']),
    ],
    ['a seat nobody acknowledged', (i: InvariantInputs) => (i.deals![2]!.unsure = 0)],
    ['a deal still open after its deadline', (i: InvariantInputs) => (i.deals![2]!.pastDeadline = true)],
    [
      'a deal succeeded below its minimum',
      (i: InvariantInputs) => (
        (i.deals![2]!.status = 2),
        (i.deals![2]!.paid = 1),
        (i.deals![2]!.pending = 0)
      ),
    ],
    [
      'a succeeded seat whose order did not complete',
      (i: InvariantInputs) => (i.deals![0]!.seats[1]!.escrow = 1),
    ],
    ['a failed deal keeping a paid seat', (i: InvariantInputs) => (i.deals![1]!.seats[0]!.status = 2)],
    ['a failed deal counting a paid seat', (i: InvariantInputs) => (i.deals![1]!.paid = 1)],
    [
      'a refunded seat whose order is not refunded',
      (i: InvariantInputs) => (i.deals![1]!.seats[0]!.escrow = 1),
    ],
    ['a dispute released instead of refunded', (i: InvariantInputs) => (i.disputes![0]!.expectedStatus = 4)],
    ['a dispute refunding the wrong amount', (i: InvariantInputs) => (i.disputes![0]!.refunded = 200n)],
    ['a dispute leaving money in escrow', (i: InvariantInputs) => (i.disputes![0]!.outstanding = 1n)],
    ['an acknowledgement iot lost', (i: InvariantInputs) => (i.alarms![0]!.acknowledgedInService = [])],
    ['a smoke reading counted twice', (i: InvariantInputs) => (i.alarms![0]!.occurrences = 3)],
    ['a member identity does not list', (i: InvariantInputs) => (i.members![0]!.bound = false)],
  ])('fails on %s', (_name, breakIt) => {
    const inputs = holdingLife();
    breakIt(inputs);
    const results = evaluateInvariants(inputs);
    expect(allHold(results)).toBe(false);
    expect(results.filter((r) => !r.ok)).toHaveLength(1);
  });

  it('accepts smoke readings iot did not count (an out-of-order reading is ignored by its rule)', () => {
    const inputs = holdingLife();
    inputs.alarms![0]!.occurrences = 1;
    expect(allHold(evaluateInvariants(inputs))).toBe(true);
  });

  it('holds nothing when there is nothing to check', () => {
    expect(allHold([])).toBe(false);
  });
});
