// JSON output of the tool: proto field names (snake_case), int64 as decimal strings, enums by name
// without their prefix ("RESIDENTIAL"), timestamps as RFC 3339 UTC strings (null when unset).
import { CommandKind, CommandState, DeviceCommand } from '@citybase/contracts/citybase/iot/v1/commands';
import { Device, DeviceKind, DeviceStatus } from '@citybase/contracts/citybase/iot/v1/iot';
import type { Door } from '@citybase/contracts/citybase/iot/v1/access';
import {
  MonthlyPass,
  ParkingLot,
  ParkingSession,
  ParkingSessionState,
} from '@citybase/contracts/citybase/iot/v1/parking';
import {
  Charger,
  ChargingPaymentState,
  ChargingSession,
  ChargingSessionState,
} from '@citybase/contracts/citybase/iot/v1/charging';
import type { Timestamp } from '@citybase/contracts/google/protobuf/timestamp';
import {
  type Campaign,
  CampaignStatus,
  type CodeBatch,
  CodeBatchStatus,
  FundingSource,
} from '@citybase/contracts/citybase/marketing/v1/marketing';
import {
  type ApiClient,
  ClientStatus,
  type ClientTenancy,
  type SigningKey,
} from '@citybase/contracts/citybase/identity/v1/clients';
import { type Operator, type Project, ProjectKind } from '@citybase/contracts/citybase/identity/v1/tenancy';
import {
  type Checkout,
  type CheckoutParts,
  type CheckoutRefund,
  CheckoutRefundStatus,
  CheckoutStatus,
  PaymentScenario,
} from '@citybase/contracts/citybase/payment/v1/payment';
import {
  type Budget,
  BudgetLevel,
  type EarningRule,
  type GetBalanceResponse,
  HolderKind,
  type Programme,
  ShortfallPolicy,
} from '@citybase/contracts/citybase/points/v1/points';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** JSON text of a value; bigint (int64) values become strings. Ends with a newline. */
export function toJsonText(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;
}

/**
 * The name of a proto enum value without its prefix: (ProjectKind, 1, 'PROJECT_KIND_') -> "RESIDENTIAL".
 * A value this build does not know (a newer server) is shown as its number.
 */
