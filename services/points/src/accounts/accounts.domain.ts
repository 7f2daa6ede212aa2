import {
  DomainError,
  fromTimestamp,
  keyPart,
  optionalString,
  pageCursor,
  PageRequestLike,
  parsePage,
  ProtoTimestamp,
  requestId,
  requiredString,
  requiredUuid,
  TENANT_ID,
} from '@citybase/platform';
import { ReservationStatus } from '@citybase/contracts/citybase/points/v1/points';
import { AccountsErrors } from './accounts.errors';

/**
 * Pure rules of accounts (no I/O): requests validated into commands and queries (INVALID_ARGUMENT
 * naming the proto field, before anything is read or written), the allocation of a hold to lots,
 * and what confirming or cancelling a reservation in a given state does.
 */

/** citybase.common.v1.TenancyRef as a request carries it. */
interface TenancyInput {
  operatorId?: string;
  projectId?: string;
  merchantId?: string;
}

/** Points of one request: positive, at most a trillion (sums stay far inside int64). */
export const MAX_POINTS = 1_000_000_000_000n;
/** Reason codes: 1-40 characters, A-Z, 0-9 and underscores. */
const REASON = { max: 40, pattern: /^[A-Z0-9_]+$/, patternRule: 'must be 1-40 characters A-Z, 0-9 or _' };
/** Longest lifetime of a reservation, seconds. */
export const MAX_TTL_SECONDS = 3600;
/** Latest expiry an issuance may set, from now. */
const MAX_LOT_LIFETIME_MS = 3650 * 86_400_000;

function optionalTenantId(field: string, value: string | undefined): string {
  return value ? requiredString(field, value, TENANT_ID) : '';
}

function points(field: string, value: bigint | undefined): bigint {
  if (typeof value !== 'bigint' || value <= 0n) throw DomainError.invalid(field, 'must be positive');
  if (value > MAX_POINTS) throw DomainError.invalid(field, `must be at most ${MAX_POINTS}`);
  return value;
}

/** The programme (operator) and the holder a request is about. */
export interface HolderRef {
  operatorId: string;
  /** '' unless the caller names one of the operator's projects. */
  projectId: string;
  holderId: string;
}

function holderRef(req: { tenancy?: TenancyInput; holderId?: string }): HolderRef {
  return {
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: optionalTenantId('tenancy.project_id', req.tenancy?.projectId),
    holderId: requiredString('holder_id', req.holderId, TENANT_ID),
  };
}

// ---- commands ----

export interface IssuePointsCommand extends HolderRef {
  requestId: string;
  points: bigint;
  reason: string;
  /** Epoch ms; undefined means the programme's lot lifetime. */
  expiresAtMs: number | undefined;
}

export function toIssuePointsCommand(
  req: {
    requestId?: string;
    tenancy?: TenancyInput;
    holderId?: string;
    points?: bigint;
    reason?: string;
    expiresAt?: ProtoTimestamp;
  },
  now: Date,
): IssuePointsCommand {
  const cmd = {
    requestId: requestId(req.requestId),
    ...holderRef(req),
    points: points('points', req.points),
    reason: requiredString('reason', req.reason, REASON),
  };
  let expiresAtMs: number | undefined;
  if (req.expiresAt) {
    expiresAtMs = fromTimestamp(req.expiresAt).getTime();
    if (!Number.isFinite(expiresAtMs) || expiresAtMs <= now.getTime())
      throw DomainError.invalid('expires_at', 'must be in the future');
    if (expiresAtMs > now.getTime() + MAX_LOT_LIFETIME_MS)
      throw DomainError.invalid('expires_at', 'must be at most 3650 days ahead');
  }
  return { ...cmd, expiresAtMs };
}

/** Where points are spent: an operator, and optionally its project and merchant. */
export interface RedemptionPlace {
  operatorId: string;
  projectId: string;
  merchantId: string;
}

export interface ReservePointsCommand extends HolderRef {
  requestId: string;
  merchantId: string;
  /** redeemed_at, or the request's tenancy when it names none. */
  redeemedAt: RedemptionPlace;
  points: bigint;
  reference: string;
  /** 0 means the server's default. */
  ttlSeconds: number;
}

export function toReservePointsCommand(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  holderId?: string;
  points?: bigint;
  reference?: string;
  ttlSeconds?: number;
  redeemedAt?: TenancyInput;
}): ReservePointsCommand {
  const ttl = req.ttlSeconds ?? 0;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL_SECONDS)
    throw DomainError.invalid('ttl_seconds', `must be from 0 to ${MAX_TTL_SECONDS} (0 means the default)`);
  const ref = holderRef(req);
  const merchantId = optionalTenantId('tenancy.merchant_id', req.tenancy?.merchantId);
  return {
    requestId: requestId(req.requestId),
    ...ref,
    merchantId,
    redeemedAt: redemptionPlace(req.redeemedAt) ?? {
      operatorId: ref.operatorId,
      projectId: ref.projectId,
      merchantId,
    },
    points: points('points', req.points),
    reference: optionalString('reference', req.reference, { max: 128 }),
    ttlSeconds: ttl,
  };
}

