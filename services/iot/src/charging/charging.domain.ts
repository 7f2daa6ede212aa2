import {
  CITY_UTC_OFFSET_HOURS,
  divideRounded,
  DomainError,
  keyPart,
  optionalString,
  pageCursor,
  PageRequestLike,
  parsePage,
  requestId,
  requiredMoney,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import type { ChargingTariff as ProtoTariff } from '@citybase/contracts/citybase/iot/v1/charging';

/**
 * Pure rules of EV charging (docs/iot.md "EV charging"). A charger reports a session as
 * sequence-numbered events (START = 1, METER..., STOP), buffered while offline and replayed in
 * order; iot applies them strictly in sequence:
 *
 * - seq <= last applied: a duplicate (a retried or replayed event): acknowledged, changes nothing;
 * - seq > last + 1: a gap: not acknowledged, the charger sends the missing ones first;
 * - registers (Wh) must never go down: a reading below the last one is refused
 *   (SteVe #1297: meterStop < meterStart); a stop below the start faults the session, unbilled;
 * - energy = last register - first register of this session; a start without a trustworthy
 *   register (an offline start reporting 0 or a value below the charger's last known register,
 *   citrineos #1060) takes its first register from the first valid reading;
 * - the bill is made once, at the first STOP; a retried STOP is a duplicate (citrineos #880).
 */

export type ChargingEventType = 'START' | 'METER' | 'STOP';
export type ChargingSessionState = 'ACTIVE' | 'STOPPED' | 'FAULTED';

export interface ChargingEvent {
  seq: number;
  type: ChargingEventType;
  /** The charger's energy register in Wh; undefined when the charger did not report one. */
  registerWh?: bigint;
  at: Date;
}

export interface MeterReading {
  at: Date;
  registerWh: bigint;
}

export interface ChargingSessionView {
  state: ChargingSessionState;
  lastSeq: number;
  firstRegisterWh: bigint | null;
  lastRegisterWh: bigint | null;
  /** The charger's register at the end of its previous session (its floor for this one). */
  chargerFloorWh: bigint;
}

export type ChargingDecision =
  | {
      kind: 'APPLY';
      state: ChargingSessionState;
      firstRegisterWh: bigint | null;
      lastRegisterWh: bigint | null;
      /** The reading to store, if the event carried a valid register. */
      reading?: MeterReading;
      /** Set on the STOP that ends the session: make the one bill. */
      bill: boolean;
      /** Why the register was not used (offline start with a bogus register). */
      note?: string;
    }
  | { kind: 'DUPLICATE' }
  | { kind: 'GAP'; expectedSeq: number }
  | {
      kind: 'REFUSE';
      code: 'METER_NOT_MONOTONIC' | 'SESSION_ENDED' | 'BAD_SEQUENCE';
      message: string;
      fault: boolean;
    };

/** The first event of a session: a START with seq 1. */
export function decideStart(e: ChargingEvent, chargerFloorWh: bigint): ChargingDecision {
  if (e.type !== 'START' || e.seq !== 1)
    return {
      kind: 'REFUSE',
      code: 'BAD_SEQUENCE',
      message: 'a session begins with START, seq 1',
      fault: false,
    };
  return applyRegister(
    { state: 'ACTIVE', lastSeq: 0, firstRegisterWh: null, lastRegisterWh: null, chargerFloorWh },
    e,
  );
}

export function decideEvent(s: ChargingSessionView, e: ChargingEvent): ChargingDecision {
  if (!Number.isInteger(e.seq) || e.seq < 1)
    return { kind: 'REFUSE', code: 'BAD_SEQUENCE', message: 'seq must be a positive integer', fault: false };
  if (e.seq <= s.lastSeq) return { kind: 'DUPLICATE' };
  if (s.state !== 'ACTIVE')
    return { kind: 'REFUSE', code: 'SESSION_ENDED', message: `session is ${s.state}`, fault: false };
  if (e.seq > s.lastSeq + 1) return { kind: 'GAP', expectedSeq: s.lastSeq + 1 };
  if (e.type === 'START')
    return { kind: 'REFUSE', code: 'BAD_SEQUENCE', message: 'START only as seq 1', fault: false };
  return applyRegister(s, e);
}

function applyRegister(s: ChargingSessionView, e: ChargingEvent): ChargingDecision {
  const stopping = e.type === 'STOP';
  const state: ChargingSessionState = stopping ? 'STOPPED' : 'ACTIVE';
  const r = e.registerWh;
  const floor = s.lastRegisterWh ?? s.chargerFloorWh;
  // No register, or an offline start's bogus one (0, or below what the charger had already counted).
  if (r === undefined || (e.type === 'START' && (r === 0n || r < s.chargerFloorWh))) {
    return {
      kind: 'APPLY',
      state,
      firstRegisterWh: s.firstRegisterWh,
      lastRegisterWh: s.lastRegisterWh,
      bill: stopping,
      note:
        r === undefined
          ? 'no register'
          : `start register ${r} Wh ignored (charger floor ${s.chargerFloorWh} Wh)`,
    };
  }
  if (r < floor) {
    const against =
      s.firstRegisterWh !== null && s.lastRegisterWh !== null ? 'the last reading' : 'the charger floor';
    return {
      kind: 'REFUSE',
      code: 'METER_NOT_MONOTONIC',
      message: `register ${r} Wh is below ${against} ${floor} Wh`,
      // A stop that cannot be billed ends the session as FAULTED (an operator settles it).
      fault: stopping,
    };
  }
  return {
    kind: 'APPLY',
    state,
    firstRegisterWh: s.firstRegisterWh ?? r,
    lastRegisterWh: r,
    reading: { at: e.at, registerWh: r },
    bill: stopping,
  };
}

export function sessionEnergyWh(s: Pick<ChargingSessionView, 'firstRegisterWh' | 'lastRegisterWh'>): bigint {
  if (s.firstRegisterWh === null || s.lastRegisterWh === null) return 0n;
  return s.lastRegisterWh - s.firstRegisterWh;
}

/** A time-of-use band: from this minute of the city's day (UTC+8) until the next band. */
export interface TouBand {
  fromMinute: number;
  priceMinorPerKwh: bigint;
}

export interface ChargingTariff {
  currency: string;
  bands: TouBand[];
  serviceFeeMinorPerKwh: bigint;
}

export function validateChargingTariff(t: ChargingTariff): ChargingTariff {
  if (t.bands.length === 0) throw DomainError.invalid('tariff.bands', 'must have at least one band');
  const sorted = [...t.bands].sort((a, b) => a.fromMinute - b.fromMinute);
  if (sorted[0].fromMinute !== 0)
    throw DomainError.invalid('tariff.bands', 'the first band must start at minute 0');
  for (let i = 0; i < sorted.length; i++) {
    const b = sorted[i];
    if (!Number.isInteger(b.fromMinute) || b.fromMinute < 0 || b.fromMinute >= 1440)
      throw DomainError.invalid(`tariff.bands[${i}].from_minute`, 'must be from 0 to 1439');
    if (i > 0 && sorted[i - 1].fromMinute === b.fromMinute)
      throw DomainError.invalid(`tariff.bands[${i}].from_minute`, 'must be unique');
    if (b.priceMinorPerKwh < 0n)
      throw DomainError.invalid(`tariff.bands[${i}].price`, 'must not be negative');
  }
  if (t.serviceFeeMinorPerKwh < 0n) throw DomainError.invalid('tariff.service_fee', 'must not be negative');
  return { ...t, bands: sorted };
}

const MINUTE_MS = 60_000;
const DAY_MS = 1440 * MINUTE_MS;
const OFFSET_MS = CITY_UTC_OFFSET_HOURS * 3_600_000;

/** The band price at a moment. */
function bandAt(bands: readonly TouBand[], atMs: number): { price: bigint; untilMs: number } {
  const local = atMs + OFFSET_MS;
  const dayStart = local - (((local % DAY_MS) + DAY_MS) % DAY_MS);
  const minute = Math.floor((local - dayStart) / MINUTE_MS);
  let idx = 0;
  for (let i = 0; i < bands.length; i++) if (bands[i].fromMinute <= minute) idx = i;
  const next = idx + 1 < bands.length ? dayStart + bands[idx + 1].fromMinute * MINUTE_MS : dayStart + DAY_MS;
  return { price: bands[idx].priceMinorPerKwh, untilMs: next - OFFSET_MS };
}

export interface ChargingBill {
  energyWh: bigint;
  energyMinor: bigint;
  serviceFeeMinor: bigint;
  totalMinor: bigint;
}

/**
 * The bill of a session from its readings (ascending, registers monotonic): the energy between two
 * readings is spread evenly over the time between them and priced by the band of each part;
 * service fee = energy x fee per kWh. Rounded half-even once per part (energy) and once (fee).
 */
export function chargingBill(tariff: ChargingTariff, readings: readonly MeterReading[]): ChargingBill {
  const bands = [...tariff.bands].sort((a, b) => a.fromMinute - b.fromMinute);
  let energyMilli = 0n; // minor units x 1000 (Wh x minor/kWh)
  for (let i = 1; i < readings.length; i++) {
    const from = readings[i - 1].at.getTime();
    const to = readings[i].at.getTime();
    const wh = readings[i].registerWh - readings[i - 1].registerWh;
    if (wh <= 0n) continue;
    if (to <= from) {
      energyMilli += wh * bandAt(bands, from).price;
      continue;
    }
    let weighted = 0n; // sum of (ms in band x price)
    for (let t = from; t < to;) {
      const band = bandAt(bands, t);
      const end = Math.min(to, band.untilMs);
      weighted += BigInt(end - t) * band.price;
      t = end;
    }
    energyMilli += divideRounded(wh * weighted, BigInt(to - from), 'half-even');
  }
  const energyWh =
    readings.length === 0 ? 0n : readings[readings.length - 1].registerWh - readings[0].registerWh;
  const energyMinor = divideRounded(energyMilli, 1000n, 'half-even');
  const serviceFeeMinor = divideRounded(energyWh * tariff.serviceFeeMinorPerKwh, 1000n, 'half-even');
  return { energyWh, energyMinor, serviceFeeMinor, totalMinor: energyMinor + serviceFeeMinor };
}

// ---- requests ----

interface TenancyInput {
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
}

export function toChargingTariff(field: string, t: ProtoTariff | undefined): ChargingTariff {
  if (!t) throw DomainError.invalid(field, 'is required');
  const fee = requiredMoney(`${field}.service_fee_per_kwh`, t.serviceFeePerKwh, { allowZero: true });
  const bands = (t.bands ?? []).map((b, i) => {
    const price = requiredMoney(`${field}.bands[${i}].price_per_kwh`, b.pricePerKwh, { allowZero: true });
    if (price.currency !== fee.currency)
      throw DomainError.invalid(
        `${field}.bands[${i}].price_per_kwh.currency`,
        'must be the service fee currency',
      );
    return { fromMinute: b.fromMinute ?? 0, priceMinorPerKwh: price.amountMinor };
  });
  if (bands.length > 48) throw DomainError.invalid(`${field}.bands`, 'must have at most 48 bands');
  return validateChargingTariff({ currency: fee.currency, bands, serviceFeeMinorPerKwh: fee.amountMinor });
}

export interface ConfigureChargerInput {
  requestId: string;
  operatorId: string;
  projectId: string;
  merchantId: string;
  deviceId: string;
  tariff: ChargingTariff;
}

export function toConfigureCharger(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  deviceId?: string;
  tariff?: ProtoTariff;
}): ConfigureChargerInput {
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: requiredString('tenancy.project_id', req.tenancy?.projectId, TENANT_ID),
    merchantId: requiredString('tenancy.merchant_id', req.tenancy?.merchantId, TENANT_ID),
    deviceId: requiredUuid('device_id', req.deviceId),
    tariff: toChargingTariff('tariff', req.tariff),
  };
}

