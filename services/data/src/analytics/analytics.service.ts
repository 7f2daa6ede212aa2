import { Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import {
  assertTenancy,
  CitybaseClaims,
  DomainError,
  keyPart,
  optionalString,
  PAGE_LIMITS,
  pageCursor,
  parsePage,
  PG_POOL,
  tenancyFilter,
  TENANT_ID,
} from '@citybase/platform';
import { FreshnessService, SourceState } from '../store/store.freshness';

/** Which rows a caller sees: the request's scope inside the caller's tenancy. */
export interface Scope {
  operatorId: string;
  projectId: string;
}

/** One figure as the dashboard shows it. */
export interface FigureModel {
  name: string;
  label: string;
  value: bigint;
  unit: string;
}
export interface SeriesModel {
  name: string;
  label: string;
  unit: string;
  points: { bucket: Date; value: bigint }[];
}
export interface PanelModel {
  panelId: string;
  title: string;
  figures: FigureModel[];
  series: SeriesModel[];
  lastOccurredAt: Date | undefined;
}
export interface DashboardModel {
  since: Date;
  generatedAt: Date;
  panels: PanelModel[];
}

export interface RollupRowModel {
  bucket: Date;
  operatorId: string;
  projectId: string;
  metric: string;
  channel: string;
  kind: string;
  currency: string;
  total: bigint;
  events: bigint;
}

const HOUR = 3_600_000;
const TEXT = keyPart.text(/^[\s\S]{0,256}$/, 256);
const rollupsCursor = pageCursor('data.rollups', keyPart.timestamp, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT);

/** Reads the request's scope: both ids optional; a project needs no operator. */
export function toScope(scope: { operatorId?: string; projectId?: string } | undefined): Scope {
  return {
    operatorId: optionalString('scope.operator_id', scope?.operatorId, { max: TENANT_ID.max }),
    projectId: optionalString('scope.project_id', scope?.projectId, { max: TENANT_ID.max }),
  };
}

interface Where {
  sql: string;
  params: unknown[];
}

/**
 * Reads of the analytical store for a caller: the dashboard's panels, freshness and rollup rows.
 * Every query is narrowed to the caller's tenancy (tenancyFilter) and to the request's scope, which
 * must lie inside it (else PERMISSION_DENIED TENANCY_FORBIDDEN, naming no tenant).
 */
@Injectable()
export class AnalyticsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    private readonly freshness: FreshnessService,
  ) {}

  /**
   * The WHERE clause of rollup rows (columns operator_id, project_id) a caller may see in a scope.
   * A scope outside the caller's tenancy is PERMISSION_DENIED, also a project named without its
   * operator whose operator (as the store knows it) is not the caller's.
   */
  async where(claims: CitybaseClaims, scope: Scope, firstParam = 1): Promise<Where> {
    const tenancy = tenancyFilter(claims);
    if (!tenancy.all) {
      if (scope.operatorId)
        assertTenancy(claims, { operatorId: scope.operatorId, projectId: scope.projectId || undefined });
      else if (scope.projectId && !tenancy.projectIds.includes(scope.projectId)) {
        const { rows } = await this.pool.query<{ operator_id: string }>(
          `SELECT operator_id FROM dim_project WHERE project_id = $1
           UNION SELECT operator_id FROM rollup_day WHERE project_id = $1`,
          [scope.projectId],
        );
        if (rows.length === 0 || rows.some((r) => !tenancy.operatorIds.includes(r.operator_id))) forbidden();
      }
    }
    const conds: string[] = [];
    const params: unknown[] = [];
    const p = (v: unknown) => {
      params.push(v);
      return `$${firstParam + params.length - 1}`;
    };
    if (scope.operatorId) conds.push(`operator_id = ${p(scope.operatorId)}`);
    if (scope.projectId) conds.push(`project_id = ${p(scope.projectId)}`);
    const t = tenancyFilter(claims);
    if (!t.all)
      conds.push(
        `(operator_id = ANY(${p(t.operatorIds)}::text[]) OR project_id = ANY(${p(t.projectIds)}::text[]))`,
      );
    return { sql: conds.length ? conds.join(' AND ') : 'TRUE', params };
  }

  async dashboard(claims: CitybaseClaims, scope: Scope, now = new Date()): Promise<DashboardModel> {
    const since = new Date(Math.floor(now.getTime() / HOUR) * HOUR - 23 * HOUR);
    const w = await this.where(claims, scope, 2);
    const { rows } = await this.pool.query<{
      bucket: Date;
      metric: string;
      channel: string;
      kind: string;
      currency: string;
      total: string;
      events: string;
      last: Date;
    }>(
      `SELECT bucket, metric, channel, kind, currency, sum(total)::text AS total, sum(events)::text AS events,
              max(last_occurred_at) AS last
       FROM rollup_hour WHERE bucket >= $1 AND ${w.sql}
       GROUP BY bucket, metric, channel, kind, currency`,
      [since, ...w.params],
    );
    // escrow balance is all-time: from the daily rollups
    const w2 = await this.where(claims, scope, 1);
    const { rows: escrow } = await this.pool.query<{ metric: string; total: string; last: Date | null }>(
      `SELECT metric, sum(total)::text AS total, max(last_occurred_at) AS last FROM rollup_day
       WHERE metric IN ('escrow.escrowed', 'escrow.released', 'escrow.refunded') AND ${w2.sql}
       GROUP BY metric`,
      w2.params,
    );
    // GMV per project, named by identity's dimension (a project without one shows its id)
    const w3 = await this.where(claims, scope, 2);
    const { rows: projects } = await this.pool.query<{
      project_id: string;
      name: string | null;
      total: string;
      last: Date;
    }>(
      `SELECT x.project_id, (SELECT d.name FROM dim_project d WHERE d.project_id = x.project_id) AS name, x.total, x.last
       FROM (SELECT project_id, sum(total)::text AS total, max(last_occurred_at) AS last FROM rollup_hour
             WHERE bucket >= $1 AND metric = 'payment.succeeded' AND ${w3.sql} GROUP BY project_id) x
       ORDER BY x.total::bigint DESC, x.project_id LIMIT 24`,
      [since, ...w3.params],
    );
    // levels of iot (vehicles inside, alarms open, lots' capacity): all-time sums of counts, from the daily rollups
    const w4 = await this.where(claims, scope, 1);
    const { rows: levels } = await this.pool.query<{
      metric: string;
      events: string;
      total: string;
      last: Date | null;
    }>(
      `SELECT metric, sum(events)::text AS events, sum(total)::text AS total, max(last_occurred_at) AS last FROM rollup_day
       WHERE metric IN ('iot.parking_entry', 'iot.parking_exit', 'iot.parking_capacity', 'iot.alarm', 'iot.alarm_cleared')
         AND ${w4.sql}
       GROUP BY metric`,
      w4.params,
    );
    // the fleet and who is online now: iot's devices as dim_device keeps them
    const w5 = await this.where(claims, scope, 1);
    const { rows: fleet } = await this.pool.query<{ devices: string; online: string; last: Date | null }>(
      `SELECT count(*)::text AS devices, count(*) FILTER (WHERE online)::text AS online, max(last_occurred_at) AS last
       FROM dim_device WHERE NOT revoked AND ${w5.sql}`,
      w5.params,
    );
    const panels = buildPanels(rows, escrow, since, {
      levels,
      devices: BigInt(fleet[0]?.devices ?? 0),
      online: BigInt(fleet[0]?.online ?? 0),
      devicesLast: fleet[0]?.last ?? undefined,
    });
    panels.splice(2, 0, {
      panelId: 'projects',
      title: 'GMV by project',
      figures: projects.map((p) => ({
        name: `project:${p.project_id}`,
        label: p.name || p.project_id || '(no project)',
        unit: 'CNY',
        value: BigInt(p.total),
      })),
      series: [],
      lastOccurredAt: projects.reduce<Date | undefined>((a, p) => (!a || p.last > a ? p.last : a), undefined),
    });
    return { since, generatedAt: now, panels };
  }

  async sources(
    claims: CitybaseClaims,
    scope: Scope,
  ): Promise<(SourceState & { scopedLastOccurredAt?: Date })[]> {
    const w = await this.where(claims, scope, 1);
    const states = await this.freshness.states();
    const { rows } = await this.pool.query<{ source: string; last: Date }>(
      `SELECT split_part(metric, '.', 1) AS prefix, max(last_occurred_at) AS last FROM rollup_day WHERE ${w.sql} GROUP BY 1`,
      w.params,
    );
    const byPrefix = new Map(rows.map((r) => [(r as unknown as { prefix: string }).prefix, r.last]));
    const prefixes: Record<string, string[]> = {
      payment: ['payment', 'refund'],
      settlement: ['escrow', 'tax'],
      points: ['points'],
      marketing: ['coupon'],
      iot: ['iot'],
      identity: [],
    };
    const all = tenancyFilter(claims).all && !scope.operatorId && !scope.projectId;
    return states.map((s) => {
      const scoped = (prefixes[s.source] ?? [])
        .map((p) => byPrefix.get(p))
        .filter((d): d is Date => d !== undefined)
        .sort((a, b) => b.getTime() - a.getTime())[0];
      // identity's dimensions are not tenant rows: only the city admin sees their freshness
      return {
        ...s,
        lastOccurredAt: s.source === 'identity' ? (all ? s.lastOccurredAt : undefined) : scoped,
      };
    });
  }

  async rollups(
    claims: CitybaseClaims,
    req: {
      scope: Scope;
      metric: string;
      daily: boolean;
      from: Date;
      to: Date;
      page: { pageSize?: number; pageToken?: string } | undefined;
    },
  ): Promise<{ rows: RollupRowModel[]; nextPageToken: string }> {
    const page = parsePage(req.page, rollupsCursor, PAGE_LIMITS);
    const w = await this.where(claims, req.scope, 4);
    const params: unknown[] = [req.from, req.to, req.metric, ...w.params];
    let after = '';
    if (page.after) {
      const base = params.length;
      params.push(...page.after);
      after = `AND (bucket, operator_id, project_id, metric, channel, kind, currency) > (${page.after
        .map((_, i) => `$${base + i + 1}${i === 0 ? '::timestamptz' : ''}`)
        .join(', ')})`;
    }
    params.push(page.size + 1);
    const { rows } = await this.pool.query<{
      bucket: Date;
      bucket_key: string;
      operator_id: string;
      project_id: string;
      metric: string;
      channel: string;
      kind: string;
      currency: string;
      total: string;
      events: string;
    }>(
      `SELECT bucket, to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS bucket_key,
              operator_id, project_id, metric, channel, kind, currency, total::text, events::text
       FROM ${req.daily ? 'rollup_day' : 'rollup_hour'}
       WHERE bucket >= $1 AND bucket < $2 AND ($3 = '' OR metric = $3) AND ${w.sql} ${after}
       ORDER BY bucket, operator_id, project_id, metric, channel, kind, currency
       LIMIT $${params.length}`,
      params,
    );
    const more = rows.length > page.size;
    const shown = rows.slice(0, page.size);
    const last = shown[shown.length - 1];
    return {
      rows: shown.map((r) => ({
        bucket: r.bucket,
        operatorId: r.operator_id,
        projectId: r.project_id,
        metric: r.metric,
        channel: r.channel,
        kind: r.kind,
        currency: r.currency,
        total: BigInt(r.total),
        events: BigInt(r.events),
      })),
      nextPageToken:
        more && last
          ? rollupsCursor.encode([
              last.bucket_key,
              last.operator_id,
              last.project_id,
              last.metric,
              last.channel,
              last.kind,
              last.currency,
            ])
          : '',
    };
  }
}

