import { DomainError } from '@citybase/platform';

/**
 * Pure rules of parking (docs/iot.md "Parking"): the fee of a stay from the lot's tariff and the
 * plate's monthly passes, and what the exit gate does.
 *
 * Fee: a stay no longer than the free minutes is free. Otherwise the chargeable time (from entry,
 * or from the end of a pass that covered the entry) is cut into 24-hour periods from its start;
 * each period costs its started hours times the hourly rate, capped at the daily cap. A pass
 * valid at exit makes the stay free. Amounts are bigint minor units.
 */

export interface ParkingTariff {
  currency: string;
  freeMinutes: number;
  hourlyRateMinor: bigint;
  /** 0: no cap. */
  dailyCapMinor: bigint;
}

export interface MonthlyPass {
  validFrom: Date;
  /** Exclusive. */
  validUntil: Date;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const TARIFF_LIMITS = { maxFreeMinutes: 24 * 60, maxRateMinor: 10_000_000n } as const;

export function validateTariff(t: ParkingTariff): ParkingTariff {
  if (!Number.isInteger(t.freeMinutes) || t.freeMinutes < 0 || t.freeMinutes > TARIFF_LIMITS.maxFreeMinutes)
    throw DomainError.invalid('tariff.free_minutes', `must be from 0 to ${TARIFF_LIMITS.maxFreeMinutes}`);
  if (t.hourlyRateMinor < 0n || t.hourlyRateMinor > TARIFF_LIMITS.maxRateMinor)
    throw DomainError.invalid('tariff.hourly_rate', 'must be from 0 to 100,000.00');
  if (t.dailyCapMinor < 0n) throw DomainError.invalid('tariff.daily_cap', 'must not be negative (0: no cap)');
  if (t.dailyCapMinor !== 0n && t.dailyCapMinor < t.hourlyRateMinor)
    throw DomainError.invalid('tariff.daily_cap', 'must be 0 (no cap) or at least the hourly rate');
  return t;
}

/** The pass that covers `at`, if any. */
export function passAt(passes: readonly MonthlyPass[], at: Date): MonthlyPass | undefined {
  const t = at.getTime();
  return passes.find((p) => p.validFrom.getTime() <= t && t < p.validUntil.getTime());
}

export interface ParkingFee {
  amountMinor: bigint;
  /** Whether a monthly pass made (part of) the stay free. */
  passApplied: boolean;
  chargeableMs: number;
}

export function parkingFee(
  tariff: ParkingTariff,
  entry: Date,
  exit: Date,
  passes: readonly MonthlyPass[] = [],
): ParkingFee {
  if (exit.getTime() < entry.getTime()) throw DomainError.invalid('exit_at', 'must not be before the entry');
  if (passAt(passes, exit)) return { amountMinor: 0n, passApplied: true, chargeableMs: 0 };
  const stayMs = exit.getTime() - entry.getTime();
  if (stayMs <= tariff.freeMinutes * 60_000) return { amountMinor: 0n, passApplied: false, chargeableMs: 0 };
  const covering = passAt(passes, entry);
  const from = covering ? covering.validUntil.getTime() : entry.getTime();
  const chargeableMs = Math.max(0, exit.getTime() - from);
  let amount = 0n;
  for (let start = 0; start < chargeableMs; start += DAY_MS) {
    const periodMs = Math.min(DAY_MS, chargeableMs - start);
    const hours = BigInt(Math.ceil(periodMs / HOUR_MS));
    const cost = hours * tariff.hourlyRateMinor;
    amount += tariff.dailyCapMinor > 0n && cost > tariff.dailyCapMinor ? tariff.dailyCapMinor : cost;
  }
  return { amountMinor: amount, passApplied: covering !== undefined, chargeableMs };
}

export type ParkingSessionState = 'OPEN' | 'AWAITING_PAYMENT' | 'PAID' | 'CLOSED';

/**
 * What happens at the exit camera: a free stay (or a pass) opens the gate at once and closes the
 * session; a fee makes a payment intent, and the gate stays closed until PaymentSucceeded.
 */
export type ExitDecision =
  | { kind: 'OPEN_GATE'; fee: ParkingFee }
  | { kind: 'REQUEST_PAYMENT'; fee: ParkingFee }
  /** The session already awaits its payment, or is paid: same answer again (a second read of the plate). */
  | { kind: 'UNCHANGED' };

export function decideExit(
  state: ParkingSessionState,
  tariff: ParkingTariff,
  entry: Date,
  exit: Date,
  passes: readonly MonthlyPass[],
): ExitDecision {
  if (state !== 'OPEN') return { kind: 'UNCHANGED' };
  const fee = parkingFee(tariff, entry, exit, passes);
  return fee.amountMinor === 0n ? { kind: 'OPEN_GATE', fee } : { kind: 'REQUEST_PAYMENT', fee };
}

/** Plates as the camera reads them, normalised: upper case, no spaces or separators. */
export function normalisePlate(raw: string | undefined): string {
  const plate = (raw ?? '').toUpperCase().replace(/[\s·.-]/g, '');
  if (plate.length < 5 || plate.length > 10 || !/^[\p{L}\p{N}]+$/u.test(plate))
    throw DomainError.invalid('plate', 'must be 5-10 letters or digits');
  return plate;
}