export interface ChargerQuery {
  operatorId: string;
  deviceId: string;
}

export function toChargerQuery(req: { tenancy?: TenancyInput; deviceId?: string }): ChargerQuery {
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    deviceId: requiredUuid('device_id', req.deviceId),
  };
}

export interface ReportedEvent extends ChargingEvent {
  transactionId: string;
  userId: string;
}

const MAX_REGISTER_WH = 10n ** 12n;

/** The event types a charger publishes on its `events` channel, one per session event. */
export const CHARGER_MESSAGE_TYPES = {
  CHARGER_START: 'START',
  CHARGER_METER: 'METER',
  CHARGER_STOP: 'STOP',
} as const satisfies Record<string, ChargingEventType>;

/**
 * A charger's session event as it publishes it over MQTT (docs/iot.md "Device events"):
 * `{"id", "ts", "type": "CHARGER_START" | "CHARGER_METER" | "CHARGER_STOP",
 *   "data": {"transaction_id", "seq", "register_wh", "user_id"}}`; `register_wh` a number or a
 * decimal string, absent when the charger has none; `ts` when it happened (else now).
 */
export function fromChargerMessage(type: string, data: Record<string, unknown>, at: Date): ReportedEvent {
  const kind = (CHARGER_MESSAGE_TYPES as Record<string, ChargingEventType>)[type];
  if (!kind) throw DomainError.invalid('type', 'must be CHARGER_START, CHARGER_METER or CHARGER_STOP');
  const seq = data.seq;
  if (typeof seq !== 'number' || !Number.isInteger(seq) || seq < 1)
    throw DomainError.invalid('data.seq', 'must be a positive integer');
  let registerWh: bigint | undefined;
  const r = data.register_wh;
  if (r !== undefined && r !== null) {
    if (
      !(typeof r === 'number' && Number.isSafeInteger(r)) &&
      !(typeof r === 'string' && /^\d{1,13}$/.test(r))
    )
      throw DomainError.invalid('data.register_wh', 'must be a whole number of Wh');
    registerWh = BigInt(r);
    if (registerWh < 0n || registerWh > MAX_REGISTER_WH)
      throw DomainError.invalid('data.register_wh', 'must be from 0 to 10^12');
  }
  const transactionId = typeof data.transaction_id === 'string' ? data.transaction_id : undefined;
  const userId = typeof data.user_id === 'string' ? data.user_id : undefined;
  return {
    transactionId: requiredString('data.transaction_id', transactionId, { max: 64 }),
    userId: kind === 'START' ? requiredString('data.user_id', userId, TENANT_ID) : (userId ?? ''),
    seq,
    type: kind,
    registerWh,
    at,
  };
}

