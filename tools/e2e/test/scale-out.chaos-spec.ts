import { randomUUID } from 'node:crypto';
import type { Admin } from 'kafkajs';
import { Client } from 'pg';
import { CITY_ADMIN_SCOPE, cityPeriod, createKafka } from '@citybase/platform';
import {
  grpcClient,
  kafkaTestPrefix,
  routeProjectToSandbox,
  SandboxChannelProcess,
  spawnSandboxChannel,
  TestIssuer,
  waitFor,
} from '@citybase/platform/testing';
import { PaymentScenario, PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { PointsServiceService } from '@citybase/contracts/citybase/points/v1/points';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import { callWhileRestarting, KafkaCluster, ServiceFleet, settlementLedgerCheck } from '../src';

const SERVICES = ['identity', 'payment', 'settlement', 'points', 'marketing', 'iot', 'data'] as const;
const REPLICAS = 2;
/** Payments acknowledged before the first kill, and after the last restart before the load stops. */
const BEFORE_CHAOS = 100;
const AFTER_CHAOS = 100;
const POINTS_EACH = 10n;
const POINT_VALUE_MINOR = 2n;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Messages each consumer group of the namespace is behind, over the partitions of the topics it consumes. */
async function consumerLag(admin: Admin, prefix: string): Promise<Map<string, number>> {
  const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  const ends = new Map<string, Map<number, { high: number; low: number }>>();
  for (const topic of topics)
    ends.set(
      topic,
      new Map(
        (await admin.fetchTopicOffsets(topic)).map((o) => [
          o.partition,
          { high: Number(o.high), low: Number(o.low) },
        ]),
      ),
    );
  const lag = new Map<string, number>();
  for (const groupId of groups) {
    let behind = 0;
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId, topics })) {
      // a topic the group never committed on is one it does not consume
      if (partitions.every((p) => Number(p.offset) < 0)) continue;
      for (const p of partitions) {
        const end = ends.get(topic)!.get(p.partition)!;
        behind += end.high - (Number(p.offset) < 0 ? end.low : Number(p.offset));
      }
    }
    lag.set(groupId, behind);
  }
  return lag;
}

/**
 * Scale-out on one machine as on many: a 3-node Kafka cluster (KRaft, replication factor 3, min
 * in-sync replicas 2; deploy/local/kafka.sh cluster) and two processes of each of the seven
 * services on their own ports, each pair on one database and in the same consumer groups. While
 * payments (paid through the sandbox channel, held in settlement's escrow, stored by data) and
 * points issuances (posted as liability by settlement, stored by data) are made against both
 * replicas, the Kafka node leading most partitions is SIGKILLed and restarted, then one replica of
 * every service (all seven at once). Clients retry failed calls with the same request id, as an
 * app would. Afterwards every acknowledged operation exists exactly once, was applied once
 * downstream, the books balance, the ledger check passes and every consumer group's lag returns
 * to zero (the time that takes, from the end of the load, is printed with the other figures).
 */
