/**
 * Money: integer minor units (fen for CNY) as `bigint`. Never `number`, never floating point.
 *
 * Every operation here is exact integer arithmetic. Rounding happens only where a caller asks for
 * it (`multiplyByBasisPoints`), with an explicit rounding mode, and allocation never loses or
 * creates a minor unit (largest-remainder method).
 */

/** ISO 4217 shape: three uppercase ASCII letters. (Shape only; we do not ship the code list.) */
const CURRENCY_RE = /^[A-Z]{3}$/;

/** 1 basis point = 1/10_000. */
export const BASIS_POINTS_PER_UNIT = 10_000n;

/**
 * Rounding modes, named as in java.math.RoundingMode:
 * - `down`: towards zero (truncate). 1.9 → 1, -1.9 → -1.
 * - `half-up`: to nearest; ties away from zero. 2.5 → 3, -2.5 → -3.
 * - `half-even`: to nearest; ties to the even neighbour (banker's rounding). 2.5 → 2, 3.5 → 4, -2.5 → -2.
 * All three are symmetric: round(-x) === -round(x).
 */
export type RoundingMode = 'half-even' | 'down' | 'half-up';

/** Wire shape of money (the `Money` proto message with int64 as bigint). */
export interface MoneyProto {
  currency: string;
  amountMinor: bigint;
}

/** Base class for all money errors, so callers can `catch (e) { if (e instanceof MoneyError) ... }`. */
export class MoneyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An operation combined two amounts in different currencies. */
export class CurrencyMismatchError extends MoneyError {
  constructor(
    readonly operation: string,
    readonly left: string,
    readonly right: string,
  ) {
    super(`Money.${operation}: currency mismatch (${left} vs ${right})`);
  }
}

/** A value could not be turned into Money (bad amount type, bad currency, missing proto field). */
export class InvalidMoneyError extends MoneyError {
  constructor(
    /** Dotted path of the offending field, e.g. `order.total.currency`. */
    readonly field: string,
    readonly reason: string,
  ) {
    super(`Invalid money: ${field} ${reason}`);
  }
}

/** Bad allocation input: empty weights, a negative weight, a zero total, basis points not summing to 100%. */
export class AllocationError extends MoneyError {}

/** Bad arithmetic argument (non-bigint basis points, unknown rounding mode). */
export class MoneyArgumentError extends MoneyError {}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return `number ${String(value)}`;
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  return typeof value;
}

function assertCurrency(currency: unknown, field: string): asserts currency is string {
  if (typeof currency !== 'string') {
    throw new InvalidMoneyError(field, `must be a string, got ${describe(currency)}`);
  }
  if (!CURRENCY_RE.test(currency)) {
    throw new InvalidMoneyError(
      field,
      `must be an ISO 4217 code (3 uppercase letters), got ${JSON.stringify(currency)}`,
    );
  }
}

