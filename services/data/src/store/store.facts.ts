import { fromTimestamp } from '@citybase/platform';
import type { EventType } from '@citybase/contracts/event-types';
import {
  IotEvents,
  MarketingEvents,
  PaymentEvents,
  PointsEvents,
  SettlementEvents,
} from '@citybase/contracts/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { FundingSource } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { AlarmSeverity, DeviceKind } from '@citybase/contracts/citybase/iot/v1/iot';
import { CommandKind, CommandState } from '@citybase/contracts/citybase/iot/v1/commands';
import { AccessKind } from '@citybase/contracts/citybase/iot/v1/access';
import { ChargingSessionState } from '@citybase/contracts/citybase/iot/v1/charging';

/**
 * How each event type becomes facts and rollup contributions (docs/data.md "Facts and metrics").
 * The ingest is generic: a source is a list of FactSpecs, one per event type; adding a source (or an
 * event type) is adding specs here and, if it needs one, a fact table in a migration.
 */

/** The fact tables an event can write into (each has event_id, line, occurred_at, operator_id, project_id). */
export type FactTable =
  | 'fact_payment'
  | 'fact_refund'
  | 'fact_escrow'
  | 'fact_tax_record'
  | 'fact_points_movement'
  | 'fact_coupon_claim'
  | 'fact_coupon_redemption'
  | 'fact_iot_event';

/** A contribution of one fact line to a rollup row (added to the hour and the day of occurredAt). */
export interface Contribution {
  metric: string;
  channel?: string;
  kind?: string;
  currency?: string;
  /** Minor units for money, points, or 1 for a count. */
  total: bigint;
}

/** One fact row: its table's columns besides event_id, line, district, seq, txid. */
export interface FactLine {
  table: FactTable;
  occurredAt: Date;
  operatorId: string;
  projectId: string;
  columns: Record<string, string | bigint | number>;
  contributions: Contribution[];
}

export interface FactSpec<T> {
  type: EventType<T>;
  /** The fact lines of one event (line numbers are their positions). Empty: nothing to record. */
  facts(event: T, fallbackAt: Date): FactLine[];
}

export type AnyFactSpec = FactSpec<unknown>;

const spec = <T>(type: EventType<T>, facts: FactSpec<T>['facts']): AnyFactSpec =>
  ({ type, facts }) as AnyFactSpec;

interface Tenancy {
  operatorId: string;
  projectId: string;
  merchantId: string;
}
interface Money {
  currency: string;
  amountMinor: bigint;
}
interface Ts {
  seconds: bigint | number | string;
  nanos: number;
}

const at = (ts: Ts | undefined, fallback: Date): Date => (ts ? fromTimestamp(ts as never) : fallback);
const ten = (t: Tenancy | undefined) => ({
  operatorId: t?.operatorId ?? '',
  projectId: t?.projectId ?? '',
  merchantId: t?.merchantId ?? '',
});
const minor = (m: Money | undefined): bigint => BigInt(m?.amountMinor ?? 0);
const cur = (m: Money | undefined): string => m?.currency ?? '';
/** An enum value's name without the enum's prefix, e.g. PAYMENT_SCENARIO_PARKING -> PARKING. */
export function enumName(e: Record<number, string>, value: number, prefix: string): string {
  const name = e[value] ?? 'UNSPECIFIED';
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}
const scenario = (s: PaymentScenario) => enumName(PaymentScenario, s, 'PAYMENT_SCENARIO_');

function line(
  table: FactTable,
  occurredAt: Date,
  t: { operatorId: string; projectId: string },
  columns: FactLine['columns'],
  contributions: Contribution[],
): FactLine {
  return { table, occurredAt, operatorId: t.operatorId, projectId: t.projectId, columns, contributions };
}

