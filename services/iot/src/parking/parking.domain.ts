import {
  DomainError,
  keyPart,
  pageCursor,
  PageRequestLike,
  parsePage,
  requestId,
  requiredEnum,
  requiredMoney,
  requiredString,
  requiredTimestamp,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import { PlateDirection } from '@citybase/contracts/citybase/iot/v1/parking';
import type { ParkingTariff as ProtoTariff } from '@citybase/contracts/citybase/iot/v1/parking';
import type { Timestamp } from '@citybase/contracts/google/protobuf/timestamp';

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

// ---- requests ----

interface TenancyInput {
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
}

export function toTariff(field: string, t: ProtoTariff | undefined): ParkingTariff {
  if (!t) throw DomainError.invalid(field, 'is required');
  const rate = requiredMoney(`${field}.hourly_rate`, t.hourlyRate, { allowZero: true });
  const cap = t.dailyCap
    ? requiredMoney(`${field}.daily_cap`, t.dailyCap, { allowZero: true })
    : { currency: rate.currency, amountMinor: 0n };
  if (cap.currency !== rate.currency)
    throw DomainError.invalid(`${field}.daily_cap`, 'must be in the currency of hourly_rate');
  return validateTariff({
    currency: rate.currency,
    freeMinutes: t.freeMinutes ?? 0,
    hourlyRateMinor: rate.amountMinor,
    dailyCapMinor: cap.amountMinor,
  });
}

export interface CreateLotInput {
  requestId: string;
  operatorId: string;
  projectId: string;
  merchantId: string;
  name: string;
  capacity: number;
  entryCameraId: string;
  exitCameraId: string;
  exitGateId: string;
  tariff: ParkingTariff;
}

export function toCreateLot(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  name?: string;
  capacity?: number;
  entryCameraId?: string;
  exitCameraId?: string;
  exitGateId?: string;
  tariff?: ProtoTariff;
}): CreateLotInput {
  const capacity = req.capacity ?? 0;
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 100_000)
    throw DomainError.invalid('capacity', 'must be from 1 to 100000');
  const entryCameraId = requiredUuid('entry_camera_id', req.entryCameraId);
  const exitCameraId = requiredUuid('exit_camera_id', req.exitCameraId);
  if (entryCameraId === exitCameraId)
    throw DomainError.invalid('exit_camera_id', 'must differ from entry_camera_id');
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: requiredString('tenancy.project_id', req.tenancy?.projectId, TENANT_ID),
    merchantId: requiredString('tenancy.merchant_id', req.tenancy?.merchantId, TENANT_ID),
    name: requiredString('name', req.name?.trim(), { max: 80 }),
    capacity,
    entryCameraId,
    exitCameraId,
    exitGateId: requiredUuid('exit_gate_id', req.exitGateId),
    tariff: toTariff('tariff', req.tariff),
  };
}

export interface LotQuery {
  operatorId: string;
  lotId: string;
}

export function toLotQuery(req: { tenancy?: TenancyInput; lotId?: string }): LotQuery {
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    lotId: requiredUuid('lot_id', req.lotId),
  };
}

export interface SetTariffInput extends LotQuery {
  requestId: string;
  tariff: ParkingTariff;
}

export function toSetTariff(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  lotId?: string;
  tariff?: ProtoTariff;
}): SetTariffInput {
  return { requestId: requestId(req.requestId), ...toLotQuery(req), tariff: toTariff('tariff', req.tariff) };
}

export const PASS_LIMITS = { maxDays: 366 } as const;

export interface IssuePassInput extends LotQuery {
  requestId: string;
  plate: string;
  residentId: string;
  validFrom: Date;
  validUntil: Date;
}

export function toIssuePass(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  lotId?: string;
  plate?: string;
  residentId?: string;
  validFrom?: Timestamp;
  validUntil?: Timestamp;
}): IssuePassInput {
  const validFrom = requiredTimestamp('valid_from', req.validFrom);
  const validUntil = requiredTimestamp('valid_until', req.validUntil);
  if (validUntil <= validFrom) throw DomainError.invalid('valid_until', 'must be after valid_from');
  if (validUntil.getTime() - validFrom.getTime() > PASS_LIMITS.maxDays * 86_400_000)
    throw DomainError.invalid('valid_until', `must be at most ${PASS_LIMITS.maxDays} days after valid_from`);
  return {
    requestId: requestId(req.requestId),
    ...toLotQuery(req),
    plate: normalisePlate(req.plate),
    residentId: requiredString('resident_id', req.residentId, TENANT_ID),
    validFrom,
    validUntil,
  };
}

export interface PlateReadInput {
  requestId: string;
  operatorId: string;
  projectId: string;
  cameraId: string;
  plate: string;
  direction: 'ENTRY' | 'EXIT';
  seenAt: Date;
}

/** How far a camera's clock may run ahead of ours. */
export const MAX_CLOCK_SKEW_MS = 60_000;

export function toPlateRead(
  req: {
    requestId?: string;
    tenancy?: TenancyInput;
    cameraId?: string;
    plate?: string;
    direction?: PlateDirection;
    seenAt?: Timestamp;
  },
  now: Date,
): PlateReadInput {
  const direction = requiredEnum('direction', req.direction, PlateDirection) as PlateDirection;
  const seenAt = req.seenAt ? requiredTimestamp('seen_at', req.seenAt) : now;
  if (seenAt.getTime() > now.getTime() + MAX_CLOCK_SKEW_MS)
    throw DomainError.invalid('seen_at', 'must not be in the future');
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: requiredString('tenancy.project_id', req.tenancy?.projectId, TENANT_ID),
    cameraId: requiredUuid('camera_id', req.cameraId),
    plate: normalisePlate(req.plate),
    direction: direction === PlateDirection.PLATE_DIRECTION_ENTRY ? 'ENTRY' : 'EXIT',
    seenAt,
  };
}

export interface SessionQuery {
  operatorId: string;
  sessionId: string;
}

export function toSessionQuery(req: { tenancy?: TenancyInput; sessionId?: string }): SessionQuery {
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    sessionId: requiredUuid('session_id', req.sessionId),
  };
}

export const SESSIONS_PAGE = pageCursor('iot.parking-sessions', keyPart.timestamp, keyPart.uuid);

export interface ListSessionsQuery extends LotQuery {
  size: number;
  after: { createdAt: string; sessionId: string } | undefined;
}

export function toListSessions(req: {
  tenancy?: TenancyInput;
  lotId?: string;
  page?: PageRequestLike;
}): ListSessionsQuery {
  const { size, after } = parsePage(req.page, SESSIONS_PAGE);
  return { ...toLotQuery(req), size, after: after && { createdAt: after[0], sessionId: after[1] } };
}
