import * as grpc from '@grpc/grpc-js';
import { createLogger, toTimestamp } from '@citybase/platform';
import { errorField, grpcError, uniqueName, waitFor } from '@citybase/platform/testing';
import { Granularity } from '@citybase/contracts/citybase/data/v1/analytics';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { FundingSource, RedemptionStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { AlarmSeverity, AlarmStatus, DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { CommandKind, CommandState } from '@citybase/contracts/citybase/iot/v1/commands';
import { AccessKind } from '@citybase/contracts/citybase/iot/v1/access';
import { ChargingSessionState } from '@citybase/contracts/citybase/iot/v1/charging';
import type { EventType } from '@citybase/contracts/event-types';
import {
  IdentityEvents,
  IotEvents,
  MarketingEvents,
  PaymentEvents,
  PointsEvents,
  SettlementEvents,
} from '@citybase/contracts/events';
import type { DataConfig } from '../src/config';
import { Partitions } from '../src/store/store.partitions';
import { RetentionService } from '../src/store/store.retention';
import { DataHarness, startDataHarness } from './data-harness';

const HOUR = 3_600_000;
/** An event payload from its set fields (ts-proto's fromPartial of the event's message). */
const partial = <T>(type: EventType<T>, payload: DeepPartial<T>): T =>
  (type.codec as unknown as { fromPartial(p: unknown): T }).fromPartial(payload);
type DeepPartial<T> = T extends bigint | string | number | boolean | Date
  ? T
  : T extends (infer U)[]
    ? DeepPartial<U>[]
    : T extends object
      ? { [K in keyof T]?: DeepPartial<T[K]> }
      : T;

/** The call fails with `code` (and names `field`, when given). */
async function refused(
  call: Promise<unknown>,
  code: grpc.status,
  opts: { field?: string } = {},
): Promise<void> {
  const err = await grpcError(call);
  expect(grpc.status[err.code]).toBe(grpc.status[code]);
  if (opts.field !== undefined) expect(errorField(err)).toBe(opts.field);
}
const cny = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });

/** What the facts say the rollups must be: the same grouping, computed from the fact tables. */
const FACT_ROLLUPS = (unit: 'hour' | 'day') => `
  SELECT date_trunc('${unit}', occurred_at, 'UTC') AS bucket, operator_id, project_id, 'payment.' || status AS metric,
         channel, scenario AS kind, currency, sum(amount_minor) AS total, count(*) AS events
    FROM fact_payment GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'refund.' || status, channel, scenario, currency,
         sum(amount_minor), count(*) FROM fact_refund GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'escrow.' || kind, '', '', currency,
         sum(abs(amount_minor)), count(*) FROM fact_escrow GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'tax.withheld', '', '', currency,
         sum(tax_minor), count(*) FROM fact_tax_record GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'tax.turnover', '', '', currency,
         sum(taxable_turnover_minor), count(*) FROM fact_tax_record GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'points.' || kind, '', '', '',
         sum(points), count(*) FROM fact_points_movement GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'coupon.' || kind, '', '', '',
         count(*), count(*) FROM fact_coupon_claim GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'coupon.' || kind, '', '', currency,
         sum(discount_minor), count(*) FROM fact_coupon_redemption GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'iot.' || kind, '', detail, '',
         count(*), count(*) FROM fact_iot_event GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'iot.parking_capacity', '', '', '',
         sum(value)::bigint, count(*) FROM fact_iot_event WHERE kind = 'parking_lot' GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'iot.parking_fee', '', '', currency,
         sum(amount_minor), count(*) FROM fact_iot_event WHERE kind = 'parking_exit' AND amount_minor > 0 GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'iot.charging_energy_wh', '', '', '',
         sum(value)::bigint, count(*) FROM fact_iot_event WHERE kind = 'charging_session' GROUP BY 1, 2, 3, 4, 5, 6, 7
  UNION ALL
  SELECT date_trunc('${unit}', occurred_at, 'UTC'), operator_id, project_id, 'iot.charging_revenue', '', '', currency,
         sum(amount_minor), count(*) FROM fact_iot_event WHERE kind = 'charging_session' AND amount_minor > 0 GROUP BY 1, 2, 3, 4, 5, 6, 7`;

/** Telemetry is aggregated per device and hour before it is written: its rollups equal those rows. */
const TELEMETRY_ROLLUPS = (unit: 'hour' | 'day') => `
  SELECT date_trunc('${unit}', bucket, 'UTC') AS bucket, operator_id, project_id, 'iot.telemetry_messages' AS metric,
         sum(messages) AS total FROM telemetry_device_hour GROUP BY 1, 2, 3
  UNION ALL
  SELECT date_trunc('${unit}', bucket, 'UTC'), operator_id, project_id, 'iot.telemetry_devices', count(*)
    FROM telemetry_device_hour GROUP BY 1, 2, 3`;