// ---- payment ----
function paymentFact(status: string) {
  return (
    e: {
      paymentId: string;
      tenancy?: Tenancy;
      merchantId: string;
      scenario: PaymentScenario;
      amount?: Money;
      channel: string;
      occurredAt?: Ts;
    },
    fallback: Date,
  ): FactLine[] => {
    const t = ten(e.tenancy);
    return [
      line(
        'fact_payment',
        at(e.occurredAt, fallback),
        t,
        {
          merchant_id: e.merchantId || t.merchantId,
          payment_id: e.paymentId,
          status,
          channel: e.channel,
          scenario: scenario(e.scenario),
          amount_minor: minor(e.amount),
          currency: cur(e.amount),
        },
        [
          {
            metric: `payment.${status}`,
            channel: e.channel,
            kind: scenario(e.scenario),
            currency: cur(e.amount),
            total: minor(e.amount),
          },
        ],
      ),
    ];
  };
}

export const paymentSpecs: AnyFactSpec[] = [
  spec(PaymentEvents.PaymentSucceeded, paymentFact('succeeded')),
  spec(PaymentEvents.PaymentFailed, paymentFact('failed')),
  spec(PaymentEvents.PaymentExpired, paymentFact('expired')),
  spec(PaymentEvents.RefundSucceeded, (e, fb) => {
    const t = ten(e.tenancy);
    const s = scenario(e.scenario);
    return [
      line(
        'fact_refund',
        at(e.occurredAt, fb),
        t,
        {
          merchant_id: e.merchantId || t.merchantId,
          refund_id: e.refundId,
          payment_id: e.paymentId,
          status: 'succeeded',
          channel: e.channel,
          scenario: s,
          amount_minor: minor(e.amount),
          currency: cur(e.amount),
        },
        [
          {
            metric: 'refund.succeeded',
            channel: e.channel,
            kind: s,
            currency: cur(e.amount),
            total: minor(e.amount),
          },
        ],
      ),
    ];
  }),
  spec(PaymentEvents.RefundFailed, (e, fb) => {
    const t = ten(e.tenancy);
    return [
      line(
        'fact_refund',
        at(e.occurredAt, fb),
        t,
        {
          merchant_id: e.merchantId || t.merchantId,
          refund_id: e.refundId,
          payment_id: e.paymentId,
          status: 'failed',
          channel: e.channel,
          scenario: '',
          amount_minor: minor(e.amount),
          currency: cur(e.amount),
        },
        [{ metric: 'refund.failed', channel: e.channel, currency: cur(e.amount), total: minor(e.amount) }],
      ),
    ];
  }),
];

// ---- settlement ----
function escrowLine(
  kind: string,
  e: { orderId: string; tenancy?: Tenancy; occurredAt?: Ts },
  money: Money | undefined,
  sign: 1n | -1n | 0n,
  fb: Date,
): FactLine {
  const t = ten(e.tenancy);
  return line(
    'fact_escrow',
    at(e.occurredAt, fb),
    t,
    {
      merchant_id: t.merchantId,
      order_id: e.orderId,
      kind,
      amount_minor: sign * minor(money),
      currency: cur(money),
    },
    [{ metric: `escrow.${kind}`, currency: cur(money), total: minor(money) }],
  );
}

export const settlementSpecs: AnyFactSpec[] = [
  spec(SettlementEvents.OrderEscrowed, (e, fb) => [escrowLine('escrowed', e, e.amount, 1n, fb)]),
  spec(SettlementEvents.OrderCompleted, (e, fb) => {
    const lines = [escrowLine('released', e, e.released, -1n, fb)];
    const tax = e.parts.filter((p) => p.role === 'tax');
    if (tax.length > 0) {
      const t = ten(e.tenancy);
      const taxMinor = tax.reduce((s, p) => s + minor(p.amount), 0n);
      const currency = cur(e.released);
      lines.push(
        line(
          'fact_tax_record',
          at(e.occurredAt, fb),
          t,
          {
            merchant_id: t.merchantId,
            order_id: e.orderId,
            taxable_turnover_minor: minor(e.released),
            tax_minor: taxMinor,
            currency,
          },
          [
            { metric: 'tax.withheld', currency, total: taxMinor },
            { metric: 'tax.turnover', currency, total: minor(e.released) },
          ],
        ),
      );
    }
    return lines;
  }),
  spec(SettlementEvents.OrderRefunded, (e, fb) => [escrowLine('refunded', e, e.amount, -1n, fb)]),
  spec(SettlementEvents.OrderDisputed, (e, fb) => [escrowLine('disputed', e, e.held, 0n, fb)]),
  spec(SettlementEvents.DisputeResolved, (e, fb) => [escrowLine('resolved', e, e.refundAmount, 0n, fb)]),
];