export interface ChargingSessionQuery {
  operatorId: string;
  sessionId: string;
}

export function toChargingSessionQuery(req: {
  tenancy?: TenancyInput;
  sessionId?: string;
}): ChargingSessionQuery {
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    sessionId: requiredUuid('session_id', req.sessionId),
  };
}

export const CHARGING_PAGE = pageCursor('iot.charging-sessions', keyPart.timestamp, keyPart.uuid);

export interface ListChargingQuery extends ChargerQuery {
  size: number;
  after: { createdAt: string; sessionId: string } | undefined;
}

export function toListCharging(req: {
  tenancy?: TenancyInput;
  deviceId?: string;
  page?: PageRequestLike;
}): ListChargingQuery {
  const { size, after } = parsePage(req.page, CHARGING_PAGE);
  return { ...toChargerQuery(req), size, after: after && { createdAt: after[0], sessionId: after[1] } };
}

// ---- paying a session through payment's checkout (docs/iot.md "Charging paid with points and coupons") ----

/** Where a session's payment stands (column charging_sessions.payment_state). */
export type ChargingPaymentState = 'NONE' | 'CHECKOUT_CHOSEN' | 'OPEN' | 'PAID' | 'UNPAID';

export interface PayChargingInput {
  requestId: string;
  operatorId: string;
  sessionId: string;
  points: bigint;
  couponCode: string;
  couponId: string;
  pointsHolderId: string;
}