async function rollupsEqualFacts(h: DataHarness): Promise<void> {
  for (const unit of ['hour', 'day'] as const) {
    const { rows } = await h.pool.query<{ side: string; n: number }>(
      `WITH f AS (${FACT_ROLLUPS(unit)}),
            r AS (SELECT bucket, operator_id, project_id, metric, channel, kind, currency, total, events FROM rollup_${unit}
                  WHERE metric NOT LIKE 'iot.telemetry%')
       SELECT 'only in facts' AS side, count(*)::int AS n FROM (SELECT * FROM f EXCEPT SELECT * FROM r) x
       UNION ALL
       SELECT 'only in rollups', count(*)::int FROM (SELECT * FROM r EXCEPT SELECT * FROM f) y
       UNION ALL
       SELECT 'rollup rows', count(*)::int FROM r`,
    );
    const by = Object.fromEntries(rows.map((r) => [r.side, r.n]));
    expect({ unit, ...by }).toEqual({
      unit,
      'only in facts': 0,
      'only in rollups': 0,
      'rollup rows': expect.any(Number),
    });
    expect(by['rollup rows']).toBeGreaterThan(0);
    const { rows: telemetry } = await h.pool.query<{ side: string; n: number }>(
      `WITH f AS (${TELEMETRY_ROLLUPS(unit)}),
            r AS (SELECT bucket, operator_id, project_id, metric, sum(total) AS total FROM rollup_${unit}
                  WHERE metric LIKE 'iot.telemetry%' GROUP BY 1, 2, 3, 4)
       SELECT 'only in telemetry' AS side, count(*)::int AS n FROM (SELECT * FROM f EXCEPT SELECT * FROM r) x
       UNION ALL
       SELECT 'only in rollups', count(*)::int FROM (SELECT * FROM r EXCEPT SELECT * FROM f) y`,
    );
    expect({ unit, ...Object.fromEntries(telemetry.map((r) => [r.side, r.n])) }).toEqual({
      unit,
      'only in telemetry': 0,
      'only in rollups': 0,
    });
  }
}