// ---- points ----
interface Lot {
  lotId: string;
  issuer?: Tenancy;
  points: bigint;
  value?: Money;
}

function pointsLine(
  kind: string,
  t: { operatorId: string; projectId: string; merchantId: string },
  occurredAt: Date,
  holderId: string,
  points: bigint,
  value: Money | undefined,
  reference: string,
): FactLine {
  return line(
    'fact_points_movement',
    occurredAt,
    t,
    {
      merchant_id: t.merchantId,
      kind,
      holder_id: holderId,
      points,
      value_minor: minor(value),
      currency: cur(value),
      reference,
    },
    [{ metric: `points.${kind}`, total: points }],
  );
}

/** One line per issuer lot (the lot's issuer is the tenancy), or one line for the event's own tenancy. */
function lotLines(
  kind: string,
  e: { tenancy?: Tenancy; holderId: string; lots: Lot[]; occurredAt?: Ts },
  fb: Date,
  reference: string,
  points?: bigint,
  value?: Money,
): FactLine[] {
  const when = at(e.occurredAt, fb);
  if (e.lots.length === 0)
    return points === undefined
      ? []
      : [pointsLine(kind, ten(e.tenancy), when, e.holderId, points, value, reference)];
  return e.lots.map((l) =>
    pointsLine(kind, ten(l.issuer ?? e.tenancy), when, e.holderId, l.points, l.value, reference),
  );
}

export const pointsSpecs: AnyFactSpec[] = [
  spec(PointsEvents.PointsEarned, (e, fb) => [
    pointsLine('earned', ten(e.tenancy), at(e.occurredAt, fb), e.holderId, e.points, e.value, e.paymentId),
  ]),
  spec(PointsEvents.PointsIssued, (e, fb) => [
    pointsLine('issued', ten(e.tenancy), at(e.occurredAt, fb), e.holderId, e.points, e.value, e.reason),
  ]),
  spec(PointsEvents.PointsRedeemed, (e, fb) => lotLines('redeemed', e, fb, e.reference, e.points, e.value)),
  spec(PointsEvents.PointsReversed, (e, fb) => lotLines('reversed', e, fb, e.refundId)),
  spec(PointsEvents.PointsExpired, (e, fb) => lotLines('expired', e, fb, '')),
  spec(PointsEvents.PointsTransferred, (e, fb) => [
    pointsLine(
      'transferred',
      ten(e.tenancy),
      at(e.occurredAt, fb),
      e.fromHolderId,
      e.points,
      undefined,
      e.transferId,
    ),
  ]),
];

// ---- marketing ----
export const marketingSpecs: AnyFactSpec[] = [
  spec(MarketingEvents.CouponClaimed, (e, fb) => {
    const t = ten(e.tenancy);
    return [
      line(
        'fact_coupon_claim',
        at(e.occurredAt, fb),
        t,
        {
          merchant_id: t.merchantId,
          kind: 'claimed',
          coupon_id: e.couponId,
          campaign_id: e.campaignId,
          user_id: e.userId,
          max_value_minor: minor(e.maxValue),
          currency: cur(e.maxValue),
        },
        [{ metric: 'coupon.claimed', total: 1n }],
      ),
    ];
  }),
  spec(MarketingEvents.CouponRedeemed, (e, fb) => redemptionLines('redeemed', e, fb)),
  spec(MarketingEvents.CouponReleased, (e, fb) => redemptionLines('released', e, fb)),
];