function forbidden(): never {
  throw new DomainError(
    'permission_denied',
    'TENANCY_FORBIDDEN',
    'the resource lies outside the tenancy of this client',
  );
}

interface Row {
  bucket: Date;
  metric: string;
  channel: string;
  kind: string;
  currency: string;
  total: string;
  events: string;
  last: Date;
}

/** What each panel shows: the metrics behind it, the figures and the hourly series. */
const PANELS: {
  id: string;
  title: string;
  metrics: string[];
  figures: {
    name: string;
    label: string;
    metric: string;
    of: 'total' | 'events';
    unit: string;
    /** Only the rollup rows of these kinds (e.g. courier ENTRY). */
    kind?: (kind: string) => boolean;
  }[];
  series: { name: string; label: string; metric: string; of: 'total' | 'events'; unit: string }[];
  breakdown?: { metric: string; by: 'channel' | 'kind'; label: string; unit: string };
}[] = [
  {
    id: 'payments',
    title: 'Payments',
    metrics: ['payment.succeeded', 'payment.failed', 'payment.expired'],
    figures: [
      { name: 'gmv', label: 'GMV', metric: 'payment.succeeded', of: 'total', unit: 'CNY' },
      {
        name: 'payments',
        label: 'Payments succeeded',
        metric: 'payment.succeeded',
        of: 'events',
        unit: 'count',
      },
      { name: 'failed', label: 'Payments failed', metric: 'payment.failed', of: 'events', unit: 'count' },
    ],
    series: [{ name: 'gmv', label: 'GMV per hour', metric: 'payment.succeeded', of: 'total', unit: 'CNY' }],
  },
  {
    id: 'channels',
    title: 'Payments by channel and scenario',
    metrics: ['payment.succeeded'],
    figures: [],
    series: [],
  },
  {
    id: 'refunds',
    title: 'Refunds',
    metrics: ['refund.succeeded', 'refund.failed'],
    figures: [
      { name: 'refunded', label: 'Refunded', metric: 'refund.succeeded', of: 'total', unit: 'CNY' },
      { name: 'refunds', label: 'Refunds', metric: 'refund.succeeded', of: 'events', unit: 'count' },
      { name: 'failed', label: 'Refunds failed', metric: 'refund.failed', of: 'events', unit: 'count' },
    ],
    series: [
      { name: 'refunded', label: 'Refunded per hour', metric: 'refund.succeeded', of: 'total', unit: 'CNY' },
    ],
  },
  {
    id: 'escrow',
    title: 'Escrow',
    metrics: ['escrow.escrowed', 'escrow.released', 'escrow.refunded', 'escrow.disputed'],
    figures: [
      { name: 'escrowed', label: 'Escrowed', metric: 'escrow.escrowed', of: 'total', unit: 'CNY' },
      { name: 'released', label: 'Released', metric: 'escrow.released', of: 'total', unit: 'CNY' },
      { name: 'disputes', label: 'Disputes', metric: 'escrow.disputed', of: 'events', unit: 'count' },
    ],
    series: [
      { name: 'escrowed', label: 'Escrowed per hour', metric: 'escrow.escrowed', of: 'total', unit: 'CNY' },
    ],
  },
  {
    id: 'points',
    title: 'Points',
    metrics: ['points.earned', 'points.issued', 'points.redeemed', 'points.expired', 'points.reversed'],
    figures: [
      { name: 'earned', label: 'Points earned', metric: 'points.earned', of: 'total', unit: 'points' },
      { name: 'issued', label: 'Points issued', metric: 'points.issued', of: 'total', unit: 'points' },
      { name: 'redeemed', label: 'Points redeemed', metric: 'points.redeemed', of: 'total', unit: 'points' },
      { name: 'expired', label: 'Points expired', metric: 'points.expired', of: 'total', unit: 'points' },
    ],
    series: [
      { name: 'earned', label: 'Earned per hour', metric: 'points.earned', of: 'total', unit: 'points' },
      {
        name: 'redeemed',
        label: 'Redeemed per hour',
        metric: 'points.redeemed',
        of: 'total',
        unit: 'points',
      },
    ],
  },
  {
    id: 'coupons',
    title: 'Coupons',
    metrics: ['coupon.claimed', 'coupon.redeemed', 'coupon.released'],
    figures: [
      { name: 'claimed', label: 'Coupons claimed', metric: 'coupon.claimed', of: 'events', unit: 'count' },
      { name: 'redeemed', label: 'Coupons redeemed', metric: 'coupon.redeemed', of: 'events', unit: 'count' },
      { name: 'discount', label: 'Discount given', metric: 'coupon.redeemed', of: 'total', unit: 'CNY' },
    ],
    series: [
      { name: 'claimed', label: 'Claimed per hour', metric: 'coupon.claimed', of: 'events', unit: 'count' },
    ],
  },
  {
    id: 'tax',
    title: 'Tax records',
    metrics: ['tax.withheld', 'tax.turnover'],
    figures: [
      { name: 'turnover', label: 'Taxable turnover', metric: 'tax.turnover', of: 'total', unit: 'CNY' },
      { name: 'withheld', label: 'Tax withheld', metric: 'tax.withheld', of: 'total', unit: 'CNY' },
    ],
    series: [],
  },
  {
    id: 'iot',
    title: 'Devices and alarms',
    metrics: ['iot.device_registered', 'iot.presence', 'iot.alarm', 'iot.alarm_cleared', 'iot.command'],
    figures: [
      { name: 'alarms', label: 'Alarms raised', metric: 'iot.alarm', of: 'events', unit: 'count' },
      {
        name: 'commands',
        label: 'Commands completed (doors, gates, chargers)',
        metric: 'iot.command',
        of: 'events',
        unit: 'count',
      },
      {
        name: 'commands_failed',
        label: 'Commands not succeeded',
        metric: 'iot.command',
        of: 'events',
        unit: 'count',
        kind: (k) => !k.endsWith(':SUCCEEDED'),
      },
    ],
    series: [{ name: 'alarms', label: 'Alarms per hour', metric: 'iot.alarm', of: 'events', unit: 'count' }],
  },
  {
    id: 'parking',
    title: 'Parking',
    metrics: ['iot.parking_entry', 'iot.parking_exit', 'iot.parking_fee'],
    figures: [
      { name: 'entries', label: 'Entries', metric: 'iot.parking_entry', of: 'events', unit: 'count' },
      { name: 'exits', label: 'Exits', metric: 'iot.parking_exit', of: 'events', unit: 'count' },
      { name: 'fees', label: 'Parking fees', metric: 'iot.parking_fee', of: 'total', unit: 'CNY' },
    ],
    series: [
      {
        name: 'entries',
        label: 'Entries per hour',
        metric: 'iot.parking_entry',
        of: 'events',
        unit: 'count',
      },
    ],
  },
  {
    id: 'charging',
    title: 'EV charging',
    metrics: ['iot.charging_session', 'iot.charging_energy_wh', 'iot.charging_revenue'],
    figures: [
      {
        name: 'sessions',
        label: 'Sessions ended',
        metric: 'iot.charging_session',
        of: 'events',
        unit: 'count',
      },
      { name: 'energy', label: 'Energy charged', metric: 'iot.charging_energy_wh', of: 'total', unit: 'Wh' },
      {
        name: 'revenue',
        label: 'Charging revenue',
        metric: 'iot.charging_revenue',
        of: 'total',
        unit: 'CNY',
      },
    ],
    series: [
      { name: 'energy', label: 'Energy per hour', metric: 'iot.charging_energy_wh', of: 'total', unit: 'Wh' },
    ],
  },
  {
    id: 'access',
    title: 'Doors and couriers',
    metrics: ['iot.door_opened', 'iot.courier'],
    figures: [
      { name: 'doors', label: 'Door openings', metric: 'iot.door_opened', of: 'events', unit: 'count' },
      {
        name: 'residents',
        label: 'Opened for residents',
        metric: 'iot.door_opened',
        of: 'events',
        unit: 'count',
        kind: (k) => k === 'RESIDENT',
      },
      {
        name: 'courier_entries',
        label: 'Courier entries',
        metric: 'iot.courier',
        of: 'events',
        unit: 'count',
        kind: (k) => k === 'ENTRY',
      },
      {
        name: 'courier_exits',
        label: 'Courier exits',
        metric: 'iot.courier',
        of: 'events',
        unit: 'count',
        kind: (k) => k === 'EXIT',
      },
    ],
    series: [
      {
        name: 'doors',
        label: 'Door openings per hour',
        metric: 'iot.door_opened',
        of: 'events',
        unit: 'count',
      },
    ],
  },
  {
    id: 'telemetry',
    title: 'Device telemetry',
    metrics: ['iot.telemetry_messages', 'iot.telemetry_devices'],
    figures: [
      { name: 'messages', label: 'Messages', metric: 'iot.telemetry_messages', of: 'total', unit: 'count' },
    ],
    series: [
      {
        name: 'messages',
        label: 'Messages per hour',
        metric: 'iot.telemetry_messages',
        of: 'total',
        unit: 'count',
      },
      {
        name: 'devices',
        label: 'Devices reporting per hour',
        metric: 'iot.telemetry_devices',
        of: 'total',
        unit: 'count',
      },
    ],
  },
];