describe('data: the analytical store', () => {
  let h: DataHarness;
  const opA = uniqueName('opA');
  const opB = uniqueName('opB');
  const prA = uniqueName('prA');
  const prB = uniqueName('prB');
  const A = { operatorId: opA, projectId: prA, merchantId: 'mA' };
  const B = { operatorId: opB, projectId: prB, merchantId: 'mB' };
  const now = () => toTimestamp(new Date());

  const paid = (t: typeof A, amount: bigint, channel: string, scenario: PaymentScenario, at = new Date()) =>
    h.publish('payment', PaymentEvents.PaymentSucceeded, {
      paymentId: uniqueName('pay'),
      tenancy: t,
      merchantId: t.merchantId,
      scenario,
      amount: cny(amount),
      channel,
      occurredAt: toTimestamp(at),
      channelTransactionId: 'tx',
      profitSharing: false,
      payerRef: 'payer',
      checkoutId: '',
    });

  beforeAll(async () => {
    h = await startDataHarness('data-store');
  }, 120_000);
  afterAll(() => h?.stop());

  it('stores a fact per event of every source and each hourly and daily rollup equals its facts', async () => {
    const ids: string[] = [];
    ids.push(
      await h.publish('identity', IdentityEvents.OperatorCreated, {
        operatorId: opA,
        name: 'Alpha',
        occurredAt: now(),
      }),
    );
    ids.push(
      await h.publish('identity', IdentityEvents.ProjectCreated, {
        projectId: prA,
        operatorId: opA,
        name: 'Alpha Gardens',
        kind: 1,
        occurredAt: now(),
      }),
    );
    ids.push(await paid(A, 1000n, 'sandbox', PaymentScenario.PAYMENT_SCENARIO_PARKING));
    ids.push(await paid(A, 2500n, 'sandbox', PaymentScenario.PAYMENT_SCENARIO_GOODS));
    ids.push(await paid(A, 700n, 'wechat', PaymentScenario.PAYMENT_SCENARIO_PARKING));
    ids.push(await paid(B, 9900n, 'sandbox', PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING));
    ids.push(
      await h.publish('payment', PaymentEvents.PaymentFailed, {
        paymentId: uniqueName('pay'),
        tenancy: A,
        merchantId: 'mA',
        scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
        amount: cny(300n),
        channel: 'sandbox',
        occurredAt: now(),
        reason: 'declined',
        checkoutId: '',
      }),
    );
    ids.push(
      await h.publish('payment', PaymentEvents.RefundSucceeded, {
        refundId: uniqueName('ref'),
        paymentId: 'p1',
        tenancy: A,
        merchantId: 'mA',
        scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
        amount: cny(500n),
        refundedTotal: cny(500n),
        channel: 'sandbox',
        channelRefundId: 'cr',
        occurredAt: now(),
        instructionId: '',
      }),
    );
    ids.push(
      await h.publish('settlement', SettlementEvents.OrderEscrowed, {
        orderId: 'o1',
        tenancy: A,
        amount: cny(2500n),
        transactionId: 't1',
        autoConfirmAt: now(),
        occurredAt: now(),
      }),
    );
    ids.push(
      await h.publish('settlement', SettlementEvents.OrderCompleted, {
        orderId: 'o1',
        tenancy: A,
        released: cny(2000n),
        parts: [
          { role: 'merchant', amount: cny(1880n) },
          { role: 'tax', amount: cny(120n) },
        ],
        transactionId: 't2',
        completedBy: 'payer',
        occurredAt: now(),
      }),
    );
    ids.push(
      await h.publish('points', PointsEvents.PointsEarned, {
        lotId: 'l1',
        tenancy: A,
        holderId: 'h1',
        points: 25n,
        value: cny(25n),
        paymentId: 'p1',
        ruleId: 'r',
        memberId: '',
        availableAt: now(),
        expiresAt: now(),
        occurredAt: now(),
      }),
    );
    ids.push(
      await h.publish('points', PointsEvents.PointsRedeemed, {
        reservationId: 'rs1',
        tenancy: A,
        holderId: 'h1',
        points: 15n,
        reference: 'checkout',
        occurredAt: now(),
        value: cny(15n),
        lots: [
          {
            lotId: 'l1',
            issuer: { operatorId: opA, projectId: '', merchantId: '' },
            points: 10n,
            value: cny(10n),
          },
          {
            lotId: 'l2',
            issuer: { operatorId: opB, projectId: '', merchantId: '' },
            points: 5n,
            value: cny(5n),
          },
        ],
        redeemedAt: A,
      }),
    );
    ids.push(
      await h.publish('points', PointsEvents.PointsExpired, {
        tenancy: A,
        holderId: 'h1',
        lots: [
          {
            lotId: 'l3',
            issuer: { operatorId: opA, projectId: '', merchantId: '' },
            points: 4n,
            value: cny(4n),
          },
        ],
        occurredAt: now(),
      }),
    );
    ids.push(
      await h.publish('marketing', MarketingEvents.CouponClaimed, {
        couponId: 'c1',
        campaignId: 'cmp',
        tenancy: A,
        userId: 'u1',
        householdId: '',
        maxValue: cny(1000n),
        code: '',
        expiresAt: now(),
        occurredAt: now(),
      }),
    );
    ids.push(
      await h.publish('marketing', MarketingEvents.CouponRedeemed, {
        redemption: {
          redemptionId: 'rd1',
          couponId: 'c1',
          status: RedemptionStatus.REDEMPTION_STATUS_CONFIRMED,
          redeemedAt: A,
          reference: 'p1',
          basketTotal: cny(5000n),
          discount: cny(1000n),
          createdAt: now(),
          expiresAt: now(),
          endedAt: now(),
        },
        campaignId: 'cmp',
        userId: 'u1',
        funding: FundingSource.FUNDING_SOURCE_OPERATOR,
        funder: A,
        offline: false,
        occurredAt: now(),
      }),
    );
    ids.push(
      await h.publish('iot', IotEvents.AlarmRaised, {
        alarm: {
          alarmId: 'al1',
          tenancy: A,
          deviceId: 'd1',
          type: 'SMOKE',
          severity: AlarmSeverity.ALARM_SEVERITY_CRITICAL,
          status: AlarmStatus.ALARM_STATUS_ACTIVE_UNACKED,
          acknowledged: false,
          value: 1,
          raisedAt: now(),
          acknowledgedAt: undefined,
          clearedAt: undefined,
          occurrences: 1n,
        },
        occurredAt: now(),
      }),
    );
    await h.settled(ids);
    await rollupsEqualFacts(h);

    const { rows: lots } = await h.pool.query(
      `SELECT operator_id, points::int FROM fact_points_movement WHERE kind = 'redeemed' ORDER BY points DESC`,
    );
    // a redemption is booked against each lot's issuer
    expect(lots).toEqual([
      { operator_id: opA, points: 10 },
      { operator_id: opB, points: 5 },
    ]);
    const { rows: tax } = await h.pool.query(
      `SELECT tax_minor::int, taxable_turnover_minor::int, seq > 0 AS seq, txid IS NOT NULL AS txid FROM fact_tax_record`,
    );
    expect(tax).toEqual([{ tax_minor: 120, taxable_turnover_minor: 2000, seq: true, txid: true }]);
  });

  it("answers an operator's dashboard from the rollups: its own figures only; a foreign scope is refused", async () => {
    const a = h.clientOf({ operators: [opA] });
    const { panels } = await a.getDashboard({ scope: undefined });
    const fig = (panel: string, name: string) =>
      panels.find((p) => p.panelId === panel)!.figures.find((f) => f.name === name)!.value;
    const { rows } = await h.pool.query<{ gmv: string }>(
      `SELECT sum(amount_minor)::text AS gmv FROM fact_payment WHERE status = 'succeeded' AND operator_id = $1`,
      [opA],
    );
    expect(fig('payments', 'gmv')).toBe(BigInt(rows[0]!.gmv));
    expect(fig('payments', 'gmv')).toBe(4200n);
    expect(fig('refunds', 'refunded')).toBe(500n);
    expect(fig('escrow', 'balance')).toBe(500n);
    expect(fig('tax', 'withheld')).toBe(120n);
    expect(fig('points', 'redeemed')).toBe(10n);
    expect(fig('coupons', 'redeemed')).toBe(1n);
    expect(fig('iot', 'alarms')).toBe(1n);
    expect(fig('channels', 'channel:wechat')).toBe(700n);
    expect(fig('channels', 'scenario:PARKING')).toBe(1700n);
    expect(panels.find((p) => p.panelId === 'payments')!.lastOccurredAt).toBeDefined();

    const b = h.clientOf({ operators: [opB] });
    const bView = await b.getDashboard({ scope: undefined });
    expect(
      bView.panels.find((p) => p.panelId === 'payments')!.figures.find((f) => f.name === 'gmv')!.value,
    ).toBe(9900n);
    expect(
      JSON.stringify(bView, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
    ).not.toContain(opA);
    await refused(
      b.getDashboard({ scope: { operatorId: opA, projectId: '', merchantId: '' } }),
      grpc.status.PERMISSION_DENIED,
    );
    await refused(
      b.getDashboard({ scope: { operatorId: '', projectId: prA, merchantId: '' } }),
      grpc.status.PERMISSION_DENIED,
    );

    const city = h.clientOf({}, ['data:read', 'city:admin']);
    const cityView = await city.getDashboard({ scope: undefined });
    expect(
      cityView.panels.find((p) => p.panelId === 'payments')!.figures.find((f) => f.name === 'gmv')!.value,
    ).toBe(14100n);
  });

  it("turns iot's events and bulk telemetry into the device, alarm, parking, charging, door and courier figures", async () => {
    const opC = uniqueName('opC');
    const C = { operatorId: opC, projectId: uniqueName('prC'), merchantId: '' };
    const ids: string[] = [];
    const pub = async <T>(
      type: EventType<T>,
      payload: DeepPartial<T>,
      opts: { eventId?: string; key?: string } = {},
    ) => {
      const id = await h.publish('iot', type, partial(type, payload), opts);
      ids.push(id);
      return id;
    };
    const dev = (n: number) => `${opC}-d${n}`;
    for (const n of [1, 2, 3])
      await pub(IotEvents.DeviceRegistered, {
        deviceId: dev(n),
        tenancy: C,
        kind: DeviceKind.DEVICE_KIND_EV_CHARGER,
        occurredAt: now(),
      });
    await pub(IotEvents.DeviceRevoked, { deviceId: dev(3), tenancy: C, occurredAt: now() });
    await pub(IotEvents.PresenceChanged, {
      deviceId: dev(1),
      tenancy: C,
      online: true,
      version: 1n,
      occurredAt: now(),
    });
    await pub(IotEvents.PresenceChanged, {
      deviceId: dev(2),
      tenancy: C,
      online: true,
      version: 1n,
      occurredAt: now(),
    });
    await pub(IotEvents.PresenceChanged, {
      deviceId: dev(2),
      tenancy: C,
      online: false,
      version: 2n,
      occurredAt: now(),
    });
    // a late copy of an older presence version (another event id) leaves d2 offline
    await pub(IotEvents.PresenceChanged, {
      deviceId: dev(2),
      tenancy: C,
      online: true,
      version: 1n,
      occurredAt: now(),
    });
    const alarm = (id: string) => ({
      alarmId: id,
      tenancy: C,
      deviceId: dev(1),
      type: 'SMOKE',
      severity: AlarmSeverity.ALARM_SEVERITY_CRITICAL,
    });
    await pub(IotEvents.AlarmRaised, { alarm: alarm('c-al1'), occurredAt: now() });
    await pub(IotEvents.AlarmRaised, { alarm: alarm('c-al2'), occurredAt: now() });
    await pub(IotEvents.AlarmCleared, { alarm: alarm('c-al1'), occurredAt: now() });
    await pub(IotEvents.CommandCompleted, {
      command: {
        commandId: 'c1',
        tenancy: C,
        deviceId: dev(1),
        kind: CommandKind.COMMAND_KIND_DOOR_OPEN,
        state: CommandState.COMMAND_STATE_SUCCEEDED,
      },
      occurredAt: now(),
    });
    await pub(IotEvents.CommandCompleted, {
      command: {
        commandId: 'c2',
        tenancy: C,
        deviceId: dev(1),
        kind: CommandKind.COMMAND_KIND_GATE_OPEN,
        state: CommandState.COMMAND_STATE_EXPIRED,
      },
      occurredAt: now(),
    });
    for (const kind of [
      AccessKind.ACCESS_KIND_RESIDENT,
      AccessKind.ACCESS_KIND_RESIDENT,
      AccessKind.ACCESS_KIND_COURIER,
    ])
      await pub(IotEvents.DoorOpened, { doorDeviceId: dev(1), tenancy: C, kind, occurredAt: now() });
    const courier = {
      recordId: 'r1',
      tenancy: C,
      kind: AccessKind.ACCESS_KIND_COURIER,
      doorDeviceId: dev(1),
      courierId: 'k1',
    };
    await pub(IotEvents.AccessRecorded, { record: { ...courier, enteredAt: now() }, occurredAt: now() });
    await pub(IotEvents.AccessRecorded, {
      record: { ...courier, enteredAt: now(), exitedAt: now() },
      occurredAt: now(),
    });
    await pub(IotEvents.AccessRecorded, {
      record: { recordId: 'r2', tenancy: C, kind: AccessKind.ACCESS_KIND_RESIDENT, doorDeviceId: dev(1) },
      occurredAt: now(),
    });
    // two lots of 3 and 5 spaces: occupancy is measured against 8 (a redelivered copy counts once)
    const lot2 = await pub(IotEvents.ParkingLotCreated, {
      lot: { lotId: 'lot2', tenancy: C, capacity: 5 },
      occurredAt: now(),
    });
    await pub(IotEvents.ParkingLotCreated, {
      lot: { lotId: 'lot1', tenancy: C, capacity: 3 },
      occurredAt: now(),
    });
    await pub(
      IotEvents.ParkingLotCreated,
      { lot: { lotId: 'lot2', tenancy: C, capacity: 5 }, occurredAt: now() },
      { eventId: lot2 },
    );
    for (const n of [1, 2, 3])
      await pub(IotEvents.ParkingSessionOpened, {
        session: { sessionId: `ps${n}`, lotId: 'lot1', tenancy: C, plate: `P${n}` },
        occurredAt: now(),
      });
    await pub(IotEvents.ParkingSessionClosed, {
      session: { sessionId: 'ps1', lotId: 'lot1', tenancy: C, fee: cny(1000n) },
      occurredAt: now(),
    });
    await pub(IotEvents.ParkingSessionClosed, {
      session: { sessionId: 'ps2', lotId: 'lot1', tenancy: C, passApplied: true, fee: cny(0n) },
      occurredAt: now(),
    });
    await pub(IotEvents.ChargingSessionClosed, {
      session: {
        sessionId: 'cs1',
        deviceId: dev(1),
        tenancy: C,
        state: ChargingSessionState.CHARGING_SESSION_STATE_STOPPED,
        energyWh: 10_000n,
        total: cny(1500n),
      },
      occurredAt: now(),
    });
    await pub(IotEvents.ChargingSessionClosed, {
      session: {
        sessionId: 'cs2',
        deviceId: dev(2),
        tenancy: C,
        state: ChargingSessionState.CHARGING_SESSION_STATE_FAULTED,
      },
      occurredAt: now(),
    });
    // bulk telemetry: 10 messages of d1 (2 readings each), 5 of d2, and one redelivered copy
    const reading = (metric: string) => ({ metric, value: 1 });
    const hourStart = toTimestamp(new Date(Math.floor(Date.now() / HOUR) * HOUR));
    // keyed by device as iot's ingest keys them: a redelivered copy lands on its original's
    // partition, after it (a copy on another partition could be applied first)
    const telemetry = (n: number, i: number) =>
      pub(
        IotEvents.TelemetryReported,
        {
          deviceId: dev(n),
          tenancy: C,
          messageId: `m${i}`,
          channel: 'telemetry',
          readings: n === 1 ? [reading('power_w'), reading('register_wh')] : [reading('power_w')],
          occurredAt: hourStart,
          receivedAt: now(),
        },
        { key: dev(n) },
      );
    for (let i = 0; i < 10; i++) await telemetry(1, i);
    let copied = '';
    for (let i = 0; i < 5; i++) copied = await telemetry(2, i);
    await h.publish(
      'iot',
      IotEvents.TelemetryReported,
      partial(IotEvents.TelemetryReported, {
        deviceId: dev(2),
        tenancy: C,
        messageId: 'm4',
        channel: 'telemetry',
      }),
      { eventId: copied, key: dev(2) },
    );
    await h.settled(ids);
    await rollupsEqualFacts(h);

    const c = h.clientOf({ operators: [opC] });
    const { panels } = await c.getDashboard({ scope: undefined });
    const figures = (panel: string) =>
      Object.fromEntries(panels.find((p) => p.panelId === panel)!.figures.map((f) => [f.name, f.value]));
    expect(figures('iot')).toEqual({
      devices: 2n,
      online: 1n,
      online_rate: 5000n,
      alarms_open: 1n,
      alarms: 2n,
      commands: 2n,
      commands_failed: 1n,
    });
    expect(figures('parking')).toEqual({
      inside: 1n,
      capacity: 8n,
      occupancy: 1250n,
      entries: 3n,
      exits: 2n,
      fees: 1000n,
    });
    expect(figures('charging')).toEqual({ sessions: 2n, energy: 10_000n, revenue: 1500n });
    expect(figures('access')).toEqual({ doors: 3n, residents: 2n, courier_entries: 1n, courier_exits: 1n });
    expect(figures('telemetry')).toEqual({ messages: 15n });
    const devicesSeries = panels
      .find((p) => p.panelId === 'telemetry')!
      .series.find((x) => x.name === 'devices')!.points;
    // both devices reported in the same hour: 2 in that hour's point, nothing elsewhere
    expect(devicesSeries.map((x) => x.value).filter((v) => v !== 0n)).toEqual([2n]);
    for (const id of ['iot', 'parking', 'charging', 'access', 'telemetry'])
      expect(panels.find((p) => p.panelId === id)!.lastOccurredAt).toBeDefined();
    const { rows: cells } = await h.pool.query(
      `SELECT device_id, messages::int, readings::int FROM telemetry_device_hour WHERE operator_id = $1 ORDER BY device_id`,
      [opC],
    );
    expect(cells).toEqual([
      { device_id: dev(1), messages: 10, readings: 20 },
      { device_id: dev(2), messages: 5, readings: 5 },
    ]);

    // another operator sees none of it
    const a = await h.clientOf({ operators: [opA] }).getDashboard({ scope: undefined });
    const aIot = Object.fromEntries(
      a.panels.find((p) => p.panelId === 'parking')!.figures.map((f) => [f.name, f.value]),
    );
    expect(aIot).toEqual({ inside: 0n, capacity: 0n, occupancy: 0n, entries: 0n, exits: 0n, fees: 0n });
  });

  it('applies a redelivered event once, even when the inbox no longer remembers it', async () => {
    const id = await paid(A, 333n, 'sandbox', PaymentScenario.PAYMENT_SCENARIO_SERVICES);
    await h.settled([id]);
    const gmv = async () =>
      (
        await h.pool.query<{ t: string }>(
          `SELECT coalesce(sum(total), 0)::text AS t FROM rollup_hour WHERE metric = 'payment.succeeded' AND kind = 'SERVICES' AND operator_id = $1`,
          [opA],
        )
      ).rows[0]!.t;
    expect(await gmv()).toBe('333');
    const { rows: ev } = await h.pool.query<{ occurred_at: Date; payment_id: string }>(
      'SELECT occurred_at, payment_id FROM fact_payment WHERE event_id = $1',
      [id],
    );
    const again = (eventId: string) =>
      h.publish(
        'payment',
        PaymentEvents.PaymentSucceeded,
        {
          paymentId: ev[0]!.payment_id,
          tenancy: A,
          merchantId: 'mA',
          scenario: PaymentScenario.PAYMENT_SCENARIO_SERVICES,
          amount: cny(333n),
          channel: 'sandbox',
          occurredAt: toTimestamp(ev[0]!.occurred_at),
          channelTransactionId: 'tx',
          profitSharing: false,
          payerRef: 'payer',
          checkoutId: '',
        },
        { eventId },
      );
    await again(id); // a redelivery: the inbox skips it
    await h.pool.query(`DELETE FROM inbox WHERE event_id = $1`, [id]);
    await again(id); // the inbox forgot it: the fact's key (event_id, line, occurred_at) still holds
    const marker = await paid(B, 1n, 'sandbox', PaymentScenario.PAYMENT_SCENARIO_SERVICES);
    await h.settled([id, marker]);
    expect(await gmv()).toBe('333');
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM fact_payment WHERE event_id = $1', [
      id,
    ]);
    expect(rows[0]!.n).toBe(1);
    await rollupsEqualFacts(h);
  });

  it("adds a late event to its own hour's and day's rollup, creating its month's partition", async () => {
    const threeDaysAgo = new Date(Date.now() - 3 * 24 * HOUR);
    const monthsAgo = new Date(
      Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - 5, 10, 8, 30),
    );
    const ids = [
      await paid(A, 4400n, 'sandbox', PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE, threeDaysAgo),
      await paid(A, 5500n, 'sandbox', PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE, monthsAgo),
    ];
    await h.settled(ids);
    const { rows } = await h.pool.query<{ bucket: Date; total: string }>(
      `SELECT bucket, total::text FROM rollup_hour WHERE metric = 'payment.succeeded' AND kind = 'PROPERTY_FEE' AND operator_id = $1 ORDER BY bucket`,
      [opA],
    );
    expect(rows).toEqual([
      { bucket: new Date(Math.floor(monthsAgo.getTime() / HOUR) * HOUR), total: '5500' },
      { bucket: new Date(Math.floor(threeDaysAgo.getTime() / HOUR) * HOUR), total: '4400' },
    ]);
    const part = `fact_payment_${monthsAgo.toISOString().slice(0, 7).replace('-', '')}`;
    const { rows: p } = await h.pool.query(`SELECT to_regclass($1)::text AS t`, [part]);
    expect(p[0].t).toBe(part);
    // the dashboard's last 24 hours leave them out
    const { panels } = await h.clientOf({ operators: [opA] }).getDashboard({ scope: undefined });
    expect(panels.find((x) => x.panelId === 'payments')!.figures.find((f) => f.name === 'gmv')!.value).toBe(
      4200n + 333n,
    );
    await rollupsEqualFacts(h);
  });

  it('refuses to store a fact older than the retention window', async () => {
    const old = new Date(Date.UTC(new Date().getUTCFullYear() - 3, 0, 15));
    const id = await paid(A, 7777n, 'sandbox', PaymentScenario.PAYMENT_SCENARIO_GOODS, old);
    await h.settled([id]);
    const { rows } = await h.pool.query('SELECT count(*)::int AS n FROM fact_payment WHERE event_id = $1', [
      id,
    ]);
    expect(rows[0]!.n).toBe(0);
    const metrics = await (await fetch(`${h.svc.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/data_ingest_facts_total\{[^}]*source="payment"[^}]*outcome="too_old"[^}]*\} 1/);
  });

  it('retention drops the months before the window and their hourly rollups, keeps daily rollups', async () => {
    const logger = createLogger('data-test', 'silent');
    const retention = (months: number) =>
      new RetentionService(
        h.pool,
        { DATA_RETENTION_MONTHS: months, DATA_DAILY_ROLLUP_RETENTION_DAYS: 3650 } as DataConfig,
        new Partitions(h.pool),
        logger,
      );
    const fiveMonthsAgo = new Date(
      Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - 5, 10, 8, 30),
    );
    const month = fiveMonthsAgo.toISOString().slice(0, 7).replace('-', '');
    const before = await h.pool.query(
      `SELECT count(*)::int AS n FROM fact_payment WHERE occurred_at < date_trunc('month', now()) - interval '4 months'`,
    );
    expect(before.rows[0].n).toBeGreaterThan(0);
    // a 24-month window keeps everything
    expect((await retention(24).run()).droppedPartitions).toEqual([]);
    const result = await retention(3).run();
    expect(result.droppedPartitions).toEqual(
      expect.arrayContaining([`fact_payment_${month}`, `fact_refund_${month}`]),
    );
    expect(result.hourlyRowsDeleted).toBeGreaterThan(0);
    const after = await h.pool.query(
      `SELECT count(*)::int AS n FROM fact_payment WHERE occurred_at < date_trunc('month', now()) - interval '2 months'`,
    );
    expect(after.rows[0].n).toBe(0);
    const { rows: daily } = await h.pool.query(
      `SELECT total::text FROM rollup_day WHERE metric = 'payment.succeeded' AND kind = 'PROPERTY_FEE' AND bucket = date_trunc('day', $1::timestamptz, 'UTC')`,
      [fiveMonthsAgo],
    );
    expect(daily).toEqual([{ total: '5500' }]);
    const { rows: hourly } = await h.pool.query(
      `SELECT count(*)::int AS n FROM rollup_hour WHERE bucket < date_trunc('month', now()) - interval '2 months'`,
    );
    expect(hourly[0].n).toBe(0);
  });

  it('reports the freshness of each source as a metric and over GetFreshness, narrowed to the tenant', async () => {
    const at = new Date(Date.now() - 90_000);
    const id = await paid(A, 10n, 'sandbox', PaymentScenario.PAYMENT_SCENARIO_GOODS, at);
    await h.settled([id]);
    // the newest payment fact is the one published just before, or a newer one of the earlier tests
    await waitFor('the freshness gauge of payment', async () => {
      const metrics = await (await fetch(`${h.svc.httpUrl}/metrics`)).text();
      const m = /data_source_freshness_seconds\{[^}]*source="payment"[^}]*\} ([0-9.e+-]+)/.exec(metrics);
      return m && Number(m[1]) >= 0 ? true : undefined;
    });
    const metrics = await (await fetch(`${h.svc.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/data_source_freshness_seconds\{[^}]*source="iot"[^}]*\} \d/);
    expect(metrics).toMatch(/kafka_consumer_lag|consumer_lag/);

    const { rows } = await h.pool.query<{ last: Date }>(
      `SELECT max(occurred_at) AS last FROM fact_payment WHERE operator_id = $1`,
      [opA],
    );
    const a = await h.clientOf({ operators: [opA] }).getFreshness({ scope: undefined });
    const pay = a.sources.find((s) => s.source === 'payment')!;
    expect(Number(pay.lastOccurredAt!.seconds)).toBe(Math.floor(rows[0]!.last.getTime() / 1000));
    expect(pay.ageSeconds).toBeGreaterThanOrEqual(0n);
    // identity's dimensions are the city's: an operator does not see their freshness
    expect(a.sources.find((s) => s.source === 'identity')!.lastOccurredAt).toBeUndefined();
    const other = await h.clientOf({ operators: [uniqueName('opC')] }).getFreshness({ scope: undefined });
    expect(other.sources.every((s) => s.lastOccurredAt === undefined)).toBe(true);
  });

  it('lists rollup rows page by page and refuses bad ranges naming the field', async () => {
    const a = h.clientOf({ operators: [opA] });
    const from = toTimestamp(new Date(Date.now() - 2 * 24 * HOUR));
    const to = toTimestamp(new Date(Date.now() + HOUR));
    const seen: string[] = [];
    let token = '';
    do {
      const page = await a.listRollups({
        scope: undefined,
        metric: '',
        granularity: Granularity.GRANULARITY_HOUR,
        from,
        to,
        page: { pageSize: 3, pageToken: token },
      });
      expect(page.rows.length).toBeLessThanOrEqual(3);
      for (const r of page.rows) {
        expect(r.operatorId).toBe(opA);
        seen.push(`${r.bucket!.seconds}/${r.metric}/${r.channel}/${r.kind}/${r.currency}/${r.projectId}`);
      }
      token = page.page!.nextPageToken;
    } while (token !== '');
    const { rows } = await h.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM rollup_hour WHERE operator_id = $1 AND bucket >= $2 AND bucket < $3`,
      [opA, new Date(Date.now() - 2 * 24 * HOUR), new Date(Date.now() + HOUR)],
    );
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(rows[0]!.n);
    await refused(
      a.listRollups({
        scope: undefined,
        metric: '',
        granularity: Granularity.GRANULARITY_HOUR,
        from: to,
        to: from,
        page: undefined,
      }),
      grpc.status.INVALID_ARGUMENT,
      { field: 'to' },
    );
    await refused(
      a.listRollups({
        scope: undefined,
        metric: '',
        granularity: Granularity.GRANULARITY_UNSPECIFIED,
        from,
        to,
        page: undefined,
      }),
      grpc.status.INVALID_ARGUMENT,
      { field: 'granularity' },
    );
    await refused(
      a.listRollups({
        scope: undefined,
        metric: 'DROP TABLE',
        granularity: Granularity.GRANULARITY_DAY,
        from,
        to,
        page: undefined,
      }),
      grpc.status.INVALID_ARGUMENT,
      { field: 'metric' },
    );
  });
});