export interface TransferPointsCommand {
  requestId: string;
  operatorId: string;
  /** '' unless the caller names one of the operator's projects. */
  projectId: string;
  fromHolderId: string;
  toHolderId: string;
  points: bigint;
  reason: string;
}

export function toTransferPointsCommand(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  fromHolderId?: string;
  toHolderId?: string;
  points?: bigint;
  reason?: string;
}): TransferPointsCommand {
  const cmd = {
    requestId: requestId(req.requestId),
    operatorId: requiredString('tenancy.operator_id', req.tenancy?.operatorId, TENANT_ID),
    projectId: optionalTenantId('tenancy.project_id', req.tenancy?.projectId),
    fromHolderId: requiredString('from_holder_id', req.fromHolderId, TENANT_ID),
    toHolderId: requiredString('to_holder_id', req.toHolderId, TENANT_ID),
    points: points('points', req.points),
    reason: requiredString('reason', req.reason, REASON),
  };
  if (cmd.toHolderId === cmd.fromHolderId)
    throw DomainError.invalid('to_holder_id', 'must differ from from_holder_id');
  return cmd;
}

/** redeemed_at: unset (or all empty) means the request's tenancy; else its operator is required. */
function redemptionPlace(t: TenancyInput | undefined): RedemptionPlace | undefined {
  if (!t || (!t.operatorId && !t.projectId && !t.merchantId)) return undefined;
  return {
    operatorId: requiredString('redeemed_at.operator_id', t.operatorId, TENANT_ID),
    projectId: optionalTenantId('redeemed_at.project_id', t.projectId),
    merchantId: optionalTenantId('redeemed_at.merchant_id', t.merchantId),
  };
}

/** An issuer (a lot's operator and project) is owed for by clearing when it is not where the points are spent. */
export function needsClearing(
  issuer: { operatorId: string; projectId: string },
  redeemedAt: { operatorId: string; projectId: string },
): boolean {
  return issuer.operatorId !== redeemedAt.operatorId || issuer.projectId !== redeemedAt.projectId;
}

/**
 * The clearing obligations of a confirmation: the units of the reservation's lots summed per issuer
 * that is not where the points are spent (needsClearing), in the order of first appearance.
 */
export function obligationsOf(
  units: readonly { issuer_operator_id: string; issuer_project_id: string; units: bigint }[],
  redeemedAt: { operatorId: string; projectId: string },
): { operatorId: string; projectId: string; points: bigint }[] {
  const byIssuer = new Map<string, { operatorId: string; projectId: string; points: bigint }>();
  for (const u of units) {
    const issuer = { operatorId: u.issuer_operator_id, projectId: u.issuer_project_id };
    if (!needsClearing(issuer, redeemedAt)) continue;
    const key = `${issuer.operatorId}\u0000${issuer.projectId}`;
    const o = byIssuer.get(key) ?? { ...issuer, points: 0n };
    o.points += u.units;
    byIssuer.set(key, o);
  }
  return [...byIssuer.values()];
}

export interface EndReservationCommand {
  requestId: string;
  /** '' when the request names no operator; else a reservation of another operator is not found. */
  operatorId: string;
  reservationId: string;
}

export function toEndReservationCommand(req: {
  requestId?: string;
  tenancy?: TenancyInput;
  reservationId?: string;
}): EndReservationCommand {
  return {
    requestId: requestId(req.requestId),
    operatorId: optionalTenantId('tenancy.operator_id', req.tenancy?.operatorId),
    reservationId: requiredUuid('reservation_id', req.reservationId),
  };
}

export function toGetReservationQuery(req: { tenancy?: TenancyInput; reservationId?: string }): {
  operatorId: string;
  reservationId: string;
} {
  return {
    operatorId: optionalTenantId('tenancy.operator_id', req.tenancy?.operatorId),
    reservationId: requiredUuid('reservation_id', req.reservationId),
  };
}

export function toGetBalanceQuery(req: { tenancy?: TenancyInput; holderId?: string }): HolderRef {
  return holderRef(req);
}

// ---- lists ----

/** Page tokens of ListLots: earliest expiry first, by (expires_at, lot_id). */
export const LOTS_PAGE = pageCursor('points.lots', keyPart.timestamp, keyPart.uuid);
/** Page tokens of ListHistory: newest first, by (occurred_at, entry_id). */
export const HISTORY_PAGE = pageCursor('points.history', keyPart.timestamp, keyPart.uuid);

export interface ListLotsQuery extends HolderRef {
  includeEmpty: boolean;
  size: number;
  after: { expiresAt: string; lotId: string } | undefined;
}

export function toListLotsQuery(req: {
  tenancy?: TenancyInput;
  holderId?: string;
  includeEmpty?: boolean;
  page?: PageRequestLike;
}): ListLotsQuery {
  const ref = holderRef(req);
  const { size, after } = parsePage(req.page, LOTS_PAGE);
  return {
    ...ref,
    includeEmpty: req.includeEmpty ?? false,
    size,
    after: after && { expiresAt: after[0], lotId: after[1] },
  };
}