/** iot's levels: all-time counts from the daily rollups and the fleet from dim_device. */
interface IotLevels {
  levels: { metric: string; events: string; total: string; last: Date | null }[];
  devices: bigint;
  online: bigint;
  devicesLast: Date | undefined;
}

function buildPanels(
  rows: Row[],
  escrow: { metric: string; total: string; last: Date | null }[],
  since: Date,
  iot: IotLevels,
): PanelModel[] {
  const sum = (metric: string, of: 'total' | 'events', pick: (r: Row) => boolean = () => true) =>
    rows.filter((r) => r.metric === metric && pick(r)).reduce((s, r) => s + BigInt(r[of]), 0n);
  const hours = Array.from({ length: 24 }, (_, i) => new Date(since.getTime() + i * HOUR));
  return PANELS.map((p) => {
    const mine = rows.filter((r) => p.metrics.includes(r.metric));
    let last = mine.reduce<Date | undefined>((a, r) => (!a || r.last > a ? r.last : a), undefined);
    const figures: FigureModel[] = p.figures.map((f) => ({
      name: f.name,
      label: f.label,
      unit: f.unit,
      value: sum(f.metric, f.of, f.kind ? (r) => f.kind!(r.kind) : undefined),
    }));
    const allTime = (m: string) => BigInt(iot.levels.find((l) => l.metric === m)?.events ?? 0);
    const newest = (...ds: (Date | null | undefined)[]) =>
      ds.reduce<Date | undefined>((a, d) => (d && (!a || d > a) ? d : a), undefined);
    if (p.id === 'iot') {
      figures.unshift(
        { name: 'devices', label: 'Devices in service', unit: 'count', value: iot.devices },
        { name: 'online', label: 'Devices online now', unit: 'count', value: iot.online },
        {
          name: 'online_rate',
          label: 'Device online rate',
          unit: 'bp',
          value: iot.devices > 0n ? (iot.online * 10_000n) / iot.devices : 0n,
        },
        {
          name: 'alarms_open',
          label: 'Alarms open now',
          unit: 'count',
          value: allTime('iot.alarm') - allTime('iot.alarm_cleared'),
        },
      );
      last = newest(
        last,
        iot.devicesLast,
        ...iot.levels.filter((l) => l.metric.startsWith('iot.alarm')).map((l) => l.last),
      );
    }
    if (p.id === 'parking') {
      const inside = allTime('iot.parking_entry') - allTime('iot.parking_exit');
      const capacity = BigInt(iot.levels.find((l) => l.metric === 'iot.parking_capacity')?.total ?? 0);
      figures.unshift(
        { name: 'inside', label: 'Vehicles inside now', unit: 'count', value: inside },
        { name: 'capacity', label: 'Parking spaces', unit: 'count', value: capacity },
        {
          name: 'occupancy',
          label: 'Occupancy now',
          unit: 'bp',
          value: capacity > 0n ? (inside * 10_000n) / capacity : 0n,
        },
      );
      last = newest(last, ...iot.levels.filter((l) => l.metric.startsWith('iot.parking')).map((l) => l.last));
    }
    if (p.id === 'escrow') {
      const all = (m: string) => BigInt(escrow.find((e) => e.metric === m)?.total ?? 0);
      figures.unshift({
        name: 'balance',
        label: 'Held in escrow now',
        unit: 'CNY',
        value: all('escrow.escrowed') - all('escrow.released') - all('escrow.refunded'),
      });
    }
    if (p.id === 'channels') {
      const ok = rows.filter((r) => r.metric === 'payment.succeeded');
      for (const ch of [...new Set(ok.map((r) => r.channel))].sort())
        figures.push({
          name: `channel:${ch}`,
          label: `Channel ${ch || '(none)'}`,
          unit: 'CNY',
          value: sum('payment.succeeded', 'total', (r) => r.channel === ch),
        });
      for (const k of [...new Set(ok.map((r) => r.kind))].sort())
        figures.push({
          name: `scenario:${k}`,
          label: `Scenario ${k.toLowerCase().replace(/_/g, ' ')}`,
          unit: 'CNY',
          value: sum('payment.succeeded', 'total', (r) => r.kind === k),
        });
    }
    const series: SeriesModel[] = p.series.map((s) => ({
      name: s.name,
      label: s.label,
      unit: s.unit,
      points: hours.map((h) => ({
        bucket: h,
        value: sum(s.metric, s.of, (r) => r.bucket.getTime() === h.getTime()),
      })),
    }));
    return { panelId: p.id, title: p.title, figures, series, lastOccurredAt: last };
  });
}
