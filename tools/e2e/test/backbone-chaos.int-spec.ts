import { Client } from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import { createPool, enqueue, platformMigrations, runMigrations, withTransaction } from '@citybase/platform';
import { PaymentEvents } from '@citybase/contracts/events';
import { PaymentScenario, PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import { AccountKind } from '@citybase/contracts/citybase/settlement/v1/settlement';
import {
  createTestDatabase,
  grpcClient,
  kafkaTestPrefix,
  routeProjectToSandbox,
  ServiceProcess,
  spawnSandboxChannel,
  spawnService,
  TestDatabase,
  testEndpoints,
  TestIssuer,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { PrivateKafkaBroker } from '../src';

/**
 * The backbone under faults, with the real services as processes: payment's relay publishes
 * PaymentSucceeded, settlement's escrow consumer (settlement.escrow) holds each paid order in
 * escrow with its ledger posting. Afterwards every event's effect must be present exactly once.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function count(pg: Client, sql: string): Promise<number> {
  return (await pg.query<{ n: number }>(sql)).rows[0].n;
}

/** Writes n PaymentSucceeded events straight into payment's outbox, as committed payments would. */
async function seedOutbox(url: string, prefix: string, n: number): Promise<string[]> {
  const pool = createPool(url, { max: 4 });
  const ids: string[] = [];
  try {
    await runMigrations(pool, [platformMigrations]);
    for (let i = 0; i < n; i += 500) {
      await withTransaction(pool, async (client) => {
        for (let j = i; j < Math.min(i + 500, n); j++) {
          const id = `00000000-0000-4000-8000-${String(j).padStart(12, '0')}`;
          ids.push(id);
          await enqueue(
            client,
            { city: 'e2e', service: 'payment', topicPrefix: prefix },
            PaymentEvents.PaymentSucceeded,
            {
              paymentId: id,
              tenancy: { operatorId: 'op', projectId: 'proj', merchantId: 'm' },
              merchantId: 'm',
              scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
              amount: { currency: 'CNY', amountMinor: BigInt(j + 1) },
              channel: 'sandbox',
              // paid now: the auto-confirm deadline (days away) must not complete orders during the test
              occurredAt: { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 },
              channelTransactionId: `tx-${j}`,
              profitSharing: false,
              payerRef: `payer-${j}`,
              checkoutId: '',
            },
            { key: id },
          );
        }
      });
    }
  } finally {
    await pool.end();
  }
  return ids;
}

describe('event backbone under faults (payment relay -> Kafka -> settlement escrow inbox)', () => {
  let paymentDb: TestDatabase;
  let settlementDb: TestDatabase;
  let pgPayment: Client;
  let pgSettlement: Client;
  let issuer: TestIssuer;

  beforeAll(async () => {
    issuer = await TestIssuer.start();
  });
  afterAll(async () => {
    await issuer?.stop();
  });
  const running: ServiceProcess[] = [];

  beforeEach(async () => {
    paymentDb = await createTestDatabase('e2e_payment');
    settlementDb = await createTestDatabase('e2e_settlement');
    pgPayment = new Client({ connectionString: paymentDb.url });
    pgSettlement = new Client({ connectionString: settlementDb.url });
    await pgPayment.connect();
    await pgSettlement.connect();
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop('SIGKILL')));
    await pgPayment.end();
    await pgSettlement.end();
    await paymentDb.drop();
    await settlementDb.drop();
  });

  const start = async (
    name: 'payment' | 'settlement',
    prefix: string,
    extra: Record<string, string> = {},
    awaitReady = true,
  ) => {
    const svc = await spawnService(name, {
      DATABASE_URL: name === 'payment' ? paymentDb.url : settlementDb.url,
      KAFKA_TOPIC_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      AUTH_JWKS_URL: issuer.jwksUrl,
      ...extra,
    });
    running.push(svc);
    if (awaitReady) await svc.ready();
    return svc;
  };
  const kill = async (svc: ServiceProcess) => {
    await svc.stop('SIGKILL');
    running.splice(running.indexOf(svc), 1);
  };

  it('loses nothing when the relay is SIGKILLed mid-batch and restarted', async () => {
    const prefix = kafkaTestPrefix('relaykill');
    const ids = await seedOutbox(paymentDb.url, prefix, 10_000);
    // watched from the moment the process starts: the relay (batches of 1,000) may publish all
    // 10,000 in the time a readiness check takes
    let payment = await start('payment', prefix, {}, false);
    await waitFor(
      'relay mid-run',
      async () => {
        const n = await count(
          pgPayment,
          'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NOT NULL',
        );
        if (n === ids.length) throw new Error('the relay published everything before it could be killed');
        return n > 0 ? true : undefined;
      },
      60_000,
      5,
    );
    await kill(payment);
    const publishedAtKill = await count(
      pgPayment,
      'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NOT NULL',
    );
    expect(publishedAtKill).toBeLessThan(ids.length);
    payment = await start('payment', prefix);
    await waitFor(
      'outbox drained',
      async () =>
        (await count(pgPayment, 'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')) === 0
          ? true
          : undefined,
      120_000,
      200,
    );

    // every event is on the topic (at least once; a batch in flight at the kill may appear twice)
    const kafka = new Kafka({
      clientId: 'observer',
      brokers: testEndpoints.kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    });
    const seen = new Map<string, number>();
    const consumer = kafka.consumer({ groupId: uniqueName(`${prefix}observer`) });
    await consumer.connect();
    await consumer.subscribe({ topic: `${prefix}citybase.payment.events.v1`, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) =>
        void seen.set(message.key!.toString(), (seen.get(message.key!.toString()) ?? 0) + 1),
    });
    await waitFor(
      'all 10,000 on the topic',
      async () => (ids.every((id) => seen.has(id)) ? true : undefined),
      120_000,
      200,
    );
    await consumer.disconnect();
    expect(ids.filter((id) => !seen.has(id))).toEqual([]);
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    console.log(
      `relay SIGKILL: ${publishedAtKill} of 10,000 marked published at the kill; ${duplicates} republished after restart`,
    );
  }, 300_000);

  // 4,000 events (10,000 until 2026-12-07): the same four kills; this suite is the longest of the
  // integration tier, which bounds `npm test`'s time (alone: 75 s with 10,000, 61 s with 4,000)
  it('applies each of 4,000 events exactly once while the consumer is SIGKILLed four times', async () => {
    const prefix = kafkaTestPrefix('consumerkill');
    const ids = await seedOutbox(paymentDb.url, prefix, 4_000);
    await start('payment', prefix);
    // a killed member holds its partitions until its session times out: keep that short here
    const fast = { KAFKA_SESSION_TIMEOUT_MS: '6000' };
    let settlement = await start('settlement', prefix, fast);
    const recorded = () => count(pgSettlement, 'SELECT count(*)::int AS n FROM escrow_orders');
    const kills: number[] = [];
    for (const threshold of [600, 1_600, 2_600, 3_400]) {
      // escrow posts to the ledger for every event: on a loaded 2-core machine this takes a while
      await waitFor(
        `${threshold} recorded`,
        async () => ((await recorded()) >= threshold ? true : undefined),
        300_000,
        20,
      );
      await kill(settlement);
      kills.push(await recorded());
      settlement = await start('settlement', prefix, fast);
    }
    await waitFor(
      'all 4,000 recorded',
      async () => ((await recorded()) >= ids.length ? true : undefined),
      300_000,
      200,
    );
    await sleep(2_000); // a double application would show up now
    expect(kills.every((n) => n < ids.length)).toBe(true);
    expect(await recorded()).toBe(ids.length);
    expect(
      await count(pgSettlement, `SELECT count(*)::int AS n FROM inbox WHERE consumer = 'settlement.escrow'`),
    ).toBe(ids.length);
    const { rows } = await pgSettlement.query<{ sum: string }>(
      'SELECT sum(paid_minor)::text AS sum FROM escrow_orders',
    );
    const paid = (BigInt(ids.length) * BigInt(ids.length + 1)) / 2n;
    expect(BigInt(rows[0].sum)).toBe(paid);
    // and the books: the project's escrow account holds exactly what was paid, posted once each
    const escrow = await pgSettlement.query<{ balance: string; postings: number }>(
      `SELECT (SELECT sum(e.amount_minor) FROM ledger_entries e WHERE e.account_id = a.account_id)::text AS balance,
              (SELECT count(*)::int FROM ledger_entries e WHERE e.account_id = a.account_id) AS postings
         FROM ledger_accounts a WHERE a.kind = $1 AND a.project_id = 'proj'`,
      [AccountKind.ACCOUNT_KIND_ESCROW],
    );
    expect(escrow.rows).toHaveLength(1);
    expect(escrow.rows[0].postings).toBe(ids.length);
    expect(BigInt(escrow.rows[0].balance) * -1n).toBe(paid);
    const metrics = await (await fetch(`${settlement.httpUrl}/metrics`)).text();
    expect(metrics).not.toMatch(/events_dead_lettered_total\{[^}]*\} [1-9]/);
    // the last settlement process applied the rest, and reports lag per partition
    expect(metrics).toMatch(
      /events_consumed_total\{[^}]*consumer="settlement.escrow"[^}]*outcome="applied"[^}]*\} [1-9]/,
    );
    expect(metrics).toMatch(/consumer_lag\{[^}]*consumer="settlement.escrow"[^}]*partition="\d"[^}]*\} \d+/);
    console.log(`consumer SIGKILLs at ${kills.join(', ')} orders in escrow; final 4,000 exactly once`);
  }, 1_500_000);

  it('recovers by itself when the Kafka broker is stopped and restarted mid-run, losing and doubling nothing', async () => {
    const broker = new PrivateKafkaBroker(19092);
    broker.start();
    let stopSandbox = (): Promise<void> => Promise.resolve();
    try {
      const prefix = kafkaTestPrefix('brokerdown');
      const env = { KAFKA_BROKERS: broker.brokers };
      const payment = await start('payment', prefix, env);
      await start('settlement', prefix, env);
      // every order is paid at once: the PaymentSucceeded events are what settlement consumes
      const sandbox = await spawnSandboxChannel({ autoPay: 'success', autoPayDelayMs: 0 });
      stopSandbox = () => sandbox.stop();
      await routeProjectToSandbox({
        paymentAddress: payment.grpcAddress,
        issuer,
        sandbox,
        operatorId: 'op',
        projectId: 'proj',
      });
      const client = grpcClient(PaymentServiceService, payment.grpcAddress, () =>
        issuer.metadata({ scopes: ['payment:write'], operators: ['op'] }),
      );
      const paymentIds: string[] = [];
      let stopped = false;
      const createPayments = async (from: number, to: number) => {
        for (let i = from; i < to; i++) {
          const { payment: p } = await client.createPayment({
            requestId: `req-${i}`,
            tenancy: { operatorId: 'op', projectId: 'proj', merchantId: '' },
            merchantId: 'm',
            scenario: PaymentScenario.PAYMENT_SCENARIO_PARKING,
            amount: { currency: 'CNY', amountMinor: 500n },
            payerRef: `plate-${i}`,
            description: '',
            expiresInSeconds: 0,
            profitSharing: false,
          });
          paymentIds.push(p!.paymentId);
          if (i % 50 === 0) await sleep(50);
        }
      };
      await createPayments(0, 300);
      await waitFor(
        'first payments held in escrow',
        async () =>
          (await count(pgSettlement, 'SELECT count(*)::int AS n FROM escrow_orders')) > 0 ? true : undefined,
        60_000,
      );
      broker.stop();
      stopped = true;
      // payments keep being accepted while the broker is down: they wait in the outbox
      await createPayments(300, 600);
      await sleep(3_000);
      broker.start();
      stopped = false;
      await createPayments(600, 900);
      await waitFor(
        'all 900 held in escrow',
        async () =>
          (await count(pgSettlement, 'SELECT count(*)::int AS n FROM escrow_orders')) >= 900
            ? true
            : undefined,
        180_000,
        250,
      );
      await sleep(2_000);
      expect(stopped).toBe(false);
      expect(await count(pgPayment, 'SELECT count(*)::int AS n FROM payments')).toBe(900);
      expect(await count(pgSettlement, 'SELECT count(*)::int AS n FROM escrow_orders')).toBe(900);
      const { rows } = await pgSettlement.query<{ order_id: string }>('SELECT order_id FROM escrow_orders');
      expect(new Set(rows.map((r) => r.order_id))).toEqual(new Set(paymentIds));
      expect(await count(pgPayment, 'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')).toBe(
        0,
      );
      client.close();
    } finally {
      await Promise.all(running.splice(0).map((s) => s.stop('SIGKILL')));
      await stopSandbox();
      broker.destroy();
    }
  }, 400_000);
});