export function enumName(enumObject: Record<string, string | number>, value: number, prefix: string): string {
  const name = enumObject[value];
  if (typeof name !== 'string' || name === 'UNRECOGNIZED') return String(value);
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/**
 * RFC 3339 UTC text of a protobuf Timestamp, with 0, 3, 6 or 9 fractional digits as the proto3
 * JSON mapping writes it; null when unset.
 */
export function timestampText(ts: Timestamp | undefined): string | null {
  if (ts === undefined) return null;
  // 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z, the range google.protobuf.Timestamp allows.
  if (ts.seconds < -62_135_596_800n || ts.seconds > 253_402_300_799n) {
    throw new RangeError(`timestamp out of range: ${ts.seconds}s`);
  }
  const whole = new Date(Number(ts.seconds) * 1000).toISOString().slice(0, 19); // YYYY-MM-DDTHH:MM:SS
  const nanos = ts.nanos;
  if (!Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    throw new RangeError(`timestamp nanos out of range: ${nanos}`);
  }
  let fraction = '';
  if (nanos !== 0) {
    const digits = nanos.toString().padStart(9, '0');
    fraction = `.${
      nanos % 1_000_000 === 0 ? digits.slice(0, 3) : nanos % 1_000 === 0 ? digits.slice(0, 6) : digits
    }`;
  }
  return `${whole}${fraction}Z`;
}

export function renderOperator(o: Operator | undefined): Json {
  if (o === undefined) return null;
  return { operator_id: o.operatorId, name: o.name, created_at: timestampText(o.createdAt) };
}

export function renderProject(p: Project | undefined): Json {
  if (p === undefined) return null;
  return {
    project_id: p.projectId,
    operator_id: p.operatorId,
    name: p.name,
    kind: enumName(ProjectKind, p.kind, 'PROJECT_KIND_'),
    created_at: timestampText(p.createdAt),
  };
}

function renderTenancy(t: ClientTenancy | undefined): Json {
  return { operator_ids: [...(t?.operatorIds ?? [])], project_ids: [...(t?.projectIds ?? [])] };
}

export function renderClient(c: ApiClient | undefined): Json {
  if (c === undefined) return null;
  return {
    client_id: c.clientId,
    name: c.name,
    scopes: [...c.scopes],
    tenancy: renderTenancy(c.tenancy),
    status: enumName(ClientStatus, c.status, 'CLIENT_STATUS_'),
    created_at: timestampText(c.createdAt),
    secret_rotated_at: timestampText(c.secretRotatedAt),
    revoked_at: timestampText(c.revokedAt),
    created_by_client_id: c.createdByClientId,
  };
}

export function renderSigningKey(k: SigningKey | undefined): Json {
  if (k === undefined) return null;
  return { kid: k.kid, created_at: timestampText(k.createdAt), retired_at: timestampText(k.retiredAt) };
}

export function renderProgramme(p: Programme | undefined): Json {
  if (p === undefined) return null;
  return {
    operator_id: p.tenancy?.operatorId ?? '',
    point_value: p.pointValue
      ? { currency: p.pointValue.currency, amount_minor: p.pointValue.amountMinor.toString() }
      : null,
    lot_lifetime_days: p.lotLifetimeDays,
    refund_window_hours: p.refundWindowHours,
    shortfall_policy: enumName(ShortfallPolicy, p.shortfallPolicy, 'SHORTFALL_POLICY_'),
    expiry_notice_days: p.expiryNoticeDays,
    tiers: p.tiers.map((t) => ({
      name: t.name,
      threshold: t.threshold.toString(),
      multiplier_permille: t.multiplierPermille,
    })),
    tier_window_days: p.tierWindowDays,
    updated_at: timestampText(p.updatedAt),
  };
}

export function renderBudget(b: Budget | undefined): Json {
  if (b === undefined) return null;
  return {
    level: enumName(BudgetLevel, b.level, 'BUDGET_LEVEL_'),
    operator_id: b.tenancy?.operatorId ?? '',
    project_id: b.tenancy?.projectId ?? '',
    period: b.period,
    allotted: b.allotted.toString(),
    allotted_to_children: b.allottedToChildren.toString(),
    issued: b.issued.toString(),
    unallotted: b.unallotted.toString(),
    subtree_issued: b.subtreeIssued.toString(),
    subtree_redeemed: b.subtreeRedeemed.toString(),
    subtree_expired: b.subtreeExpired.toString(),
    updated_at: timestampText(b.updatedAt),
  };
}

export function renderEarningRule(r: EarningRule | undefined): Json {
  if (r === undefined) return null;
  return {
    rule_id: r.ruleId,
    operator_id: r.tenancy?.operatorId ?? '',
    project_id: r.tenancy?.projectId ?? '',
    scenario: enumName(PaymentScenario, r.scenario, 'PAYMENT_SCENARIO_'),
    points_per_yuan: r.pointsPerYuan,
    daily_cap: r.dailyCap.toString(),
    updated_at: timestampText(r.updatedAt),
  };
}

export function renderBalance(b: GetBalanceResponse): Json {
  return {
    holder_id: b.holderId,
    holder_kind: enumName(HolderKind, b.holderKind, 'HOLDER_KIND_'),
    available: b.available.toString(),
    reserved: b.reserved.toString(),
    pending: b.pending.toString(),
    debt: b.debt.toString(),
    tier: b.tier,
    expiring_soon: b.expiringSoon.toString(),
  };
}

export function renderCampaign(c: Campaign | undefined): Json {
  if (c === undefined) return null;
  const money = (m: { currency: string; amountMinor: bigint } | undefined) =>
    m ? { currency: m.currency, amount_minor: m.amountMinor.toString() } : null;
  const d = c.discount?.kind;
  return {
    campaign_id: c.campaignId,
    operator_id: c.tenancy?.operatorId ?? '',
    project_id: c.tenancy?.projectId ?? '',
    merchant_id: c.tenancy?.merchantId ?? '',
    name: c.name,
    status: enumName(CampaignStatus, c.status, 'CAMPAIGN_STATUS_'),
    discount:
      d === undefined
        ? null
        : d.$case === 'amountOff'
          ? { amount_off: money(d.value) }
          : d.$case === 'percentOff'
            ? { percent_off: { basis_points: d.value.basisPoints, cap: money(d.value.cap) } }
            : d.$case === 'threshold'
              ? { threshold: { spend: money(d.value.spend), save: money(d.value.save) } }
              : { free_item: { item_code: d.value.itemCode, value: money(d.value.value) } },
    funding: enumName(FundingSource, c.funding, 'FUNDING_SOURCE_'),
    claim_from: timestampText(c.claimFrom),
    claim_until: timestampText(c.claimUntil),
    coupon_valid_days: c.couponValidDays,
    use_until: timestampText(c.useUntil),
    max_coupons: c.maxCoupons.toString(),
    max_spend: money(c.maxSpend),
    per_user_limit: c.perUserLimit,
    per_household_limit: c.perHouseholdLimit,
    per_user_daily_limit: c.perUserDailyLimit,
    flash_sale: c.flashSale,
    generic_code: c.genericCode === '' ? null : c.genericCode,
    claimed: c.claimed.toString(),
    claimed_value: money(c.claimedValue),
    redeemed: c.redeemed.toString(),
    redeemed_discount: money(c.redeemedDiscount),
    created_at: timestampText(c.createdAt),
    updated_at: timestampText(c.updatedAt),
  };
}

export function renderCodeBatch(b: CodeBatch | undefined): Json {
  if (b === undefined) return null;
  return {
    batch_id: b.batchId,
    campaign_id: b.campaignId,
    status: enumName(CodeBatchStatus, b.status, 'CODE_BATCH_STATUS_'),
    requested: b.requested.toString(),
    generated: b.generated.toString(),
    created_at: timestampText(b.createdAt),
    finished_at: timestampText(b.finishedAt),
  };
}

type MoneyLike = { currency: string; amountMinor: bigint } | undefined;
const moneyJson = (m: MoneyLike): Json =>
  m ? { currency: m.currency, amount_minor: m.amountMinor.toString() } : null;

function partsJson(p: CheckoutParts | undefined): Json {
  if (p === undefined) return null;
  return {
    total: moneyJson(p.total),
    discount: moneyJson(p.discount),
    points: p.points.toString(),
    points_value: moneyJson(p.pointsValue),
    money: moneyJson(p.money),
  };
}

export function renderCheckout(c: Checkout | undefined): Json {
  if (c === undefined) return null;
  return {
    checkout_id: c.checkoutId,
    status: enumName(CheckoutStatus, c.status, 'CHECKOUT_STATUS_'),
    operator_id: c.tenancy?.operatorId ?? '',
    project_id: c.tenancy?.projectId ?? '',
    merchant_id: c.merchantId,
    user_id: c.userId,
    points_holder_id: c.pointsHolderId,
    parts: partsJson(c.parts),
    payment_id: c.paymentId,
    pay_url: c.payUrl,
    coupon_id: c.couponId,
    coupon_redemption_id: c.couponRedemptionId,
    points_reservation_id: c.pointsReservationId,
    expires_at: timestampText(c.expiresAt),
    completed_at: timestampText(c.completedAt),
    release_reason: c.releaseReason,
    refunded: partsJson(c.refunded),
  };
}

export function renderCheckoutRefund(r: CheckoutRefund | undefined): Json {
  if (r === undefined) return null;
  return {
    checkout_refund_id: r.checkoutRefundId,
    checkout_id: r.checkoutId,
    status: enumName(CheckoutRefundStatus, r.status, 'CHECKOUT_REFUND_STATUS_'),
    parts: partsJson(r.parts),
    coupon_restored: r.couponRestored,
    payment_refund_id: r.paymentRefundId,
    failure_reason: r.failureReason,
  };
}

/** A device as the tool prints it (kind and status by name, times as RFC 3339). */
export function renderDevice(d: Device | undefined): Json {
  if (!d) return null;
  return {
    device_id: d.deviceId,
    operator_id: d.tenancy?.operatorId ?? '',
    project_id: d.tenancy?.projectId ?? '',
    kind: enumName(DeviceKind, d.kind, 'DEVICE_KIND_').toLowerCase(),
    profile: d.profile,
    name: d.name,
    serial_number: d.serialNumber,
    status: enumName(DeviceStatus, d.status, 'DEVICE_STATUS_').toLowerCase(),
    online: d.online,
    last_seen_at: timestampText(d.lastSeenAt),
    credentials_version: d.credentialsVersion,
    created_at: timestampText(d.createdAt),
  };
}

/** A device command as the tool prints it (kind and state by name, times as RFC 3339). */
export function renderDeviceCommand(c: DeviceCommand | undefined): Json {
  if (!c) return null;
  return {
    command_id: c.commandId,
    operator_id: c.tenancy?.operatorId ?? '',
    project_id: c.tenancy?.projectId ?? '',
    device_id: c.deviceId,
    kind: enumName(CommandKind, c.kind, 'COMMAND_KIND_').toLowerCase(),
    state: enumName(CommandState, c.state, 'COMMAND_STATE_').toLowerCase(),
    reference: c.reference,
    detail: c.detail,
    created_at: timestampText(c.createdAt),
    deadline: timestampText(c.deadline),
    sent_at: timestampText(c.sentAt),
    delivered_at: timestampText(c.deliveredAt),
    completed_at: timestampText(c.completedAt),
    publish_count: c.publishCount,
  };
}

const moneyOf = (m: { currency: string; amountMinor: bigint } | undefined): Json =>
  m ? { currency: m.currency, amount_minor: m.amountMinor.toString() } : null;

/** A parking stay as the tool prints it (state by name, money in minor units as text). */
export function renderParkingSession(p: ParkingSession | undefined): Json {
  if (!p) return null;
  return {
    session_id: p.sessionId,
    lot_id: p.lotId,
    operator_id: p.tenancy?.operatorId ?? '',
    project_id: p.tenancy?.projectId ?? '',
    plate: p.plate,
    state: enumName(ParkingSessionState, p.state, 'PARKING_SESSION_STATE_').toLowerCase(),
    entered_at: timestampText(p.enteredAt),
    exit_requested_at: timestampText(p.exitRequestedAt),
    fee: moneyOf(p.fee),
    pass_applied: p.passApplied,
    payment_id: p.paymentId,
    gate_command_id: p.gateCommandId,
    closed_at: timestampText(p.closedAt),
  };
}

/** A parking lot as the tool prints it (money in minor units as text). */
export function renderParkingLot(l: ParkingLot | undefined): Json {
  if (!l) return null;
  return {
    lot_id: l.lotId,
    operator_id: l.tenancy?.operatorId ?? '',
    project_id: l.tenancy?.projectId ?? '',
    merchant_id: l.tenancy?.merchantId ?? '',
    name: l.name,
    capacity: l.capacity,
    occupied: l.occupied,
    entry_camera_id: l.entryCameraId,
    exit_camera_id: l.exitCameraId,
    exit_gate_id: l.exitGateId,
    tariff: l.tariff
      ? {
          free_minutes: l.tariff.freeMinutes,
          hourly_rate: moneyOf(l.tariff.hourlyRate),
          daily_cap: moneyOf(l.tariff.dailyCap),
        }
      : null,
    created_at: timestampText(l.createdAt),
  };
}

export function renderMonthlyPass(p: MonthlyPass | undefined): Json {
  if (!p) return null;
  return {
    pass_id: p.passId,
    lot_id: p.lotId,
    plate: p.plate,
    resident_id: p.residentId,
    valid_from: timestampText(p.validFrom),
    valid_until: timestampText(p.validUntil),
  };
}

/** An EV charger as the tool prints it (its time-of-use bands and the register in Wh as text). */
export function renderCharger(c: Charger | undefined): Json {
  if (!c) return null;
  return {
    device_id: c.deviceId,
    operator_id: c.tenancy?.operatorId ?? '',
    project_id: c.tenancy?.projectId ?? '',
    merchant_id: c.tenancy?.merchantId ?? '',
    tariff: c.tariff
      ? {
          bands: c.tariff.bands.map((b) => ({
            from_minute: b.fromMinute,
            price_per_kwh: moneyOf(b.pricePerKwh),
          })),
          service_fee_per_kwh: moneyOf(c.tariff.serviceFeePerKwh),
        }
      : null,
    last_register_wh: c.lastRegisterWh.toString(),
  };
}

export function renderDoor(d: Door | undefined): Json {
  if (!d) return null;
  return {
    device_id: d.deviceId,
    operator_id: d.tenancy?.operatorId ?? '',
    project_id: d.tenancy?.projectId ?? '',
    building_id: d.buildingId,
    unit_id: d.unitId,
  };
}

/** An EV charging session as the tool prints it (registers and energy in Wh as text). */
export function renderChargingSession(c: ChargingSession | undefined): Json {
  if (!c) return null;
  return {
    session_id: c.sessionId,
    device_id: c.deviceId,
    operator_id: c.tenancy?.operatorId ?? '',
    project_id: c.tenancy?.projectId ?? '',
    transaction_id: c.transactionId,
    user_id: c.userId,
    state: enumName(ChargingSessionState, c.state, 'CHARGING_SESSION_STATE_').toLowerCase(),
    last_seq: c.lastSeq,
    first_register_wh: c.firstRegisterWh.toString(),
    last_register_wh: c.lastRegisterWh.toString(),
    energy_wh: c.energyWh.toString(),
    energy_cost: moneyOf(c.energyCost),
    service_fee: moneyOf(c.serviceFee),
    total: moneyOf(c.total),
    payment_id: c.paymentId,
    checkout_id: c.checkoutId,
    payment_state: enumName(ChargingPaymentState, c.paymentState, 'CHARGING_PAYMENT_STATE_').toLowerCase(),
    started_at: timestampText(c.startedAt),
    stopped_at: timestampText(c.stoppedAt),
    fault: c.fault,
  };
}