export interface ListHistoryQuery extends HolderRef {
  /** '' for all entries; else only those attributed to this household member. */
  memberId: string;
  size: number;
  after: { occurredAt: string; entryId: string } | undefined;
}

export function toListHistoryQuery(req: {
  tenancy?: TenancyInput;
  holderId?: string;
  memberId?: string;
  page?: PageRequestLike;
}): ListHistoryQuery {
  const ref = holderRef(req);
  const memberId = optionalTenantId('member_id', req.memberId);
  const { size, after } = parsePage(req.page, HISTORY_PAGE);
  return { ...ref, memberId, size, after: after && { occurredAt: after[0], entryId: after[1] } };
}

// ---- rules ----

/** A lot's units free to hold: remaining - held, of an available, unexpired lot. */
export interface FreeLot {
  lotId: string;
  free: bigint;
}

/**
 * Allocates `points` to lots in the order given (earliest expiry first): each lot gives what it has
 * free until the points are covered. Undefined when all of them together do not cover it.
 */
export function allocate(
  lots: readonly FreeLot[],
  wanted: bigint,
): { lotId: string; units: bigint }[] | undefined {
  const out: { lotId: string; units: bigint }[] = [];
  let left = wanted;
  for (const lot of lots) {
    if (left === 0n) break;
    if (lot.free <= 0n) continue;
    const units = lot.free < left ? lot.free : left;
    out.push({ lotId: lot.lotId, units });
    left -= units;
  }
  return left === 0n ? out : undefined;
}

/** The state names errors and logs use. */
export function reservationStateName(status: ReservationStatus): string {
  switch (status) {
    case ReservationStatus.RESERVATION_STATUS_HELD:
      return 'held';
    case ReservationStatus.RESERVATION_STATUS_CONFIRMED:
      return 'confirmed';
    case ReservationStatus.RESERVATION_STATUS_CANCELLED:
      return 'cancelled';
    case ReservationStatus.RESERVATION_STATUS_EXPIRED:
      return 'expired';
    case ReservationStatus.RESERVATION_STATUS_UNSPECIFIED:
    case ReservationStatus.UNRECOGNIZED:
      return 'unknown';
  }
}

/**
 * What confirming (or cancelling) a reservation does: a held one past its deadline expires (and a
 * confirmation then fails RESERVATION_EXPIRED, a cancellation answers it expired); a held one is
 * confirmed (cancelled); one that already ended in the asked state is answered unchanged; one that
 * ended otherwise is refused naming its state.
 */
export function decideEnd(
  r: { reservationId: string; status: ReservationStatus; expiresAt: Date },
  asked: 'confirm' | 'cancel',
  now: Date,
): 'apply' | 'expire' | 'unchanged' {
  const askedStatus =
    asked === 'confirm'
      ? ReservationStatus.RESERVATION_STATUS_CONFIRMED
      : ReservationStatus.RESERVATION_STATUS_CANCELLED;
  if (r.status === ReservationStatus.RESERVATION_STATUS_HELD)
    return r.expiresAt.getTime() <= now.getTime() ? 'expire' : 'apply';
  if (r.status === askedStatus) return 'unchanged';
  if (r.status === ReservationStatus.RESERVATION_STATUS_EXPIRED && asked === 'confirm')
    throw AccountsErrors.reservationExpired(r.reservationId);
  throw AccountsErrors.reservationEnded(r.reservationId, reservationStateName(r.status));
}

/** When a reservation asked for now with `ttlSeconds` (0: `defaultTtl`) expires. */
export function reservationExpiry(now: Date, ttlSeconds: number, defaultTtl: number): Date {
  return new Date(now.getTime() + (ttlSeconds === 0 ? defaultTtl : ttlSeconds) * 1000);
}

/** When a lot issued now expires: the request's time, or the programme's lifetime. */
export function lotExpiry(now: Date, expiresAtMs: number | undefined, lifetimeDays: number): Date {
  return new Date(expiresAtMs ?? now.getTime() + lifetimeDays * 86_400_000);
}

/**
 * Which lots a checkout refund's points come back from (docs/points.md "Returns on checkout
 * refunds"): the lots the confirmation spent, in the order given (latest expiry first), each up to
 * what it gave and earlier returns did not give back. Throws when the reservation has fewer points
 * left to return than asked (payment never refunds more points than the checkout used).
 */
export function allocateReturn(
  points: bigint,
  spent: readonly { lot_id: string; units: bigint; returned: bigint }[],
): { lotId: string; units: bigint }[] {
  if (points <= 0n) throw new Error(`a return must be positive, not ${points}`);
  const out: { lotId: string; units: bigint }[] = [];
  let left = points;
  for (const l of spent) {
    const free = l.units - l.returned;
    const n = free < left ? free : left;
    if (n > 0n) out.push({ lotId: l.lot_id, units: n });
    left -= n > 0n ? n : 0n;
    if (left === 0n) return out;
  }
  throw new Error(`only ${points - left} of ${points} points are left to return`);
}
