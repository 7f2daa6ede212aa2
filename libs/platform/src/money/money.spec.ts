import fc from 'fast-check';
import {
  AllocationError,
  CurrencyMismatchError,
  InvalidMoneyError,
  Money,
  MoneyArgumentError,
  MoneyError,
  divideRounded,
  formatMoney,
  minorUnitDigits,
  type RoundingMode,
} from './index';

const CNY = 'CNY';
const cny = (fen: bigint): Money => Money.of(fen, CNY);
const amounts = (ms: readonly Money[]): bigint[] => ms.map((m) => m.amountMinor);
const sum = (xs: readonly bigint[]): bigint => xs.reduce((a, b) => a + b, 0n);
const absB = (x: bigint): bigint => (x < 0n ? -x : x);
const MODES: readonly RoundingMode[] = ['half-even', 'down', 'half-up'];

// ---------------------------------------------------------------------------------------------
// Reference implementations for the properties. Written differently from the implementation on
// purpose (floor-based exact rationals rather than truncation + remainder tricks).
// ---------------------------------------------------------------------------------------------

/** floor(n / d) for d > 0. */
function floorDiv(n: bigint, d: bigint): bigint {
  const q = n / d;
  return n % d !== 0n && n < 0n ? q - 1n : q;
}

/** Round the exact rational n/d (d > 0) to an integer by `mode`, reasoning only about the two neighbours. */
function referenceRound(n: bigint, d: bigint, mode: RoundingMode): bigint {
  const lo = floorDiv(n, d); // lo <= n/d < lo + 1
  const hi = lo + 1n;
  const fracTimesD = n - lo * d; // in [0, d)
  if (fracTimesD === 0n) return lo;
  const distLo = fracTimesD; // (n/d - lo) * d
  const distHi = d - fracTimesD; // (hi - n/d) * d
  const positive = n > 0n;
  switch (mode) {
    case 'down': // towards zero
      return positive ? lo : hi;
    case 'half-up': // nearest, ties away from zero
      if (distLo !== distHi) return distLo < distHi ? lo : hi;
      return positive ? hi : lo;
    case 'half-even': // nearest, ties to even
      if (distLo !== distHi) return distLo < distHi ? lo : hi;
      return lo % 2n === 0n ? lo : hi;
  }
}

/** The exact share |amount| * w / total as floor and remainder (numerator of the fractional part). */
function exactShares(
  amount: bigint,
  weights: readonly bigint[],
): { floors: bigint[]; rems: bigint[]; total: bigint } {
  const total = sum(weights);
  const a = absB(amount);
  return {
    floors: weights.map((w) => (a * w) / total),
    rems: weights.map((w) => (a * w) % total),
    total,
  };
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const TWO_53 = 2n ** 53n;
/** Amounts: mostly small (many ties and remainders), some huge (well beyond 2^53). */
const amountArb = fc.oneof(
  fc.bigInt({ min: -1_000n, max: 1_000n }),
  fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }),
  fc.bigInt({ min: -(2n ** 120n), max: 2n ** 120n }),
);
/** Weights: zeros, small (ties), large. */
const weightArb = fc.oneof(
  fc.constant(0n),
  fc.bigInt({ min: 0n, max: 12n }),
  fc.bigInt({ min: 0n, max: 2n ** 70n }),
);
const weightsArb = fc.array(weightArb, { minLength: 1, maxLength: 12 }).filter((ws) => sum(ws) > 0n);
const currencyArb = fc.constantFrom('CNY', 'USD', 'JPY', 'KWD', 'EUR');
const moneyArb = fc.tuple(amountArb, currencyArb).map(([a, c]) => Money.of(a, c));
const bpArb = fc.oneof(
  fc.bigInt({ min: -20_000n, max: 20_000n }),
  fc.constantFrom(0n, 1n, 5_000n, 10_000n, 15_000n, -5_000n),
);
const modeArb = fc.constantFrom<RoundingMode>(...MODES);

const RUNS = { numRuns: 500 };

// ---------------------------------------------------------------------------------------------
// Construction and validation
// ---------------------------------------------------------------------------------------------