function redemptionLines(
  kind: 'redeemed' | 'released',
  e: {
    redemption?: {
      redemptionId: string;
      couponId: string;
      redeemedAt?: Tenancy;
      reference: string;
      basketTotal?: Money;
      discount?: Money;
    };
    campaignId: string;
    userId: string;
    funding: FundingSource;
    occurredAt?: Ts;
  },
  fb: Date,
): FactLine[] {
  const r = e.redemption;
  if (!r) return [];
  const t = ten(r.redeemedAt);
  return [
    line(
      'fact_coupon_redemption',
      at(e.occurredAt, fb),
      t,
      {
        merchant_id: t.merchantId,
        kind,
        redemption_id: r.redemptionId,
        coupon_id: r.couponId,
        campaign_id: e.campaignId,
        user_id: e.userId,
        reference: r.reference,
        basket_total_minor: minor(r.basketTotal),
        discount_minor: minor(r.discount),
        currency: cur(r.discount),
        funding: enumName(FundingSource, e.funding, 'FUNDING_SOURCE_'),
      },
      [{ metric: `coupon.${kind}`, currency: cur(r.discount), total: minor(r.discount) }],
    ),
  ];
}

// ---- iot ----
function iotLine(
  kind: string,
  e: { tenancy?: Tenancy; deviceId: string; occurredAt?: Ts },
  detail: string,
  fb: Date,
  extra: Contribution[] = [],
  value = 1,
  money?: Money,
): FactLine {
  const t = ten(e.tenancy);
  return line(
    'fact_iot_event',
    at(e.occurredAt, fb),
    t,
    { kind, device_id: e.deviceId, detail, value, amount_minor: minor(money), currency: cur(money) },
    [{ metric: `iot.${kind}`, kind: detail, total: 1n }, ...extra],
  );
}

const severity = (s: AlarmSeverity | undefined) =>
  enumName(AlarmSeverity, s ?? AlarmSeverity.ALARM_SEVERITY_UNSPECIFIED, 'ALARM_SEVERITY_');

/**
 * iot's business facts (citybase.iot.events.v1 and the alarm lifecycle on citybase.iot.alarms.v1).
 * Figures that are a level rather than a flow (vehicles inside a lot, alarms still open) are the
 * all-time difference of two counts that each happen once per aggregate (a session opens once and
 * closes once; an alarm is raised once and cleared once), so a duplicate or late event never skews
 * them. Device presence is a level too, but iot may announce the same state twice (a new session
 * while online): it is kept per device in dim_device (store.events.ts), not summed.
 */