const MAX_POINTS = 10n ** 12n;

export function toPayChargingSession(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  sessionId?: string;
  points?: bigint;
  couponCode?: string;
  couponId?: string;
  pointsHolderId?: string;
}): PayChargingInput {
  const points = req.points ?? 0n;
  if (points < 0n || points > MAX_POINTS) throw DomainError.invalid('points', 'must be from 0 to 10^12');
  const pointsHolderId = optionalString('points_holder_id', req.pointsHolderId, { max: 64 });
  if (pointsHolderId && !TENANT_ID.pattern.test(pointsHolderId))
    throw DomainError.invalid('points_holder_id', TENANT_ID.patternRule);
  const couponCode = optionalString('coupon_code', req.couponCode, { max: 64 });
  const couponId = optionalString('coupon_id', req.couponId, { max: 64 });
  if (couponCode && couponId)
    throw DomainError.invalid('coupon_id', 'give coupon_id or coupon_code, not both');
  return {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    sessionId: requiredUuid('session_id', req.sessionId),
    points,
    couponCode,
    couponId,
    pointsHolderId,
  };
}

export type PayDecision =
  /** The session runs: the choice waits for the stop, which bills through the checkout. */
  | { kind: 'CHOOSE' }
  /** Stopped and unpaid: a checkout now, as billing call `attempt`. */
  | { kind: 'CHECKOUT'; attempt: number }
  | { kind: 'REFUSE'; code: string; message: string };

/**
 * Whether the app may pay a session through the checkout now. One payment of a session is open at
 * a time: while the stop's plain payment (or an earlier checkout) may still be paid, another would
 * let the resident pay twice, so it is refused until that one failed, expired or was released.
 */
export function decidePay(s: {
  state: ChargingSessionState;
  paymentState: ChargingPaymentState;
  totalMinor: bigint;
  payAttempt: number;
}): PayDecision {
  const refuse = (code: string, message: string): PayDecision => ({ kind: 'REFUSE', code, message });
  if (s.state === 'FAULTED')
    return refuse('CHARGING_SESSION_FAULTED', 'the session faulted unbilled; an operator settles it');
  switch (s.paymentState) {
    case 'CHECKOUT_CHOSEN':
      return refuse('CHARGING_CHECKOUT_CHOSEN', 'a checkout was already chosen for this session');
    case 'OPEN':
      return refuse(
        'CHARGING_PAYMENT_OPEN',
        "the session's payment is open: pay it, or ask again once it failed, expired or was released",
      );
    case 'PAID':
      return refuse('CHARGING_SESSION_PAID', 'the session is paid');
    case 'NONE':
      if (s.state === 'ACTIVE') return { kind: 'CHOOSE' };
      return refuse('CHARGING_NOTHING_TO_PAY', 'the session was billed 0');
    case 'UNPAID':
      return { kind: 'CHECKOUT', attempt: s.payAttempt + 1 };
  }
}
