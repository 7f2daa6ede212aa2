import { toTimestamp } from '@citybase/platform';
import {
  GetBalanceResponse,
  HistoryEntry,
  HolderKind,
  Lot,
  LotStatus,
  Reservation,
} from '@citybase/contracts/citybase/points/v1/points';
import type { AccountRow, Balance, EntryRow, LotRow, ReservationRow } from './accounts.store';

/** Proto answers of accounts. */

export function balanceProto(
  holderId: string,
  account: AccountRow | undefined,
  b: Balance,
  more: { tier: string; expiringSoon: bigint },
): GetBalanceResponse {
  return {
    holderId,
    available: b.available,
    reserved: b.reserved,
    pending: b.pending,
    debt: account?.debt ?? 0n,
    tier: more.tier,
    holderKind: (account?.holder_kind ?? HolderKind.HOLDER_KIND_USER) as HolderKind,
    expiringSoon: more.expiringSoon,
  };
}

export function lotProto(l: LotRow, now: Date): Lot {
  return {
    lotId: l.lot_id,
    amount: l.amount,
    remaining: l.remaining,
    held: l.held,
    status: l.expires_at.getTime() <= now.getTime() ? LotStatus.LOT_STATUS_EXPIRED : l.status,
    source: l.source,
    sourceRef: l.source_ref,
    issuer: { operatorId: l.issuer_operator_id, projectId: l.issuer_project_id, merchantId: '' },
    memberId: l.member_id,
    earnedAt: toTimestamp(l.earned_at),
    availableAt: toTimestamp(l.available_at),
    expiresAt: toTimestamp(l.expires_at),
  };
}

export function entryProto(e: EntryRow): HistoryEntry {
  return {
    entryId: e.entry_id,
    kind: e.kind,
    availableDelta: e.available_delta,
    pendingDelta: e.pending_delta,
    reservedDelta: e.reserved_delta,
    debtDelta: e.debt_delta,
    reason: e.reason,
    reference: e.reference,
    clientId: e.client_id,
    eventId: e.event_id,
    memberId: e.member_id,
    occurredAt: toTimestamp(e.occurred_at),
  };
}

export function reservationProto(r: ReservationRow): Reservation {
  return {
    reservationId: r.reservation_id,
    tenancy: { operatorId: r.operator_id, projectId: r.project_id, merchantId: r.merchant_id },
    holderId: r.holder_id,
    points: r.points,
    status: r.status,
    reference: r.reference,
    createdAt: toTimestamp(r.created_at),
    expiresAt: toTimestamp(r.expires_at),
    endedAt: r.ended_at ? toTimestamp(r.ended_at) : undefined,
    redeemedAt: {
      operatorId: r.redeemed_operator_id,
      projectId: r.redeemed_project_id,
      merchantId: r.redeemed_merchant_id,
    },
  };
}
