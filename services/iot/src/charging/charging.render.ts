import { toTimestamp } from '@citybase/platform';
import {
  Charger,
  ChargingPaymentState,
  ChargingSession,
  ChargingSessionState,
} from '@citybase/contracts/citybase/iot/v1/charging';
import { ChargerRow, ChargingSessionRow, tariffOf } from './charging.store';

export function chargerToProto(c: ChargerRow): Charger {
  const t = tariffOf(c);
  return {
    deviceId: c.device_id,
    tenancy: { operatorId: c.operator_id, projectId: c.project_id, merchantId: c.merchant_id },
    tariff: {
      bands: t.bands.map((b) => ({
        fromMinute: b.fromMinute,
        pricePerKwh: { currency: c.currency, amountMinor: b.priceMinorPerKwh },
      })),
      serviceFeePerKwh: { currency: c.currency, amountMinor: t.serviceFeeMinorPerKwh },
    },
    lastRegisterWh: c.last_register_wh,
  };
}

export function chargingSessionToProto(s: ChargingSessionRow): ChargingSession {
  const money = (amountMinor: bigint) => ({ currency: s.currency, amountMinor });
  return {
    sessionId: s.session_id,
    deviceId: s.device_id,
    tenancy: { operatorId: s.operator_id, projectId: s.project_id, merchantId: s.merchant_id },
    transactionId: s.transaction_id,
    userId: s.user_id,
    state: ChargingSessionState[`CHARGING_SESSION_STATE_${s.state}` as keyof typeof ChargingSessionState],
    lastSeq: s.last_seq,
    firstRegisterWh: s.first_register_wh ?? 0n,
    lastRegisterWh: s.last_register_wh ?? 0n,
    energyWh: s.energy_wh,
    energyCost: money(s.energy_minor),
    serviceFee: money(s.service_fee_minor),
    total: money(s.total_minor),
    paymentId: s.payment_id ?? '',
    startedAt: toTimestamp(s.started_at),
    stoppedAt: s.stopped_at ? toTimestamp(s.stopped_at) : undefined,
    fault: s.fault,
    checkoutId: s.checkout_id ?? '',
    paymentState:
      ChargingPaymentState[`CHARGING_PAYMENT_STATE_${s.payment_state}` as keyof typeof ChargingPaymentState],
  };
}
