import { toTimestamp } from '@citybase/platform';
import {
  MonthlyPass,
  ParkingLot,
  ParkingSession,
  ParkingSessionState,
} from '@citybase/contracts/citybase/iot/v1/parking';
import type { LotRow, PassRow, SessionRow } from './parking.store';

export function lotToProto(l: LotRow): ParkingLot {
  return {
    lotId: l.lot_id,
    tenancy: { operatorId: l.operator_id, projectId: l.project_id, merchantId: l.merchant_id },
    name: l.name,
    capacity: l.capacity,
    entryCameraId: l.entry_camera_id,
    exitCameraId: l.exit_camera_id,
    exitGateId: l.exit_gate_id,
    tariff: {
      freeMinutes: l.free_minutes,
      hourlyRate: { currency: l.currency, amountMinor: l.hourly_rate_minor },
      dailyCap: { currency: l.currency, amountMinor: l.daily_cap_minor },
    },
    occupied: l.occupied,
    createdAt: toTimestamp(l.created_at),
  };
}

export function sessionToProto(s: SessionRow): ParkingSession {
  return {
    sessionId: s.session_id,
    lotId: s.lot_id,
    tenancy: { operatorId: s.operator_id, projectId: s.project_id, merchantId: s.merchant_id },
    plate: s.plate,
    state: ParkingSessionState[`PARKING_SESSION_STATE_${s.state}` as keyof typeof ParkingSessionState],
    enteredAt: toTimestamp(s.entered_at),
    exitRequestedAt: s.exit_requested_at ? toTimestamp(s.exit_requested_at) : undefined,
    fee: { currency: s.currency, amountMinor: s.fee_minor },
    passApplied: s.pass_applied,
    paymentId: s.payment_id ?? '',
    gateCommandId: s.gate_command_id ?? '',
    closedAt: s.closed_at ? toTimestamp(s.closed_at) : undefined,
  };
}

export function passToProto(p: PassRow): MonthlyPass {
  return {
    passId: p.pass_id,
    lotId: p.lot_id,
    plate: p.plate,
    residentId: p.resident_id,
    validFrom: toTimestamp(p.valid_from),
    validUntil: toTimestamp(p.valid_until),
  };
}