function assertBigint(value: unknown, field: string): asserts value is bigint {
  if (typeof value !== 'bigint') {
    throw new InvalidMoneyError(field, `must be a bigint (integer minor units), got ${describe(value)}`);
  }
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

/**
 * Integer division n / d (d > 0) rounded with `mode`. Exact: only bigint arithmetic.
 * Exported for other money-adjacent code (rates, pro-rating) that needs the same rounding.
 */
export function divideRounded(n: bigint, d: bigint, mode: RoundingMode): bigint {
  if (d <= 0n) throw new MoneyArgumentError(`divideRounded: divisor must be positive, got ${d}`);
  const q = n / d; // truncates towards zero
  const r = n % d; // same sign as n
  if (r === 0n) return q;
  const awayFromZero = n < 0n ? q - 1n : q + 1n;
  switch (mode) {
    case 'down':
      return q;
    case 'half-up': {
      const twice = 2n * abs(r);
      return twice >= d ? awayFromZero : q;
    }
    case 'half-even': {
      const twice = 2n * abs(r);
      if (twice > d) return awayFromZero;
      if (twice < d) return q;
      return q % 2n === 0n ? q : awayFromZero;
    }
    default: {
      const unknownMode: never = mode;
      throw new MoneyArgumentError(`unknown rounding mode ${JSON.stringify(unknownMode)}`);
    }
  }
}

/**
 * Digits after the decimal point for display. ISO 4217 exponents for the currencies that differ
 * from 2; everything else (CNY, USD, EUR, HKD, ...) uses 2. Display only: amounts are always minor units.
 */
const MINOR_UNIT_DIGITS: Readonly<Record<string, number>> = Object.freeze({
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
});

export function minorUnitDigits(currency: string): number {
  return Object.prototype.hasOwnProperty.call(MINOR_UNIT_DIGITS, currency) ? MINOR_UNIT_DIGITS[currency] : 2;
}

/**
 * Largest-remainder allocation of a non-negative amount. Returns floor(amount*w/total) for each
 * weight plus one extra unit for the `amount - sum(floors)` largest remainders (ties: lower index).
 */
function allocateNonNegative(amount: bigint, weights: readonly bigint[], total: bigint): bigint[] {
  const parts: bigint[] = new Array<bigint>(weights.length);
  const remainders: bigint[] = new Array<bigint>(weights.length);
  let allocated = 0n;
  for (let i = 0; i < weights.length; i++) {
    const product = amount * weights[i];
    parts[i] = product / total;
    remainders[i] = product % total;
    allocated += parts[i];
  }
  let leftover = amount - allocated; // 0 <= leftover < number of non-zero remainders
  if (leftover > 0n) {
    const order = weights.map((_, i) => i);
    order.sort((a, b) => {
      const ra = remainders[a];
      const rb = remainders[b];
      if (ra !== rb) return ra > rb ? -1 : 1;
      return a - b;
    });
    for (const i of order) {
      if (leftover === 0n) break;
      parts[i] += 1n;
      leftover -= 1n;
    }
  }
  return parts;
}

/** Checks weights and returns their total. `name(i)` renders weight i for error messages. */
function validateWeights(weights: readonly unknown[], where: string, name: (i: number) => string): bigint {
  if (!Array.isArray(weights) || weights.length === 0) {
    throw new AllocationError(`${where}: weights must be a non-empty list`);
  }
  let total = 0n;
  for (let i = 0; i < weights.length; i++) {
    const w: unknown = weights[i];
    if (typeof w !== 'bigint') {
      throw new AllocationError(`${where}: ${name(i)} must be a bigint, got ${describe(w)}`);
    }
    if (w < 0n) {
      throw new AllocationError(`${where}: ${name(i)} must be non-negative, got ${w}`);
    }
    total += w;
  }
  if (total <= 0n) {
    throw new AllocationError(`${where}: weights must have a positive total, got ${total}`);
  }
  return total;
}

/** Immutable amount of money in integer minor units. Construct with `Money.of` / `Money.zero` / `Money.fromProto`. */
export class Money {
  private constructor(
    readonly amountMinor: bigint,
    readonly currency: string,
  ) {
    Object.freeze(this);
  }

  /** `Money.of(1234n, 'CNY')` is CNY 12.34. Throws `InvalidMoneyError` for a non-bigint amount or a malformed currency. */
  static of(amountMinor: bigint, currency: string): Money {
    assertBigint(amountMinor, 'amountMinor');
    assertCurrency(currency, 'currency');
    return new Money(amountMinor, currency);
  }

  static zero(currency: string): Money {
    return Money.of(0n, currency);
  }

  /**
   * From the wire message. `field` names the message in errors, e.g.
   * `Money.fromProto(req.total, 'total')` → "Invalid money: total.currency is required".
   * An empty currency counts as missing (proto3 default for an unset string).
   */
  static fromProto(m: Partial<MoneyProto> | null | undefined, field = 'money'): Money {
    if (m === null || m === undefined || typeof m !== 'object') {
      throw new InvalidMoneyError(field, 'is required');
    }
    const { currency, amountMinor } = m;
    if (currency === undefined || currency === null || currency === '') {
      throw new InvalidMoneyError(`${field}.currency`, 'is required');
    }
    assertCurrency(currency, `${field}.currency`);
    if (amountMinor === undefined || amountMinor === null) {
      throw new InvalidMoneyError(`${field}.amountMinor`, 'is required');
    }
    assertBigint(amountMinor, `${field}.amountMinor`);
    return new Money(amountMinor, currency);
  }

  toProto(): MoneyProto {
    return { currency: this.currency, amountMinor: this.amountMinor };
  }

  private assertSameCurrency(other: Money, operation: string): void {
    if (!(other instanceof Money)) {
      throw new MoneyArgumentError(`Money.${operation}: argument must be Money, got ${describe(other)}`);
    }
    if (other.currency !== this.currency) {
      throw new CurrencyMismatchError(operation, this.currency, other.currency);
    }
  }

  add(other: Money): Money {
    this.assertSameCurrency(other, 'add');
    return new Money(this.amountMinor + other.amountMinor, this.currency);
  }

  subtract(other: Money): Money {
    this.assertSameCurrency(other, 'subtract');
    return new Money(this.amountMinor - other.amountMinor, this.currency);
  }

  negate(): Money {
    return new Money(-this.amountMinor, this.currency);
  }

  isZero(): boolean {
    return this.amountMinor === 0n;
  }

  isNegative(): boolean {
    return this.amountMinor < 0n;
  }

  isPositive(): boolean {
    return this.amountMinor > 0n;
  }

  /** -1, 0 or 1. Throws `CurrencyMismatchError` for different currencies (they are not comparable). */
  compare(other: Money): -1 | 0 | 1 {
    this.assertSameCurrency(other, 'compare');
    if (this.amountMinor < other.amountMinor) return -1;
    if (this.amountMinor > other.amountMinor) return 1;
    return 0;
  }

  /** Same amount. Throws `CurrencyMismatchError` for different currencies rather than answering `false`. */
  equals(other: Money): boolean {
    this.assertSameCurrency(other, 'equals');
    return this.amountMinor === other.amountMinor;
  }

  /**
   * amount × bp / 10_000, rounded with `rounding` (see `RoundingMode`). Integer arithmetic only,
   * exact for any magnitude. `bp` may be negative or exceed 10_000 (e.g. 150% = 15_000n).
   * Example: CNY 0.05 × 250bp (2.5%) = 0.125 fen → 0 (down), 0 (half-even), 0 (half-up);
   *          CNY 1.00 × 250bp = 2.5 fen → 2 (down), 2 (half-even), 3 (half-up).
   */
  multiplyByBasisPoints(bp: bigint, rounding: RoundingMode): Money {
    if (typeof bp !== 'bigint') {
      throw new MoneyArgumentError(`Money.multiplyByBasisPoints: bp must be a bigint, got ${describe(bp)}`);
    }
    return new Money(divideRounded(this.amountMinor * bp, BASIS_POINTS_PER_UNIT, rounding), this.currency);
  }

  /**
   * Split into parts proportional to `weights` with the largest-remainder method:
   * - the parts always sum exactly to this amount;
   * - part i is floor(|amount|·wᵢ/Σw) or that plus one minor unit;
   * - the leftover units go to the largest fractional remainders, ties to the lower index
   *   (so the result is a pure function of the inputs);
   * - zero weights get zero;
   * - negative amounts allocate |amount| and negate each part (symmetric).
   * Throws `AllocationError` for an empty array, a non-bigint or negative weight, or a zero total.
   */
  allocate(weights: readonly bigint[]): Money[] {
    const total = validateWeights(weights, 'Money.allocate', (i) => `weights[${i}]`);
    const negative = this.amountMinor < 0n;
    const parts = allocateNonNegative(abs(this.amountMinor), weights, total);
    return parts.map((p) => new Money(negative ? -p : p, this.currency));
  }

  /**
   * Split by named basis-point shares that must total exactly 10_000 (100%), e.g.
   * `fee.allocateByBasisPoints({ commission: 600n, property: 1_500n, merchant: 7_900n })`.
   * Same guarantees as `allocate`; ties go to the key that comes first in the record's key order.
   */
  allocateByBasisPoints<K extends string>(shares: Readonly<Record<K, bigint>>): Record<K, Money> {
    if (shares === null || typeof shares !== 'object') {
      throw new AllocationError(
        'Money.allocateByBasisPoints: shares must be a record of bigint basis points',
      );
    }
    const keys = Object.keys(shares) as K[];
    const weights = keys.map((k) => shares[k]);
    const total = validateWeights(
      weights,
      'Money.allocateByBasisPoints',
      (i) => `share ${JSON.stringify(keys[i])}`,
    );
    if (total !== BASIS_POINTS_PER_UNIT) {
      throw new AllocationError(
        `Money.allocateByBasisPoints: shares must total ${BASIS_POINTS_PER_UNIT}bp (100%), got ${total}bp`,
      );
    }
    const parts = this.allocate(weights);
    return Object.fromEntries(keys.map((k, i) => [k, parts[i]])) as Record<K, Money>;
  }

  /** For logs: "CNY 12.34", "CNY -0.05", "JPY 1234". Pure string arithmetic on the bigint. */
  format(): string {
    const digits = minorUnitDigits(this.currency);
    const sign = this.amountMinor < 0n ? '-' : '';
    const s = abs(this.amountMinor).toString();
    if (digits === 0) return `${this.currency} ${sign}${s}`;
    const padded = s.padStart(digits + 1, '0');
    const major = padded.slice(0, padded.length - digits);
    const minor = padded.slice(padded.length - digits);
    return `${this.currency} ${sign}${major}.${minor}`;
  }

  toString(): string {
    return this.format();
  }

  /** JSON.stringify cannot serialise bigint; logs and JSON bodies get the amount as a decimal string. */
  toJSON(): { currency: string; amountMinor: string } {
    return { currency: this.currency, amountMinor: this.amountMinor.toString() };
  }
}

/** Standalone form of `Money#format` for log serialisers. */
export function formatMoney(m: Money): string {
  return m.format();
}
