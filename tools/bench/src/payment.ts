// `bench payment`: end-to-end payments per second through the real pieces (the built payment
// process, its PostgreSQL, the sandbox channel process, Kafka): CreatePayment over gRPC -> routed
// to the sandbox -> the payer pays -> the sandbox's signed notification -> PaymentSucceeded through
// the outbox -> consumed from Kafka here. Also CreatePayment latency at that load. Framed by pgbench
// on the same machine in the same run.
import { randomUUID } from 'crypto';
import type { KafkaMessage } from 'kafkajs';
import { Client } from 'pg';
import {
  PaymentScenario,
  PaymentServiceService,
  PaymentStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { PaymentEvents } from '@citybase/contracts/events';
import {
  grpcClient,
  routeProjectToSandbox,
  spawnSandboxChannel,
  spawnService,
  TestIssuer,
  uniqueName,
} from '@citybase/platform/testing';
import {
  paymentSqlBaseline,
  paymentSqlFigure,
  pgbenchBaseline,
  pgbenchFigure,
  pgbenchParams,
  pgbenchReportParams,
} from './baselines';
import {
  benchDatabase,
  benchKafka,
  benchLogger,
  Cleanup,
  cleanupKafka,
  Completion,
  Figure,
  figureValues,
  note,
  now,
  printBenchmarkFigures,
  processUsage,
  writeBenchReport,
  profiledSpawn,
} from './common';
import { intFromEnv, percentiles, perSecond, round } from './stats';

/** The payment process's PostgreSQL round trips so far by stage (db_round_trips_total on its /metrics). */
async function roundTrips(httpUrl: string): Promise<Record<string, number>> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (!res.ok) throw new Error(`GET ${httpUrl}/metrics: HTTP ${res.status}`);
  return parseRoundTrips(await res.text());
}

export function parseRoundTrips(metrics: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of metrics.matchAll(/^db_round_trips_total\{[^}]*stage="([^"]+)"[^}]*\} (\S+)$/gm)) {
    counts[m[1] as string] = Number(m[2]);
  }
  return counts;
}

function diffCounts(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

function perPayment(
  counts: Record<string, number>,
  payments: number,
): { total: number; byStage: Record<string, number> } {
  const byStage = Object.fromEntries(
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, v / payments]),
  );
  return { total: Object.values(byStage).reduce((a, b) => a + b, 0), byStage };
}

