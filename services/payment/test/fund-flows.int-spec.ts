import {
  FundFlowDimension,
  FundFlowRow,
  PaymentScenario,
  PaymentStatus,
  QueryFundFlowsRequest,
  RefundStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { fromTimestamp } from '@citybase/platform';
import { uniqueName, waitFor } from '@citybase/platform/testing';
import {
  awaitStatus,
  cityDay,
  configureProject,
  ConfiguredChannel,
  errorField,
  grpcError,
  Harness,
  intentCounts,
  machineryFailures,
  paymentRequest,
  startHarness,
  status,
} from './intents-harness';

const {
  PAYMENT_SCENARIO_PARKING: PARKING,
  PAYMENT_SCENARIO_GOODS: GOODS,
  PAYMENT_SCENARIO_EV_CHARGING: EV,
} = PaymentScenario;
const D = FundFlowDimension;

/** One money movement the test made: what the fund flows must add up. */
interface Flow {
  operatorId: string;
  projectId: string;
  channelId: string;
  scenario: PaymentScenario;
  day: string;
  paid: bigint;
  refunded: bigint;
}

describe('payment: fund-flow supervision (QueryFundFlows)', () => {
  let h: Harness;
  let chA: ConfiguredChannel;
  let chB: ConfiguredChannel;
  const flows: Flow[] = [];
  const window = {
    fromDay: cityDay(new Date(Date.now() - 86_400_000)),
    toDay: cityDay(new Date(Date.now() + 86_400_000)),
  };

  const query = (over: Partial<QueryFundFlowsRequest> = {}): QueryFundFlowsRequest => ({
    operatorId: '',
    projectId: '',
    channelId: '',
    scenario: 0,
    groupBy: [],
    ...window,
    ...over,
  });

  beforeAll(async () => {
    h = await startHarness({ env: { PAYMENT_RECONCILE_INTERVAL_MS: '1000' }, sandboxes: 2 });
    [chA] = (await configureProject(h, { operatorId: 'op-1', projectId: 'proj-a' }, [
      { sandbox: h.sandboxes[0]! },
    ])) as [ConfiguredChannel];
    [chB] = (await configureProject(h, { operatorId: 'op-1', projectId: 'proj-b' }, [
      { sandbox: h.sandboxes[1]! },
    ])) as [ConfiguredChannel];
    // op-2's project uses channel A too (its own account there)
    await configureProject(h, { operatorId: 'op-2', projectId: 'proj-x' }, [
      { sandbox: h.sandboxes[0]!, channelId: chA.channelId },
    ]);
    const op2 = h.clientOf({ operators: ['op-2'] });

    const pay = async (
      client: typeof h.app,
      operatorId: string,
      projectId: string,
      scenario: PaymentScenario,
      amount: bigint,
      outcome: 'success' | 'fail' | 'none',
      refund = 0n,
    ) => {
      const { payment } = await client.createPayment(
        paymentRequest({
          tenancy: { operatorId, projectId, merchantId: '' },
          scenario,
          amount: { currency: 'CNY', amountMinor: amount },
        }),
      );
      const id = payment!.paymentId;
      const sandbox = payment!.channel === chB.channelId ? h.sandboxes[1]! : h.sandboxes[0]!;
      if (outcome === 'none') return;
      await sandbox.pay(id, outcome);
      if (outcome === 'fail') {
        await awaitStatus(client, id, PaymentStatus.PAYMENT_STATUS_FAILED);
        return;
      }
      const paid = await awaitStatus(client, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
      const base = { operatorId, projectId, channelId: payment!.channel, scenario };
      flows.push({ ...base, day: cityDay(fromTimestamp(paid.completedAt!)), paid: amount, refunded: 0n });
      if (refund > 0n) {
        const { refund: r } = await client.refundPayment({
          requestId: uniqueName('refund'),
          paymentId: id,
          amount: { currency: 'CNY', amountMinor: refund },
          reason: 'partial refund',
        });
        const done = await waitFor('refund succeeded', async () => {
          const got = (await client.getRefund({ refundId: r!.refundId })).refund!;
          return got.status === RefundStatus.REFUND_STATUS_SUCCEEDED ? got : undefined;
        });
        flows.push({ ...base, day: cityDay(fromTimestamp(done.completedAt!)), paid: 0n, refunded: refund });
      }
    };

    await pay(h.app, 'op-1', 'proj-a', PARKING, 1_000n, 'success');
    await pay(h.app, 'op-1', 'proj-a', GOODS, 2_000n, 'success', 500n);
    await pay(h.app, 'op-1', 'proj-a', PARKING, 3_000n, 'none'); // never paid: not a flow
    await pay(h.app, 'op-1', 'proj-b', EV, 4_000n, 'success');
    await pay(h.app, 'op-1', 'proj-b', EV, 8_000n, 'fail'); // declined: not a flow
    await pay(op2, 'op-2', 'proj-x', PARKING, 7_000n, 'success', 1_000n);
  });

  afterAll(async () => {
    await h?.stop();
  });

  /** The expected rows: flows within `visible`, grouped by `keys`. */
  function expected(visible: (f: Flow) => boolean, keys: (keyof Flow)[]): Partial<FundFlowRow>[] {
    const groups = new Map<string, Partial<FundFlowRow>>();
    for (const f of flows.filter(visible)) {
      const key = JSON.stringify(keys.map((k) => String(f[k])));
      const row = groups.get(key) ?? {
        day: keys.includes('day') ? f.day : '',
        operatorId: keys.includes('operatorId') ? f.operatorId : '',
        projectId: keys.includes('projectId') ? f.projectId : '',
        channelId: keys.includes('channelId') ? f.channelId : '',
        scenario: keys.includes('scenario') ? f.scenario : 0,
        currency: 'CNY',
        paidMinor: 0n,
        refundedMinor: 0n,
        netMinor: 0n,
        payments: 0n,
        refunds: 0n,
        // no checkouts in this suite (their parts: checkouts.int-spec.ts)
        checkouts: 0n,
        discountMinor: 0n,
        pointsValueMinor: 0n,
        points: 0n,
        refundedDiscountMinor: 0n,
        refundedPointsValueMinor: 0n,
        refundedPoints: 0n,
      };
      row.paidMinor! += f.paid;
      row.refundedMinor! += f.refunded;
      row.netMinor! += f.paid - f.refunded;
      row.payments! += f.paid > 0n ? 1n : 0n;
      row.refunds! += f.refunded > 0n ? 1n : 0n;
      groups.set(key, row);
    }
    return [...groups.values()];
  }

  const sortRows = (rows: Partial<FundFlowRow>[]) =>
    [...rows].sort((a, b) =>
      JSON.stringify([a.day, a.operatorId, a.projectId, a.channelId, a.scenario]).localeCompare(
        JSON.stringify([b.day, b.operatorId, b.projectId, b.channelId, b.scenario]),
      ),
    );

  const op1 = (f: Flow) => f.operatorId === 'op-1';

  it('one total row of what the operator was paid and refunded', async () => {
    const res = await h.app.queryFundFlows(query());
    const [total] = expected(op1, []);
    expect(res.rows).toEqual([total]);
    expect(res.total).toEqual(total);
    expect(total).toMatchObject({
      paidMinor: 7_000n,
      refundedMinor: 500n,
      netMinor: 6_500n,
      payments: 3n,
      refunds: 1n,
    });
  });

  it.each([
    ['project', [D.FUND_FLOW_DIMENSION_PROJECT], ['projectId']],
    ['channel', [D.FUND_FLOW_DIMENSION_CHANNEL], ['channelId']],
    ['scenario', [D.FUND_FLOW_DIMENSION_SCENARIO], ['scenario']],
    ['day', [D.FUND_FLOW_DIMENSION_DAY], ['day']],
    ['operator', [D.FUND_FLOW_DIMENSION_OPERATOR], ['operatorId']],
    [
      'project, channel, scenario and day',
      [
        D.FUND_FLOW_DIMENSION_PROJECT,
        D.FUND_FLOW_DIMENSION_CHANNEL,
        D.FUND_FLOW_DIMENSION_SCENARIO,
        D.FUND_FLOW_DIMENSION_DAY,
      ],
      ['projectId', 'channelId', 'scenario', 'day'],
    ],
  ] as [string, FundFlowDimension[], (keyof Flow)[]][])('grouped by %s', async (_n, groupBy, keys) => {
    const res = await h.app.queryFundFlows(query({ groupBy }));
    expect(sortRows(res.rows)).toEqual(sortRows(expected(op1, keys)));
    expect(res.total).toEqual(expected(op1, [])[0]);
  });

  it('filters by project, channel and scenario', async () => {
    const byProject = await h.app.queryFundFlows(query({ projectId: 'proj-a', scenario: GOODS }));
    expect(byProject.rows).toEqual(
      expected((f) => op1(f) && f.projectId === 'proj-a' && f.scenario === GOODS, []),
    );
    expect(byProject.total).toMatchObject({ paidMinor: 2_000n, refundedMinor: 500n, netMinor: 1_500n });
    const byChannel = await h.app.queryFundFlows(query({ channelId: chB.channelId }));
    expect(byChannel.total).toMatchObject({ paidMinor: 4_000n, refundedMinor: 0n, payments: 1n });
  });

  it('excludes other tenants: op-2 sees only its own, op-1 filtering on op-2 gets nothing, a project client its project', async () => {
    const op2 = await h
      .clientOf({ operators: ['op-2'] })
      .queryFundFlows(query({ groupBy: [D.FUND_FLOW_DIMENSION_PROJECT] }));
    expect(op2.rows).toEqual(expected((f) => f.operatorId === 'op-2', ['projectId']));
    expect(op2.total).toMatchObject({ paidMinor: 7_000n, refundedMinor: 1_000n });
    const spying = await h.app.queryFundFlows(query({ operatorId: 'op-2' }));
    expect(spying.rows).toEqual([]);
    expect(spying.total).toMatchObject({ paidMinor: 0n, refundedMinor: 0n, payments: 0n, refunds: 0n });
    const projectB = await h.clientOf({ projects: ['proj-b'] }).queryFundFlows(query());
    expect(projectB.total).toMatchObject({ paidMinor: 4_000n, payments: 1n });
    const nobody = await h.clientOf({}, ['payment:supervise']).queryFundFlows(query());
    expect(nobody.rows).toEqual([]);
  });

  it('the city administrator sees every operator', async () => {
    const res = await h.admin.queryFundFlows(query({ groupBy: [D.FUND_FLOW_DIMENSION_OPERATOR] }));
    expect(sortRows(res.rows)).toEqual(sortRows(expected(() => true, ['operatorId'])));
    expect(res.total).toMatchObject({
      paidMinor: 14_000n,
      refundedMinor: 1_500n,
      netMinor: 12_500n,
      payments: 4n,
      refunds: 2n,
    });
  });

  it('counts by the day in UTC+8: a window of other days is empty', async () => {
    const res = await h.app.queryFundFlows(
      query({
        fromDay: cityDay(new Date(Date.now() - 30 * 86_400_000)),
        toDay: cityDay(new Date(Date.now() - 2 * 86_400_000)),
      }),
    );
    expect(res.rows).toEqual([]);
    expect(res.total).toMatchObject({ paidMinor: 0n, payments: 0n });
  });

  it('counts a payment by the day it succeeded in UTC+8, not in UTC', async () => {
    const { rows } = await h.pg.query<{ payment_id: string }>(
      `SELECT payment_id FROM payments WHERE status = 3 AND project_id = 'proj-b' LIMIT 1`,
    );
    const id = rows[0]!.payment_id;
    // 2025-03-01 17:30 UTC is 2025-03-02 01:30 in the city
    await h.pg.query(`UPDATE payments SET completed_at = '2025-03-01T17:30:00Z' WHERE payment_id = $1`, [id]);
    try {
      const march1 = await h.app.queryFundFlows(query({ fromDay: '2025-03-01', toDay: '2025-03-01' }));
      expect(march1.rows).toEqual([]);
      const march2 = await h.app.queryFundFlows(
        query({ fromDay: '2025-03-02', toDay: '2025-03-02', groupBy: [D.FUND_FLOW_DIMENSION_DAY] }),
      );
      expect(march2.rows).toEqual([
        expect.objectContaining({ day: '2025-03-02', paidMinor: 4_000n, payments: 1n }),
      ]);
    } finally {
      await h.pg.query(`UPDATE payments SET completed_at = now() WHERE payment_id = $1`, [id]);
    }
  });

  it.each([
    ['missing from_day', { fromDay: '' }, 'from_day: is required'],
    ['malformed from_day', { fromDay: '2025/01/01' }, 'from_day: must be a calendar day YYYY-MM-DD'],
    [
      'impossible to_day',
      { fromDay: '2025-02-01', toDay: '2025-02-30' },
      'to_day: must be a calendar day YYYY-MM-DD',
    ],
    [
      'to_day before from_day',
      { fromDay: '2025-02-02', toDay: '2025-02-01' },
      'to_day: must not be before from_day',
    ],
    [
      'more than 366 days',
      { fromDay: '2024-01-01', toDay: '2025-01-02' },
      'to_day: must be at most 366 days after from_day',
    ],
    ['unknown group_by', { groupBy: [42 as FundFlowDimension] }, 'group_by: unknown value 42'],
    ['unspecified group_by', { groupBy: [D.FUND_FLOW_DIMENSION_UNSPECIFIED] }, 'group_by: is required'],
    [
      'repeated group_by',
      { groupBy: [D.FUND_FLOW_DIMENSION_DAY, D.FUND_FLOW_DIMENSION_DAY] },
      'group_by: must not repeat a dimension',
    ],
    ['unknown scenario', { scenario: 77 as PaymentScenario }, 'scenario: unknown value 77'],
    [
      'malformed operator_id',
      { operatorId: 'op 1' },
      'operator_id: must be 1-64 letters, digits, dots, dashes, colons or underscores',
    ],
    [
      'malformed channel_id',
      { channelId: 'Chan_1' },
      'channel_id: must be 1-40 lowercase letters, digits or dashes',
    ],
  ] as [string, Partial<QueryFundFlowsRequest>, string][])(
    'rejects %s with INVALID_ARGUMENT naming the field',
    async (_n, over, message) => {
      const before = await intentCounts(h.pg);
      const err = await grpcError(h.app.queryFundFlows(query(over)));
      expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, details: message });
      expect(errorField(err)).toBe(message.split(':')[0]);
      expect(await intentCounts(h.pg)).toEqual(before);
    },
  );

  it('366 days apart is allowed', async () => {
    await expect(
      h.app.queryFundFlows(query({ fromDay: '2024-01-01', toDay: '2025-01-01' })),
    ).resolves.toBeDefined();
  });

  it('needs scope payment:supervise', async () => {
    const err = await grpcError(
      h.clientOf({ operators: ['op-1'] }, ['payment:read']).queryFundFlows(query()),
    );
    expect(err).toMatchObject({
      code: status.PERMISSION_DENIED,
      details: 'the token lacks scope payment:supervise',
    });
  });

  it('logged no failure of its own machinery', () => {
    expect(machineryFailures(h.svc.output())).toEqual([]);
  });
});