describe('scale-out: 3 Kafka brokers and 2 replicas of each service, SIGKILLs under load', () => {
  const cluster = new KafkaCluster(Number(process.env.SCALEOUT_KAFKA_BASE_PORT ?? 19192));
  const prefix = kafkaTestPrefix('scaleout');
  const operatorId = 'op-scale';
  const projectId = 'proj-scale';
  let issuer: TestIssuer | undefined;
  let sandbox: SandboxChannelProcess | undefined;
  let fleet: ServiceFleet | undefined;
  let admin: Admin | undefined;
  const pg = new Map<string, Client>();

  const count = async (service: string, sql: string, params: unknown[] = []) =>
    (await pg.get(service)!.query<{ n: number }>(sql, params)).rows[0]!.n;

  beforeAll(async () => {
    await cluster.destroy(); // what a failed earlier run left
    await cluster.start();
    admin = createKafka({ clientId: 'scale-out-test', brokers: cluster.brokers.split(',') }).admin();
    await admin.connect();
    issuer = await TestIssuer.start();
    sandbox = await spawnSandboxChannel({ autoPay: 'success', autoPayDelayMs: 20, notifyDelayMs: 10 });
    fleet = new ServiceFleet({
      label: 'scaleout',
      issuer,
      kafkaPrefix: () => prefix,
      logLevel: 'warn',
      replicas: REPLICAS,
      readyTimeoutMs: 240_000, // fourteen processes starting on a shared machine
      env: () => ({
        KAFKA_BROKERS: cluster.brokers,
        // a killed member holds its partitions until its session times out: keep that short here
        KAFKA_SESSION_TIMEOUT_MS: '6000',
        // fourteen processes on one PostgreSQL (max_connections 100 by default): 4 each, not 10
        DATABASE_POOL_SIZE: '4',
        PAYMENT_RECONCILE_INTERVAL_MS: '1000',
        PAYMENT_CHANNEL_TIMEOUT_MS: '3000',
      }),
    });
    await fleet.start(SERVICES);
    for (const name of SERVICES) {
      const client = new Client({ connectionString: fleet.dbs.get(name)!.url });
      await client.connect();
      pg.set(name, client);
    }
    await routeProjectToSandbox({
      paymentAddress: fleet.address('payment'),
      issuer,
      sandbox,
      operatorId,
      projectId,
    });
    // points: a programme (a point is worth 2 fen) and budgets for the issuances
    const city = grpcClient(PointsServiceService, fleet.address('points'), () =>
      issuer!.metadata({ scopes: ['points:read', 'points:configure', 'points:budget', CITY_ADMIN_SCOPE] }),
    );
    try {
      const tenancy = { operatorId, projectId: '', merchantId: '' };
      await city.setProgramme({
        requestId: randomUUID(),
        programme: {
          tenancy,
          pointValue: { currency: 'CNY', amountMinor: POINT_VALUE_MINOR },
          lotLifetimeDays: 365,
          refundWindowHours: 0,
          shortfallPolicy: 1,
          expiryNoticeDays: 0,
          tiers: [],
          tierWindowDays: 365,
          updatedAt: undefined,
        },
      });
      const period = cityPeriod(new Date());
      const allotted = 10_000_000n;
      await city.setBudget({
        requestId: randomUUID(),
        tenancy: { ...tenancy, operatorId: '' },
        period,
        allotted,
      });
      await city.setBudget({ requestId: randomUUID(), tenancy, period, allotted });
    } finally {
      city.close();
    }
  }, 600_000);

  afterAll(async () => {
    for (const client of pg.values()) await client.end().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    await fleet?.stop().catch(() => undefined);
    await sandbox?.stop().catch(() => undefined);
    await issuer?.stop().catch(() => undefined);
    await cluster.destroy().catch(() => undefined);
  }, 120_000);

  it('loses nothing acknowledged, applies nothing twice, balances the books and catches up', async () => {
    const f = fleet!;
    // each call goes to the next replica; a call that fails is made again on the next one
    let turn = 0;
    const nextReplica = (name: string) => {
      const replicas = f.replicas(name);
      return replicas[turn++ % replicas.length]!.grpcAddress;
    };
    const payments = () =>
      grpcClient(PaymentServiceService, nextReplica('payment'), () =>
        issuer!.metadata({
          scopes: ['payment:write', 'payment:read'],
          operators: [operatorId],
          sub: 'scale-app',
        }),
      );
    const points = () =>
      grpcClient(PointsServiceService, nextReplica('points'), () =>
        issuer!.metadata({
          scopes: ['points:read', 'points:write', 'points:issue'],
          operators: [operatorId],
          sub: 'scale-points',
        }),
      );
    const paid = new Map<string, bigint>(); // acknowledged payment id -> amount
    const lots = new Set<string>(); // acknowledged lot ids
    let retries = 0;
    let paymentAcks = 0; // answers to distinct requests: each must name a payment of its own
    let issueAcks = 0;
    let loadOn = true;
    const kills: string[] = [];
    /** Payments acknowledged during each kill, from the SIGKILL until the process was ready again. */
    const duringKills: number[] = [];

    // the load runs until the chaos is over and AFTER_CHAOS more payments were acknowledged
    const paymentWorker = async (next: { i: number }) => {
      while (loadOn) {
        const i = next.i++;
        const amount = BigInt(100 + i);
        const reply = await callWhileRestarting(
          payments,
          (c) =>
            c.createPayment({
              requestId: `scale-pay-${i}-${prefix}`,
              tenancy: { operatorId, projectId, merchantId: '' },
              merchantId: 'm-scale',
              scenario: PaymentScenario.PAYMENT_SCENARIO_PARKING,
              amount: { currency: 'CNY', amountMinor: amount },
              payerRef: `plate-${i}`,
              description: 'scale-out',
              expiresInSeconds: 0,
              profitSharing: false,
            }),
          { onRetry: () => (retries += 1) },
        );
        paid.set(reply.payment!.paymentId, amount);
        paymentAcks += 1;
        await sleep(20);
      }
    };
    const issueWorker = async (next: { i: number }) => {
      while (loadOn) {
        const i = next.i++;
        const reply = await callWhileRestarting(
          points,
          (c) =>
            c.issuePoints({
              requestId: `scale-issue-${i}-${prefix}`,
              tenancy: { operatorId, projectId: '', merchantId: '' },
              holderId: `resident-${i % 50}`,
              points: POINTS_EACH,
              reason: 'WELCOME',
              expiresAt: undefined,
            }),
          { onRetry: () => (retries += 1) },
        );
        lots.add(reply.lotId);
        issueAcks += 1;
        await sleep(60);
      }
    };
    const acknowledged = () => paid.size;
    const chaos = async () => {
      try {
        await waitFor(
          'the first payments',
          async () => acknowledged() >= BEFORE_CHAOS || undefined,
          300_000,
          50,
        );
        // the node leading most of the city's partitions dies, the rest runs on two for a while
        const { topics } = await admin!.fetchTopicMetadata({
          topics: (await admin!.listTopics()).filter((t) => t.startsWith(prefix)),
        });
        const leads = new Map<number, number>();
        for (const t of topics)
          for (const p of t.partitions) leads.set(p.leader, (leads.get(p.leader) ?? 0) + 1);
        const node = [...leads].sort((x, y) => y[1] - x[1])[0]?.[0] ?? 1;
        let from = acknowledged();
        await cluster.kill(node);
        kills.push(`kafka node ${node} (leader of ${leads.get(node) ?? 0} partitions) at payment ${from}`);
        await sleep(5_000);
        await cluster.startNode(node);
        duringKills.push(acknowledged() - from);
        // then one replica of every service, all at once
        from = acknowledged();
        await Promise.all(SERVICES.map((name) => f.killAndRestart(name, 1)));
        kills.push(...SERVICES.map((name) => `${name} replica 1 at payment ${from}`));
        duringKills.push(acknowledged() - from);
        const restarted = acknowledged();
        await waitFor(
          'more payments after the restarts',
          async () => acknowledged() >= restarted + AFTER_CHAOS || undefined,
          300_000,
          50,
        );
      } finally {
        loadOn = false;
      }
    };

    const started = Date.now();
    const payNext = { i: 0 };
    const issueNext = { i: 0 };
    await Promise.all([
      ...Array.from({ length: 6 }, () => paymentWorker(payNext)),
      ...Array.from({ length: 3 }, () => issueWorker(issueNext)),
      chaos(),
    ]);
    const loadEnded = Date.now();
    const PAYMENTS = paid.size;
    const ISSUES = lots.size;
    expect(kills).toHaveLength(1 + SERVICES.length);
    // the kills happened under load: payments were acknowledged while each was down
    expect(duringKills.filter((n) => n === 0)).toEqual([]);
    expect(await cluster.running()).toEqual([1, 2, 3]);

    // every outbox published and every consumer group at the end of its topics
    await waitFor(
      'every outbox published and every consumer lag 0',
      async () => {
        for (const name of SERVICES)
          if ((await count(name, 'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')) > 0)
            return undefined;
        const payingOrPaid = await count(
          'payment',
          'SELECT count(*)::int AS n FROM payments WHERE status NOT IN (3, 4, 5)',
        );
        if (payingOrPaid > 0) return undefined;
        const lag = await consumerLag(admin!, prefix);
        return lag.size > 0 && [...lag.values()].every((n) => n === 0) ? lag : undefined;
      },
      300_000,
      500,
    );
    const recoveredMs = Date.now() - loadEnded;
    await sleep(3_000); // a double application would show up now
    const lag = await consumerLag(admin!, prefix);
    expect([...lag].filter(([, n]) => n !== 0)).toEqual([]);

    // payment: every acknowledged payment once, paid, with one PaymentCreated and one PaymentSucceeded
    expect(paymentAcks).toBe(PAYMENTS);
    const { rows: paymentRows } = await pg
      .get('payment')!
      .query<{ payment_id: string; status: number; amount_minor: string }>(
        'SELECT payment_id, status, amount_minor::text FROM payments',
      );
    expect(paymentRows).toHaveLength(PAYMENTS);
    expect(new Set(paymentRows.map((p) => p.payment_id))).toEqual(new Set(paid.keys()));
    expect(paymentRows.filter((p) => p.status !== 3)).toEqual([]);
    const events = await pg
      .get('payment')!
      .query<{ event_type: string; n: number; keys: number }>(
        `SELECT event_type, count(*)::int AS n, count(DISTINCT partition_key)::int AS keys FROM outbox GROUP BY 1`,
      );
    const byType = new Map(events.rows.map((e) => [e.event_type.split('.').pop(), e]));
    expect(byType.get('PaymentCreated')).toMatchObject({ n: PAYMENTS, keys: PAYMENTS });
    expect(byType.get('PaymentSucceeded')).toMatchObject({ n: PAYMENTS, keys: PAYMENTS });

    // settlement: each paid order held in escrow once, the escrow account holding exactly what was paid
    const total = [...paid.values()].reduce((a, b) => a + b, 0n);
    const { rows: orders } = await pg
      .get('settlement')!
      .query<{ order_id: string; paid_minor: string }>(
        'SELECT order_id, paid_minor::text FROM escrow_orders',
      );
    expect(orders).toHaveLength(PAYMENTS);
    expect(new Set(orders.map((o) => o.order_id))).toEqual(new Set(paid.keys()));
    expect(orders.filter((o) => BigInt(o.paid_minor) !== paid.get(o.order_id))).toEqual([]);
    const balance = async (kind: AccountKind, project: string) => {
      const { rows } = await pg.get('settlement')!.query<{ balance: string; postings: number }>(
        `SELECT coalesce(sum(e.amount_minor), 0)::text AS balance, count(*)::int AS postings
           FROM ledger_accounts a JOIN ledger_entries e USING (account_id)
          WHERE a.kind = $1 AND a.operator_id = $2 AND a.project_id = $3`,
        [kind, operatorId, project],
      );
      return { balance: BigInt(rows[0]!.balance), postings: rows[0]!.postings };
    };
    expect(await balance(AccountKind.ACCOUNT_KIND_ESCROW, projectId)).toEqual({
      balance: -total,
      postings: PAYMENTS,
    });

    // points: every acknowledged issuance once; settlement posted the liability once each
    expect(issueAcks).toBe(ISSUES);
    const { rows: lotRows } = await pg.get('points')!.query<{ lot_id: string }>('SELECT lot_id FROM lots');
    expect(new Set(lotRows.map((l) => l.lot_id))).toEqual(lots);
    expect(lotRows).toHaveLength(ISSUES);
    const issuedValue = BigInt(ISSUES) * POINTS_EACH * POINT_VALUE_MINOR;
    expect((await balance(AccountKind.ACCOUNT_KIND_POINTS_LIABILITY, '')).balance).toBe(-issuedValue);

    // data: each payment and each issuance stored once
    expect(
      await count(
        'data',
        `SELECT count(DISTINCT payment_id)::int AS n FROM fact_payment WHERE status = 'succeeded'`,
      ),
    ).toBe(PAYMENTS);
    expect(
      await count('data', `SELECT count(*)::int AS n FROM fact_payment WHERE status = 'succeeded'`),
    ).toBe(PAYMENTS);
    const { rows: issued } = await pg
      .get('data')!
      .query<{ n: number; points: string }>(
        `SELECT count(*)::int AS n, coalesce(sum(points), 0)::text AS points FROM fact_points_movement WHERE kind = 'issued'`,
      );
    expect(issued[0]).toEqual({ n: ISSUES, points: String(BigInt(ISSUES) * POINTS_EACH) });

    // the books: settlement's ledger check
    const ledger = settlementLedgerCheck(f.dbs.get('settlement')!.url);
    expect(ledger.violations).toEqual([]);
    expect(ledger.status).toBe(0);

    let eventCount = 0;
    for (const name of SERVICES) eventCount += await count(name, 'SELECT count(*)::int AS n FROM outbox');
    const figures = {
      brokers: 3,
      replicas_per_service: REPLICAS,
      events: eventCount,
      payments: paid.size,
      payments_during_kills: duringKills,
      points_issuances: lots.size,
      kills: kills.length,
      killed: kills,
      client_retries: retries,
      load_seconds: Math.round((loadEnded - started) / 1000),
      lag_recovery_ms: recoveredMs,
      consumer_groups: lag.size,
    };
    console.log(`scale-out figures ${JSON.stringify(figures)}`);
  }, 900_000);
});
