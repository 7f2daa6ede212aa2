import * as grpc from '@grpc/grpc-js';
import { createLogger, toTimestamp } from '@citybase/platform';
import { errorField, grpcError, uniqueName, waitFor } from '@citybase/platform/testing';
import { Granularity } from '@citybase/contracts/citybase/data/v1/analytics';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { FundingSource, RedemptionStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { AlarmSeverity, AlarmStatus } from '@citybase/contracts/citybase/iot/v1/iot';
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
         count(*), count(*) FROM fact_iot_event GROUP BY 1, 2, 3, 4, 5, 6, 7`;

async function rollupsEqualFacts(h: DataHarness): Promise<void> {
  for (const unit of ['hour', 'day'] as const) {
    const { rows } = await h.pool.query<{ side: string; n: number }>(
      `WITH f AS (${FACT_ROLLUPS(unit)}),
            r AS (SELECT bucket, operator_id, project_id, metric, channel, kind, currency, total, events FROM rollup_${unit})
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