export const iotSpecs: AnyFactSpec[] = [
  spec(IotEvents.DeviceRegistered, (e, fb) => [
    iotLine('device_registered', e, enumName(DeviceKind, e.kind, 'DEVICE_KIND_'), fb),
  ]),
  spec(IotEvents.DeviceRevoked, (e, fb) => [iotLine('device_revoked', e, '', fb)]),
  spec(IotEvents.PresenceChanged, (e, fb) => [
    iotLine('presence', e, e.online ? 'ONLINE' : 'OFFLINE', fb, [], Number(e.version)),
  ]),
  spec(IotEvents.AlarmRaised, (e, fb) => [
    iotLine(
      'alarm',
      { tenancy: e.alarm?.tenancy, deviceId: e.alarm?.deviceId ?? '', occurredAt: e.occurredAt },
      severity(e.alarm?.severity),
      fb,
    ),
  ]),
  spec(IotEvents.AlarmCleared, (e, fb) => [
    iotLine(
      'alarm_cleared',
      { tenancy: e.alarm?.tenancy, deviceId: e.alarm?.deviceId ?? '', occurredAt: e.occurredAt },
      severity(e.alarm?.severity),
      fb,
    ),
  ]),
  spec(IotEvents.CommandCompleted, (e, fb) => {
    const c = e.command;
    if (!c) return [];
    const detail = `${enumName(CommandKind, c.kind, 'COMMAND_KIND_')}:${enumName(CommandState, c.state, 'COMMAND_STATE_')}`;
    return [
      iotLine('command', { tenancy: c.tenancy, deviceId: c.deviceId, occurredAt: e.occurredAt }, detail, fb),
    ];
  }),
  spec(IotEvents.DoorOpened, (e, fb) => [
    iotLine(
      'door_opened',
      { tenancy: e.tenancy, deviceId: e.doorDeviceId, occurredAt: e.occurredAt },
      enumName(AccessKind, e.kind, 'ACCESS_KIND_'),
      fb,
    ),
  ]),
  // A courier's record is published at entry and again with its exit time: one entry, one exit.
  spec(IotEvents.AccessRecorded, (e, fb) => {
    const r = e.record;
    if (!r || r.kind !== AccessKind.ACCESS_KIND_COURIER) return [];
    return [
      iotLine(
        'courier',
        { tenancy: r.tenancy, deviceId: r.doorDeviceId, occurredAt: e.occurredAt },
        r.exitedAt ? 'EXIT' : 'ENTRY',
        fb,
      ),
    ];
  }),
  // A lot's capacity (once per lot): what occupancy, vehicles inside / capacity, is measured against
  spec(IotEvents.ParkingLotCreated, (e, fb) => {
    const l = e.lot;
    if (!l) return [];
    return [
      iotLine(
        'parking_lot',
        { tenancy: l.tenancy, deviceId: l.lotId, occurredAt: e.occurredAt },
        '',
        fb,
        [{ metric: 'iot.parking_capacity', total: BigInt(l.capacity) }],
        l.capacity,
      ),
    ];
  }),
  spec(IotEvents.ParkingSessionOpened, (e, fb) => {
    const s = e.session;
    if (!s) return [];
    return [
      iotLine('parking_entry', { tenancy: s.tenancy, deviceId: s.lotId, occurredAt: e.occurredAt }, '', fb),
    ];
  }),
  spec(IotEvents.ParkingSessionClosed, (e, fb) => {
    const s = e.session;
    if (!s) return [];
    const detail = s.passApplied ? 'PASS' : minor(s.fee) > 0n ? 'PAID' : 'FREE';
    return [
      iotLine(
        'parking_exit',
        { tenancy: s.tenancy, deviceId: s.lotId, occurredAt: e.occurredAt },
        detail,
        fb,
        minor(s.fee) > 0n ? [{ metric: 'iot.parking_fee', currency: cur(s.fee), total: minor(s.fee) }] : [],
        1,
        s.fee,
      ),
    ];
  }),
  spec(IotEvents.ChargingSessionClosed, (e, fb) => {
    const s = e.session;
    if (!s) return [];
    const state = enumName(ChargingSessionState, s.state, 'CHARGING_SESSION_STATE_');
    const billed = minor(s.total) > 0n;
    return [
      iotLine(
        'charging_session',
        { tenancy: s.tenancy, deviceId: s.deviceId, occurredAt: e.occurredAt },
        state,
        fb,
        [
          { metric: 'iot.charging_energy_wh', total: BigInt(s.energyWh) },
          ...(billed
            ? [{ metric: 'iot.charging_revenue', currency: cur(s.total), total: minor(s.total) }]
            : []),
        ],
        Number(s.energyWh),
        s.total,
      ),
    ];
  }),
];

/** Every source the store consumes and its fact specs (identity feeds the dimensions instead). */
export const SOURCES: Record<string, AnyFactSpec[]> = {
  payment: paymentSpecs,
  settlement: settlementSpecs,
  points: pointsSpecs,
  marketing: marketingSpecs,
  iot: iotSpecs,
};