describe('Money construction', () => {
  it('holds integer minor units and a currency', () => {
    const m = Money.of(1234n, 'CNY');
    expect(m.amountMinor).toBe(1234n);
    expect(m.currency).toBe('CNY');
    expect(Money.zero('USD').isZero()).toBe(true);
    expect(Money.zero('USD').currency).toBe('USD');
  });

  it('is immutable', () => {
    const m = cny(100n);
    expect(Object.isFrozen(m)).toBe(true);
    expect(() => {
      (m as unknown as { amountMinor: bigint }).amountMinor = 5n;
    }).toThrow(TypeError);
    m.add(cny(1n));
    m.negate();
    expect(m.amountMinor).toBe(100n);
  });

  it.each([12.34, 1234, '1234', null, undefined, {}])('rejects non-bigint amount %p at runtime', (bad) => {
    expect(() => Money.of(bad as unknown as bigint, CNY)).toThrow(InvalidMoneyError);
    expect(() => Money.of(bad as unknown as bigint, CNY)).toThrow(/amountMinor must be a bigint/);
  });

  it.each(['cny', 'CN', 'CNYY', '', ' CNY', 'C1Y', 'ÇNY'])('rejects malformed currency %p', (bad) => {
    expect(() => Money.of(1n, bad)).toThrow(InvalidMoneyError);
    expect(() => Money.zero(bad)).toThrow(/currency must be an ISO 4217 code/);
  });

  it('rejects a non-string currency', () => {
    expect(() => Money.of(1n, 156 as unknown as string)).toThrow(/currency must be a string, got number 156/);
  });

  it('errors form a typed hierarchy', () => {
    const e = (() => {
      try {
        cny(1n).add(Money.of(1n, 'USD'));
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(CurrencyMismatchError);
    expect(e).toBeInstanceOf(MoneyError);
    expect(e).toBeInstanceOf(Error);
    const mismatch = e as CurrencyMismatchError;
    expect(mismatch.name).toBe('CurrencyMismatchError');
    expect([mismatch.operation, mismatch.left, mismatch.right]).toEqual(['add', 'CNY', 'USD']);
    expect(mismatch.message).toBe('Money.add: currency mismatch (CNY vs USD)');
  });
});

// ---------------------------------------------------------------------------------------------
// Arithmetic and comparison
// ---------------------------------------------------------------------------------------------

describe('Money arithmetic', () => {
  it('adds, subtracts, negates', () => {
    expect(cny(1000n).add(cny(234n)).amountMinor).toBe(1234n);
    expect(cny(1000n).subtract(cny(1234n)).amountMinor).toBe(-234n);
    expect(cny(5n).negate().amountMinor).toBe(-5n);
    expect(cny(0n).negate().isZero()).toBe(true);
    expect(cny(-1n).isNegative()).toBe(true);
    expect(cny(0n).isNegative()).toBe(false);
    expect(cny(1n).isPositive()).toBe(true);
  });

  it('compares and tests equality', () => {
    expect(cny(1n).compare(cny(2n))).toBe(-1);
    expect(cny(2n).compare(cny(2n))).toBe(0);
    expect(cny(3n).compare(cny(2n))).toBe(1);
    expect(cny(2n).equals(cny(2n))).toBe(true);
    expect(cny(2n).equals(cny(3n))).toBe(false);
  });

  it.each([
    ['add', (a: Money, b: Money) => a.add(b)],
    ['subtract', (a: Money, b: Money) => a.subtract(b)],
    ['compare', (a: Money, b: Money) => a.compare(b)],
    ['equals', (a: Money, b: Money) => a.equals(b)],
  ] as const)('%s throws CurrencyMismatchError on mixed currencies', (op, f) => {
    expect(() => f(cny(1n), Money.of(1n, 'USD'))).toThrow(CurrencyMismatchError);
    expect(() => f(cny(1n), Money.of(1n, 'USD'))).toThrow(`Money.${op}: currency mismatch (CNY vs USD)`);
  });

  it('rejects a non-Money argument at runtime', () => {
    expect(() => cny(1n).add({ amountMinor: 1n, currency: 'CNY' } as unknown as Money)).toThrow(
      MoneyArgumentError,
    );
  });

  it('is exact beyond 2^53', () => {
    const big = cny(TWO_53 + 1n); // not representable as a double
    expect(big.add(cny(1n)).amountMinor).toBe(9_007_199_254_740_994n);
    expect(big.add(big).amountMinor).toBe(18_014_398_509_481_986n);
    expect(cny(2n ** 100n).subtract(cny(1n)).amountMinor).toBe(1_267_650_600_228_229_401_496_703_205_375n);
  });

  it('property: subtract undoes add, add undoes subtract', () => {
    fc.assert(
      fc.property(amountArb, amountArb, (a, b) => {
        const ma = cny(a);
        const mb = cny(b);
        expect(ma.add(mb).subtract(mb).equals(ma)).toBe(true);
        expect(ma.subtract(mb).add(mb).equals(ma)).toBe(true);
        expect(ma.add(mb).amountMinor).toBe(a + b);
      }),
      RUNS,
    );
  });

  it('property: add is commutative and associative; negate is the additive inverse', () => {
    fc.assert(
      fc.property(amountArb, amountArb, amountArb, (a, b, c) => {
        const [ma, mb, mc] = [cny(a), cny(b), cny(c)];
        expect(ma.add(mb).equals(mb.add(ma))).toBe(true);
        expect(
          ma
            .add(mb)
            .add(mc)
            .equals(ma.add(mb.add(mc))),
        ).toBe(true);
        expect(ma.add(ma.negate()).isZero()).toBe(true);
        expect(ma.negate().negate().equals(ma)).toBe(true);
        expect(ma.subtract(mb).equals(ma.add(mb.negate()))).toBe(true);
      }),
      RUNS,
    );
  });

  it('property: compare is antisymmetric and agrees with equals, isZero and isNegative', () => {
    fc.assert(
      fc.property(amountArb, amountArb, (a, b) => {
        const [ma, mb] = [cny(a), cny(b)];
        expect(ma.compare(mb)).toBe(-mb.compare(ma) || 0);
        expect(ma.compare(mb) === 0).toBe(ma.equals(mb));
        expect(ma.compare(mb)).toBe(a < b ? -1 : a > b ? 1 : 0);
        expect(ma.isZero()).toBe(a === 0n);
        expect(ma.isNegative()).toBe(a < 0n);
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Proto mapping
// ---------------------------------------------------------------------------------------------

describe('Money proto mapping', () => {
  it('round-trips', () => {
    expect(cny(1234n).toProto()).toEqual({ currency: 'CNY', amountMinor: 1234n });
    expect(Money.fromProto({ currency: 'CNY', amountMinor: -5n }).equals(cny(-5n))).toBe(true);
  });

  it('property: fromProto(toProto(m)) is m', () => {
    fc.assert(
      fc.property(moneyArb, (m) => {
        const back = Money.fromProto(m.toProto());
        expect(back.currency).toBe(m.currency);
        expect(back.equals(m)).toBe(true);
      }),
    );
  });

  it('names the missing or bad field, with an optional path prefix', () => {
    expect(() => Money.fromProto(undefined)).toThrow('Invalid money: money is required');
    expect(() => Money.fromProto(null, 'order.total')).toThrow('Invalid money: order.total is required');
    expect(() => Money.fromProto({ amountMinor: 1n })).toThrow('Invalid money: money.currency is required');
    expect(() => Money.fromProto({ currency: '', amountMinor: 1n }, 'total')).toThrow(
      'Invalid money: total.currency is required',
    );
    expect(() => Money.fromProto({ currency: 'CNY' }, 'total')).toThrow(
      'Invalid money: total.amountMinor is required',
    );
    expect(() => Money.fromProto({ currency: 'cny', amountMinor: 1n }, 'fee')).toThrow(
      /^Invalid money: fee\.currency must be an ISO 4217 code/,
    );
    expect(() => Money.fromProto({ currency: 'CNY', amountMinor: 1 as unknown as bigint }, 'fee')).toThrow(
      'Invalid money: fee.amountMinor must be a bigint (integer minor units), got number 1',
    );
    try {
      Money.fromProto({ amountMinor: 1n }, 'refund');
      throw new Error('expected to throw');
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidMoneyError);
      expect((e as InvalidMoneyError).field).toBe('refund.currency');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Basis points
// ---------------------------------------------------------------------------------------------

describe('Money.multiplyByBasisPoints', () => {
  it.each<[bigint, bigint, RoundingMode, bigint]>([
    // 2.5 fen
    [100n, 250n, 'down', 2n],
    [100n, 250n, 'half-even', 2n],
    [100n, 250n, 'half-up', 3n],
    // 3.5 fen
    [100n, 350n, 'half-even', 4n],
    [100n, 350n, 'half-up', 4n],
    [100n, 350n, 'down', 3n],
    // -2.5 fen: symmetric modes
    [-100n, 250n, 'down', -2n],
    [-100n, 250n, 'half-even', -2n],
    [-100n, 250n, 'half-up', -3n],
    // 0.125 fen
    [5n, 250n, 'half-up', 0n],
    // 1.9 fen / -1.9 fen
    [19n, 1_000n, 'down', 1n],
    [-19n, 1_000n, 'down', -1n],
    [19n, 1_000n, 'half-even', 2n],
    // 0.6% commission on CNY 123.45 = 74.07 fen
    [12_345n, 60n, 'half-even', 74n],
    [12_345n, 60n, 'down', 74n],
    // exact, 150%, negative rate, zero
    [10_000n, 10_000n, 'half-even', 10_000n],
    [200n, 15_000n, 'down', 300n],
    [200n, -2_500n, 'half-up', -50n],
    [200n, 0n, 'half-up', 0n],
  ])('%p fen x %p bp (%s) = %p fen', (amount, bp, mode, expected) => {
    const result = cny(amount).multiplyByBasisPoints(bp, mode);
    expect(result.amountMinor).toBe(expected);
    expect(result.currency).toBe(CNY);
  });

  it('is exact beyond 2^53', () => {
    // 2^53 + 1 is not representable as a double, so any float path would be off here.
    const m = cny(TWO_53 + 1n);
    expect(m.multiplyByBasisPoints(3_333n, 'down').amountMinor).toBe(((TWO_53 + 1n) * 3_333n) / 10_000n);
    expect(cny(2n ** 100n + 5_000n).multiplyByBasisPoints(5_000n, 'half-even').amountMinor).toBe(
      2n ** 99n + 2_500n,
    );
  });

  it('rejects non-bigint basis points and unknown rounding modes', () => {
    expect(() => cny(1n).multiplyByBasisPoints(250 as unknown as bigint, 'down')).toThrow(MoneyArgumentError);
    expect(() => cny(1n).multiplyByBasisPoints(250n, 'ceiling' as RoundingMode)).toThrow(
      /unknown rounding mode "ceiling"/,
    );
  });

  it('property: matches a reference rounding of the exact rational amount*bp/10000', () => {
    fc.assert(
      fc.property(amountArb, bpArb, modeArb, (a, bp, mode) => {
        const got = cny(a).multiplyByBasisPoints(bp, mode).amountMinor;
        expect(got).toBe(referenceRound(a * bp, 10_000n, mode));
      }),
      { numRuns: 2_000 },
    );
  });

  it('property: ties (exact .5) are handled per mode', () => {
    // amount*bp/10000 = k + 1/2 exactly: amount = 2k+1, bp = 5000.
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }), (k) => {
        const m = cny(2n * k + 1n);
        const half = (x: RoundingMode): bigint => m.multiplyByBasisPoints(5_000n, x).amountMinor;
        const lo = k; // floor((2k+1)/2)
        const hi = k + 1n;
        const positive = 2n * k + 1n > 0n;
        expect(half('half-up')).toBe(positive ? hi : lo);
        expect(half('down')).toBe(positive ? lo : hi);
        expect(half('half-even')).toBe(lo % 2n === 0n ? lo : hi);
        expect(half('half-even') % 2n).toBe(0n);
      }),
      RUNS,
    );
  });

  it('property: error bounds (|err| <= 1/2 for half modes, < 1 and towards zero for down)', () => {
    fc.assert(
      fc.property(amountArb, bpArb, (a, bp) => {
        const exactNum = a * bp; // exact value = exactNum / 10000
        for (const mode of MODES) {
          const r = cny(a).multiplyByBasisPoints(bp, mode).amountMinor;
          const errTimesD = absB(r * 10_000n - exactNum);
          if (mode === 'down') {
            expect(errTimesD < 10_000n).toBe(true);
            expect(absB(r * 10_000n) <= absB(exactNum)).toBe(true);
          } else {
            expect(2n * errTimesD <= 10_000n).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });

  it('property: rounding is symmetric under negation', () => {
    fc.assert(
      fc.property(amountArb, bpArb, modeArb, (a, bp, mode) => {
        expect(cny(-a).multiplyByBasisPoints(bp, mode).amountMinor).toBe(
          -cny(a).multiplyByBasisPoints(bp, mode).amountMinor,
        );
      }),
      RUNS,
    );
  });

  it('divideRounded rejects a non-positive divisor', () => {
    expect(() => divideRounded(1n, 0n, 'down')).toThrow(MoneyArgumentError);
    expect(divideRounded(7n, 2n, 'half-even')).toBe(4n);
  });
});

// ---------------------------------------------------------------------------------------------
// Allocation
// ---------------------------------------------------------------------------------------------

describe('Money.allocate', () => {
  it.each<[bigint, bigint[], bigint[]]>([
    [100n, [1n, 1n, 1n], [34n, 33n, 33n]], // tie: lower index wins
    [-100n, [1n, 1n, 1n], [-34n, -33n, -33n]], // symmetric
    [101n, [1n, 1n, 1n], [34n, 34n, 33n]],
    [5n, [3n, 7n], [2n, 3n]], // 1.5 / 3.5 -> tie on .5, lower index
    [10n, [1n, 2n, 3n, 4n], [1n, 2n, 3n, 4n]],
    [1n, [1n, 1n], [1n, 0n]],
    [1n, [1n, 2n], [0n, 1n]], // 1/3 vs 2/3 -> larger remainder wins despite higher index
    [7n, [0n, 5n, 0n, 5n], [0n, 4n, 0n, 3n]], // zero weights stay zero
    [0n, [1n, 2n], [0n, 0n]],
    [99n, [0n, 1n], [0n, 99n]],
    [100n, [6_000n, 4_000n], [60n, 40n]],
  ])('%p over %p = %p', (amount, weights, expected) => {
    const parts = cny(amount).allocate(weights);
    expect(amounts(parts)).toEqual(expected);
    expect(parts.every((p) => p.currency === CNY)).toBe(true);
  });

  it('is exact beyond 2^53', () => {
    const whole = TWO_53 * 3n + 2n; // 27021597764222978, not representable as a double
    const parts = amounts(cny(whole).allocate([1n, 1n, 1n]));
    expect(parts).toEqual([TWO_53 + 1n, TWO_53 + 1n, TWO_53]);
    expect(sum(parts)).toBe(whole);
  });

  it.each<[string, unknown, RegExp]>([
    ['empty', [], /weights must be a non-empty list/],
    ['negative weight', [1n, -1n], /weights\[1\] must be non-negative, got -1/],
    ['zero total', [0n, 0n], /weights must have a positive total, got 0/],
    ['number weight', [1n, 2], /weights\[1\] must be a bigint, got number 2/],
    ['not an array', undefined, /weights must be a non-empty list/],
  ])('rejects %s', (_label, weights, message) => {
    expect(() => cny(100n).allocate(weights as bigint[])).toThrow(AllocationError);
    expect(() => cny(100n).allocate(weights as bigint[])).toThrow(message);
  });

  it('property: parts sum exactly to the whole', () => {
    fc.assert(
      fc.property(amountArb, weightsArb, (a, ws) => {
        const parts = cny(a).allocate(ws);
        expect(parts).toHaveLength(ws.length);
        expect(sum(amounts(parts))).toBe(a);
      }),
      RUNS,
    );
  });

  it('property: each part is within one minor unit of its exact proportional share', () => {
    fc.assert(
      fc.property(amountArb, weightsArb, (a, ws) => {
        const total = sum(ws);
        amounts(cny(a).allocate(ws)).forEach((p, i) => {
          // |p - a*w/total| < 1  <=>  |p*total - a*w| < total
          expect(absB(p * total - a * ws[i]) < total).toBe(true);
        });
      }),
      RUNS,
    );
  });

  it('property: largest remainder — floor plus at most one, extras to the largest remainders, ties to the lower index', () => {
    fc.assert(
      fc.property(amountArb, weightsArb, (a, ws) => {
        const { floors, rems } = exactShares(a, ws);
        const parts = amounts(cny(a).allocate(ws)).map(absB);
        const extra = parts.map((p, i) => p - floors[i]);
        extra.forEach((e) => expect(e === 0n || e === 1n).toBe(true));
        for (let i = 0; i < ws.length; i++) {
          for (let j = 0; j < ws.length; j++) {
            if (extra[i] === 1n && extra[j] === 0n) {
              // i was preferred over j: strictly larger remainder, or equal remainder and lower index.
              expect(rems[i] > rems[j] || (rems[i] === rems[j] && i < j)).toBe(true);
            }
          }
        }
      }),
      RUNS,
    );
  });

  it('property: deterministic (same inputs, same parts: back-to-back and after unrelated calls)', () => {
    const otherCallsArb = fc.array(fc.tuple(amountArb, weightsArb), { maxLength: 3 });
    fc.assert(
      fc.property(amountArb, weightsArb, otherCallsArb, (a, ws, others) => {
        const first = amounts(cny(a).allocate(ws));
        const second = amounts(cny(a).allocate(ws));
        for (const [b, vs] of others) cny(b).allocate(vs);
        const third = amounts(cny(a).allocate([...ws]));
        expect(second).toEqual(first);
        expect(third).toEqual(first);
      }),
      RUNS,
    );
  });

  it('property: zero weights get zero', () => {
    fc.assert(
      fc.property(amountArb, weightsArb, (a, ws) => {
        amounts(cny(a).allocate(ws)).forEach((p, i) => {
          if (ws[i] === 0n) expect(p).toBe(0n);
        });
      }),
      RUNS,
    );
  });

  it('property: negative amounts allocate symmetrically', () => {
    fc.assert(
      fc.property(amountArb, weightsArb, (a, ws) => {
        const pos = amounts(cny(a).allocate(ws));
        const neg = amounts(cny(-a).allocate(ws));
        expect(neg).toEqual(pos.map((p) => -p));
        // every part has the sign of the whole (or is zero)
        pos.forEach((p) => expect(a >= 0n ? p >= 0n : p <= 0n).toBe(true));
      }),
      RUNS,
    );
  });

  it('property: amounts far beyond 2^53 allocate exactly', () => {
    const hugeArb = fc.bigInt({ min: TWO_53, max: 2n ** 200n });
    fc.assert(
      fc.property(hugeArb, weightsArb, (a, ws) => {
        const total = sum(ws);
        const parts = amounts(cny(a).allocate(ws));
        expect(sum(parts)).toBe(a);
        parts.forEach((p, i) => {
          const floor = (a * ws[i]) / total;
          expect(p === floor || p === floor + 1n).toBe(true);
        });
      }),
      RUNS,
    );
  });
});

describe('Money.allocateByBasisPoints', () => {
  it('splits a fee into commission / property / merchant', () => {
    const split = cny(10_000n).allocateByBasisPoints({
      commission: 600n,
      property: 1_500n,
      merchant: 7_900n,
    });
    expect(Object.keys(split)).toEqual(['commission', 'property', 'merchant']);
    expect(split.commission.amountMinor).toBe(600n);
    expect(split.property.amountMinor).toBe(1_500n);
    expect(split.merchant.amountMinor).toBe(7_900n);
  });

  it('gives leftover fen to the largest remainders, ties by key order', () => {
    // 1 fen: exact shares 0.06 / 0.15 / 0.79 -> merchant
    const one = cny(1n).allocateByBasisPoints({ commission: 600n, property: 1_500n, merchant: 7_900n });
    expect(amounts([one.commission, one.property, one.merchant])).toEqual([0n, 0n, 1n]);
    // 3 fen at 50/50: 1.5 / 1.5 -> first key
    const tie = cny(3n).allocateByBasisPoints({ b: 5_000n, a: 5_000n });
    expect([tie.b.amountMinor, tie.a.amountMinor]).toEqual([2n, 1n]);
    // negative (refund) is symmetric
    const refund = cny(-3n).allocateByBasisPoints({ b: 5_000n, a: 5_000n });
    expect([refund.b.amountMinor, refund.a.amountMinor]).toEqual([-2n, -1n]);
  });

  it('requires shares to total exactly 10000bp', () => {
    expect(() => cny(1n).allocateByBasisPoints({ a: 5_000n, b: 4_999n })).toThrow(
      /must total 10000bp \(100%\), got 9999bp/,
    );
    expect(() => cny(1n).allocateByBasisPoints({ a: 10_001n })).toThrow(AllocationError);
    expect(() => cny(1n).allocateByBasisPoints({ a: 10_500n, b: -500n })).toThrow(
      /share "b" must be non-negative, got -500/,
    );
    expect(() => cny(1n).allocateByBasisPoints({ a: 10_000 as unknown as bigint })).toThrow(
      /share "a" must be a bigint/,
    );
    expect(() => cny(1n).allocateByBasisPoints({})).toThrow(AllocationError);
  });

  it('property: parts sum to the whole and match allocate() over the same weights', () => {
    const sharesArb = fc
      .array(fc.bigInt({ min: 0n, max: 10_000n }), { minLength: 1, maxLength: 6 })
      .map((xs) => {
        // Force a total of exactly 10000bp: scale down, then put the remainder on the last share.
        const capped = xs.map((x) => x / BigInt(xs.length));
        capped[capped.length - 1] += 10_000n - sum(capped);
        return Object.fromEntries(capped.map((x, i) => [`k${i}`, x])) as Record<string, bigint>;
      });
    fc.assert(
      fc.property(amountArb, sharesArb, (a, shares) => {
        const split = cny(a).allocateByBasisPoints(shares);
        const keys = Object.keys(shares);
        expect(Object.keys(split)).toEqual(keys);
        expect(sum(keys.map((k) => split[k].amountMinor))).toBe(a);
        expect(keys.map((k) => split[k].amountMinor)).toEqual(
          amounts(cny(a).allocate(keys.map((k) => shares[k]))),
        );
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

describe('Money.format', () => {
  it.each<[bigint, string, string]>([
    [1234n, 'CNY', 'CNY 12.34'],
    [-5n, 'CNY', 'CNY -0.05'],
    [0n, 'CNY', 'CNY 0.00'],
    [100n, 'USD', 'USD 1.00'],
    [1234n, 'JPY', 'JPY 1234'],
    [-1234n, 'JPY', 'JPY -1234'],
    [1234n, 'KWD', 'KWD 1.234'],
    [TWO_53 + 1n, 'CNY', 'CNY 90071992547409.93'],
    [-(2n ** 70n), 'CNY', 'CNY -11805916207174113034.24'],
  ])('%p %s -> %s', (amount, currency, expected) => {
    const m = Money.of(amount, currency);
    expect(m.format()).toBe(expected);
    expect(formatMoney(m)).toBe(expected);
    expect(String(m)).toBe(expected);
  });

  it('serialises to JSON without losing precision', () => {
    expect(JSON.stringify({ fee: cny(TWO_53 + 1n) })).toBe(
      '{"fee":{"currency":"CNY","amountMinor":"9007199254740993"}}',
    );
  });

  it('property: the formatted string parses back to the exact minor units', () => {
    fc.assert(
      fc.property(moneyArb, (m) => {
        const match = /^([A-Z]{3}) (-?)(\d+)(?:\.(\d+))?$/.exec(m.format());
        expect(match).not.toBeNull();
        const [, currency, sign, major, minor = ''] = match as RegExpExecArray;
        expect(currency).toBe(m.currency);
        expect(minor.length).toBe(minorUnitDigits(m.currency));
        const parsed = BigInt(major + minor) * (sign === '-' ? -1n : 1n);
        expect(parsed).toBe(m.amountMinor);
      }),
      RUNS,
    );
  });
});