/** Waits until the relay has marked every outbox row published (its round trips are then all counted). */
async function outboxPublished(url: string): Promise<void> {
  const pg = new Client({ connectionString: url });
  await pg.connect();
  try {
    for (let i = 0; i < 100; i++) {
      const { rows } = await pg.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`,
      );
      if (rows[0]?.n === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await pg.end();
  }
}

export interface PaymentBenchParams {
  payments: number;
  concurrency: number;
}

export function paymentBenchParams(env: NodeJS.ProcessEnv): PaymentBenchParams {
  return {
    payments: intFromEnv(env, 'BENCH_PAYMENTS', 2_000),
    concurrency: intFromEnv(env, 'BENCH_PAYMENT_CONCURRENCY', 16),
  };
}

export async function runPayment(cleanup: Cleanup): Promise<void> {
  const p = paymentBenchParams(process.env);
  const pp = pgbenchParams(process.env);
  const started = Date.now();
  const logger = benchLogger();
  const prefix = `${uniqueName('benchpay')}.`;

  const issuer = await TestIssuer.start();
  cleanup.add('token issuer', () => issuer.stop());
  const sandbox = await spawnSandboxChannel({ autoPay: 'success', autoPayDelayMs: 0, notifyDelayMs: 0 });
  cleanup.add('sandbox channel', () => sandbox.stop());
  const { db, synchronousCommit } = await benchDatabase('bench_payment', cleanup);
  const payment = await spawnService(
    'payment',
    {
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: prefix,
      AUTH_JWKS_URL: issuer.jwksUrl,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
      // OTEL_* of the bench's environment (an exporter, OTEL_SDK_DISABLED) reach the payment process:
      // what tracing costs is measured with them (docs/performance.md)
      ...Object.fromEntries(
        Object.entries(process.env).filter(
          (e): e is [string, string] => e[0].startsWith('OTEL_') && e[1] !== undefined,
        ),
      ),
    },
    profiledSpawn(),
  );
  cleanup.add('payment process', () => payment.stop());
  await payment.ready();
  const operatorId = 'bench-operator';
  const projectId = 'bench-project';
  const channel = await routeProjectToSandbox({
    paymentAddress: payment.grpcAddress,
    issuer,
    sandbox,
    operatorId,
    projectId,
  });
  note(`payment process with channel ${channel}; sandbox at ${sandbox.url}`);

  const kafka = benchKafka(logger, 'bench-payment');
  const topic = prefix + PaymentEvents.PaymentSucceeded.topic;
  const group = `${prefix}bench-payment-consumer`;
  cleanupKafka(cleanup, kafka, [], [group]);
  const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
  cleanup.add('kafka consumer', () => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const createdAt = new Map<string, number>();
  const endToEnd: number[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const completion = new Completion(p.payments, 'PaymentSucceeded consumed');
  // The event can be consumed before CreatePayment's answer reaches us (the payer pays at once):
  // whichever of the two comes second counts the payment.
  const consumedEarly = new Map<string, number>();
  const consumed = (paymentId: string, at: number) => {
    const t0 = createdAt.get(paymentId);
    if (t0 === undefined) {
      consumedEarly.set(paymentId, at);
      return;
    }
    endToEnd.push(at - t0);
    completion.add();
  };
  await consumer.run({
    eachMessage: async ({ message }: { message: KafkaMessage }) => {
      if (message.headers?.['ce_type']?.toString() !== PaymentEvents.PaymentSucceeded.type || !message.value)
        return;
      const event = PaymentEvents.PaymentSucceeded.codec.decode(message.value);
      if (seen.has(event.paymentId)) {
        duplicates += 1;
        return;
      }
      seen.add(event.paymentId);
      consumed(event.paymentId, now());
      await Promise.resolve();
    },
  });

  const client = grpcClient(PaymentServiceService, payment.grpcAddress, () =>
    issuer.metadata({ scopes: ['payment:write'], operators: [operatorId] }),
  );
  cleanup.add('gRPC client', () => Promise.resolve(client.close()));
  const createLatency: number[] = [];
  const tripsBefore = await roundTrips(payment.httpUrl);
  let next = 0;
  note(`creating ${p.payments} payments, ${p.concurrency} in flight; the sandbox's payer pays each at once`);
  const t0 = now();
  await Promise.all(
    Array.from({ length: p.concurrency }, async () => {
      for (let i = next++; i < p.payments; i = next++) {
        const started = now();
        const { payment: created } = await client.createPayment({
          requestId: randomUUID(),
          tenancy: { operatorId, projectId, merchantId: '' },
          merchantId: 'bench-merchant',
          scenario: PaymentScenario.PAYMENT_SCENARIO_PARKING,
          amount: { currency: 'CNY', amountMinor: BigInt(100 + (i % 900)) },
          payerRef: `plate-${i}`,
          description: 'parking',
          expiresInSeconds: 0,
          profitSharing: false,
        });
        if (!created || created.status === PaymentStatus.PAYMENT_STATUS_FAILED) {
          throw new Error(`payment ${i} not created: ${JSON.stringify(created?.failureReason)}`);
        }
        createLatency.push(now() - started);
        createdAt.set(created.paymentId, started);
        const early = consumedEarly.get(created.paymentId);
        if (early !== undefined) {
          consumedEarly.delete(created.paymentId);
          consumed(created.paymentId, early);
        }
      }
    }),
  );
  const createdMs = now() - t0;
  await completion.done.catch(async (err: unknown) => {
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ status: number; n: number; unpublished: number }>(
        `SELECT status, count(*)::int AS n FROM payments GROUP BY 1 ORDER BY 1`,
      );
      const { rows: outbox } = await pg.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`,
      );
      note(`stalled: payments by status ${JSON.stringify(rows)}; unpublished events ${outbox[0]?.n}`);
    } finally {
      await pg.end();
    }
    throw err;
  });
  const elapsedMs = now() - t0;
  await consumer.disconnect();
  await outboxPublished(db.url);
  const trips = perPayment(diffCounts(await roundTrips(payment.httpUrl), tripsBefore), p.payments);
  const spawned = { payment: processUsage(payment.proc.pid!), sandbox: processUsage(sandbox.pid) };
  await payment.stop();
  await sandbox.stop();

  note('baseline: pgbench');
  const pg = await pgbenchBaseline(pp, cleanup);
  note("baseline: pgbench of a payment's minimal SQL");
  const paymentSql = await paymentSqlBaseline(pp, cleanup);
  const paymentsPerS = perSecond(p.payments, elapsedMs);
  const [createP50, createP99] = percentiles(createLatency, [50, 99]);
  const [e2eP50, e2eP99] = percentiles(endToEnd, [50, 99]);
  const figures: Figure[] = [
    {
      name: 'payments_per_s',
      value: round(paymentsPerS, 1),
      unit: 'payments/s',
      how: `end to end: first CreatePayment sent to the last PaymentSucceeded consumed from Kafka; ${p.payments} payments, ${p.concurrency} creates in flight, sandbox payer pays at once, payment process at synchronous_commit=${synchronousCommit}`,
    },
    {
      name: 'create_p50_ms',
      value: round(createP50, 2),
      unit: 'ms',
      how: 'CreatePayment over gRPC at that load (validation, tenancy, insert + outbox, routing, sandbox order), median',
    },
    {
      name: 'create_p99_ms',
      value: round(createP99, 2),
      unit: 'ms',
      how: 'as create_p50_ms, 99th percentile',
    },
    pgbenchFigure(pp, pg),
    paymentSqlFigure(pp, paymentSql),
    {
      name: 'payments_per_s_to_payment_sql',
      value: round(paymentsPerS / paymentSql.tps, 3),
      unit: 'ratio',
      how: 'payments_per_s / baseline_payment_sql_tps: how close the services come to the database work a payment needs',
    },
    {
      name: 'round_trips_per_payment',
      value: round(trips.total, 2),
      unit: 'queries/payment',
      how: `PostgreSQL round trips of the payment process per payment (its db_round_trips_total before and after the run, all stages, background jobs included): ${Object.entries(
        trips.byStage,
      )
        .map(([stage, n]) => `${stage} ${round(n, 2)}`)
        .join(', ')}`,
    },
    ...Object.entries(trips.byStage).map(([stage, n]) => ({
      name: `round_trips_${stage}`,
      value: round(n, 2),
      unit: 'queries/payment',
      how: `as round_trips_per_payment, stage ${stage}`,
    })),
  ];
  printBenchmarkFigures('payment', started, figures);
  process.stdout.write(
    [
      '',
      'diagnostics (not in the JSON):',
      `  creates alone                      ${round(perSecond(p.payments, createdMs), 1)} payments/s`,
      `  create -> PaymentSucceeded consumed p50 ${round(e2eP50, 1)} ms, p99 ${round(e2eP99, 1)} ms`,
      `  duplicate PaymentSucceeded seen     ${duplicates}`,
      '',
    ].join('\n'),
  );
  await writeBenchReport(
    'payment',
    started,
    figureValues(figures),
    {
      payments: p.payments,
      concurrency: p.concurrency,
      synchronous_commit: synchronousCommit,
      ...pgbenchReportParams(pp),
    },
    spawned,
  );
}
