// `npm run bench -- data`: the analytical store's ingest (every source topic into the data
// service's facts and rollups), next to the backbone's throughput measured in the same run.
// Each measurement is its own function returning its figures, so more can be added beside
// (e.g. government feeds' feed_rows_per_s).
import { Client } from 'pg';
import type { Kafka, Message } from 'kafkajs';
import { ensureTopics, newEnvelope, toHeaders, toTimestamp } from '@citybase/platform';
import { spawnService, uniqueName } from '@citybase/platform/testing';
import type { EventType } from '@citybase/contracts/event-types';
import {
  IotEvents,
  MarketingEvents,
  PaymentEvents,
  PointsEvents,
  SettlementEvents,
} from '@citybase/contracts/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { AlarmSeverity, AlarmStatus } from '@citybase/contracts/citybase/iot/v1/iot';
import { backboneParams, backboneThroughput } from './backbone';
import { feedRowsPerS } from './data-feed';
import {
  benchDatabase,
  benchKafka,
  benchLogger,
  checkpoint,
  Cleanup,
  cleanupKafka,
  Figure,
  figureValues,
  note,
  now,
  printBenchmarkFigures,
  processUsage,
  ProcessUsage,
  profiledSpawn,
  withAdmin,
  writeBenchReport,
} from './common';
import { intFromEnv, perSecond, round } from './stats';

export interface IngestParams {
  /** Events published across the sources before the data service starts. */
  events: number;
  /** Partitions of each source topic. */
  partitions: number;
  /** Operators and projects the events are spread over. */
  operators: number;
}

export function ingestParams(env: NodeJS.ProcessEnv): IngestParams {
  return {
    events: intFromEnv(env, 'BENCH_DATA_EVENTS', 50_000),
    partitions: intFromEnv(env, 'BENCH_PARTITIONS', 6),
    operators: intFromEnv(env, 'BENCH_DATA_OPERATORS', 20),
  };
}

const cny = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });

/** The i-th event of the mix: 40% payments, 10% refunds, 15% settlement, 20% points, 10% coupons, 5% iot alarms. */
function eventOf(
  i: number,
  p: IngestParams,
  at: Date,
): { type: EventType<unknown>; service: string; payload: unknown } {
  const op = `bench-op-${i % p.operators}`;
  const tenancy = { operatorId: op, projectId: `${op}-p${i % 3}`, merchantId: `m-${i % 50}` };
  const occurredAt = toTimestamp(at);
  const slot = i % 20;
  const pick = <T>(service: string, type: EventType<T>, payload: T) => ({
    type: type as EventType<unknown>,
    service,
    payload: payload as unknown,
  });
  if (slot < 8)
    return pick('payment', PaymentEvents.PaymentSucceeded, {
      paymentId: `pay-${i}`,
      tenancy,
      merchantId: tenancy.merchantId,
      scenario: (1 + (i % 6)) as PaymentScenario,
      amount: cny(BigInt(100 + (i % 9_900))),
      channel: i % 2 ? 'wechat' : 'alipay',
      occurredAt,
      channelTransactionId: `tx-${i}`,
      profitSharing: false,
      payerRef: `payer-${i % 1000}`,
      checkoutId: '',
    });
  if (slot < 10)
    return pick('payment', PaymentEvents.RefundSucceeded, {
      refundId: `ref-${i}`,
      paymentId: `pay-${i - 1}`,
      tenancy,
      merchantId: tenancy.merchantId,
      scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
      amount: cny(50n),
      refundedTotal: cny(50n),
      channel: 'wechat',
      channelRefundId: `cr-${i}`,
      occurredAt,
      instructionId: '',
    });
  if (slot < 13)
    return slot === 12
      ? pick('settlement', SettlementEvents.OrderCompleted, {
          orderId: `pay-${i}`,
          tenancy,
          released: cny(900n),
          parts: [
            { role: 'merchant', amount: cny(846n) },
            { role: 'tax', amount: cny(54n) },
          ],
          transactionId: `t-${i}`,
          completedBy: 'payer',
          occurredAt,
        })
      : pick('settlement', SettlementEvents.OrderEscrowed, {
          orderId: `pay-${i}`,
          tenancy,
          amount: cny(900n),
          transactionId: `t-${i}`,
          autoConfirmAt: occurredAt,
          occurredAt,
        });
  if (slot < 17)
    return slot === 16
      ? pick('points', PointsEvents.PointsRedeemed, {
          reservationId: `rs-${i}`,
          tenancy,
          holderId: `h-${i % 1000}`,
          points: 10n,
          reference: `checkout-${i}`,
          occurredAt,
          value: cny(10n),
          lots: [
            {
              lotId: `l-${i}`,
              issuer: { operatorId: op, projectId: '', merchantId: '' },
              points: 10n,
              value: cny(10n),
            },
          ],
          redeemedAt: tenancy,
        })
      : pick('points', PointsEvents.PointsEarned, {
          lotId: `l-${i}`,
          tenancy,
          holderId: `h-${i % 1000}`,
          points: 12n,
          value: cny(12n),
          paymentId: `pay-${i}`,
          ruleId: 'rule',
          memberId: '',
          availableAt: occurredAt,
          expiresAt: occurredAt,
          occurredAt,
        });
  if (slot < 19)
    return pick('marketing', MarketingEvents.CouponClaimed, {
      couponId: `c-${i}`,
      campaignId: `cmp-${i % 10}`,
      tenancy,
      userId: `u-${i % 1000}`,
      householdId: '',
      maxValue: cny(500n),
      code: '',
      expiresAt: occurredAt,
      occurredAt,
    });
  return pick('iot', IotEvents.AlarmRaised, {
    alarm: {
      alarmId: `al-${i}`,
      tenancy,
      deviceId: `d-${i % 100}`,
      type: 'SMOKE',
      severity: AlarmSeverity.ALARM_SEVERITY_WARNING,
      status: AlarmStatus.ALARM_STATUS_ACTIVE_UNACKED,
      acknowledged: false,
      value: 1,
      raisedAt: occurredAt,
      acknowledgedAt: undefined,
      clearedAt: undefined,
      occurrences: 1n,
    },
    occurredAt,
  });
}

export interface IngestResult {
  figures: Figure[];
  params: Record<string, number | string>;
  spawned: Record<string, ProcessUsage>;
}

/**
 * Publishes `events` of every source onto their topics (as the services' relays would: CloudEvents
 * headers, protobuf values), then starts the data service as a process and measures from when it
 * is ready until every event is committed in its inboxes (facts written, contributions pending),
 * and until every contribution is folded into the rollups.
 */
export async function ingestThroughput(kafka: Kafka, cleanup: Cleanup): Promise<IngestResult> {
  const p = ingestParams(process.env);
  const prefix = `${uniqueName('benchdata')}.`;
  const { db, synchronousCommit } = await benchDatabase('bench_data', cleanup);
  const messages = new Map<string, Message[]>();
  const at = new Date();
  for (let i = 0; i < p.events; i++) {
    const e = eventOf(i, p, at);
    const key = `k-${i}`;
    const envelope = newEnvelope({ city: 'test-city', service: e.service, type: e.type.type, subject: key });
    const topic = prefix + e.type.topic;
    const list = messages.get(topic) ?? [];
    list.push({
      key,
      value: Buffer.from(e.type.codec.encode(e.payload).finish()),
      headers: toHeaders(envelope),
    });
    messages.set(topic, list);
  }
  const topics = [...messages.keys()];
  const groups = ['identity', 'payment', 'settlement', 'points', 'marketing', 'iot'].map(
    (s) => `${prefix}data.store.${s}`,
  );
  cleanupKafka(cleanup, kafka, [...topics, ...groups.map((g) => `${g}.dlq`)], groups);
  await withAdmin(kafka, (admin) => ensureTopics(admin, topics, p.partitions));
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    for (const [topic, list] of messages)
      for (let i = 0; i < list.length; i += 1_000)
        await producer.send({ topic, acks: -1, messages: list.slice(i, i + 1_000) });
  } finally {
    await producer.disconnect();
  }
  note(`published ${p.events} events onto ${topics.length} topics; starting the data service`);
  await checkpoint();

  const data = await spawnService(
    'data',
    {
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_TOPIC_PARTITIONS: String(p.partitions),
      AUTH_JWKS_URL: 'http://127.0.0.1:9/.well-known/jwks.json',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    },
    profiledSpawn(),
  );
  cleanup.add('data process', () => data.stop());
  await data.ready();
  const t0 = now();
  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  cleanup.add('data database connection', () => pg.end());
  let appliedMs = 0;
  let foldedMs = 0;
  let last = -1;
  let lastMoved = now();
  for (;;) {
    const { rows } = await pg.query<{ applied: number; pending: number }>(
      `SELECT (SELECT count(*)::int FROM inbox WHERE consumer LIKE 'data.store.%') AS applied,
              (SELECT count(*)::int FROM rollup_pending) AS pending`,
    );
    const { applied, pending } = rows[0]!;
    if (applied !== last) {
      last = applied;
      lastMoved = now();
    } else if (now() - lastMoved > 60_000)
      throw new Error(
        `data ingest: no progress for 60 s (${applied} of ${p.events})\n${data.output().slice(-2000)}`,
      );
    if (applied >= p.events && appliedMs === 0) appliedMs = now() - t0;
    if (applied >= p.events && pending === 0) {
      foldedMs = now() - t0;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const { rows: facts } = await pg.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM fact_payment) + (SELECT count(*) FROM fact_refund) + (SELECT count(*) FROM fact_escrow)
          + (SELECT count(*) FROM fact_tax_record) + (SELECT count(*) FROM fact_points_movement)
          + (SELECT count(*) FROM fact_coupon_claim) + (SELECT count(*) FROM fact_iot_event) AS n`,
  );
  const spawned = { data: processUsage(data.proc.pid!) };
  await data.stop();
  const how = `${p.events} events already on 6 source topics (${p.partitions} partitions each; 40% PaymentSucceeded, 10% RefundSucceeded, 15% settlement, 20% points, 10% CouponClaimed, 5% AlarmRaised; ${p.operators} operators), data service process started on them: one inbox consumer per source, DATA_INGEST_GROUP_SIZE events per transaction; synchronous_commit=${synchronousCommit}`;
  return {
    figures: [
      {
        name: 'ingest_events_per_s',
        value: round(perSecond(p.events, appliedMs), 1),
        unit: 'events/s',
        how: `${how}; from the service ready to the last event committed in its inboxes (facts written)`,
      },
      {
        name: 'ingest_folded_events_per_s',
        value: round(perSecond(p.events, foldedMs), 1),
        unit: 'events/s',
        how: 'as ingest_events_per_s, until every rollup contribution is folded into rollup_hour and rollup_day',
      },
    ],
    params: {
      data_events: p.events,
      data_partitions: p.partitions,
      data_operators: p.operators,
      data_fact_lines: Number(facts[0]!.n),
      synchronous_commit: synchronousCommit,
    },
    spawned,
  };
}

export async function runData(cleanup: Cleanup): Promise<void> {
  const started = Date.now();
  const logger = benchLogger();
  const kafka = benchKafka(logger, 'citybase-bench-data');

  note('data: ingest of every source into the store');
  const ingest = await ingestThroughput(kafka, cleanup);
  await cleanup.run();
  await checkpoint();

  note('data: the backbone in the same run');
  const bp = {
    ...backboneParams(process.env),
    events: intFromEnv(process.env, 'BENCH_EVENTS', 10_000),
    bulkEvents: intFromEnv(process.env, 'BENCH_BULK_EVENTS', 10_000),
  };
  const { single, bulk } = await backboneThroughput(kafka, logger, bp, cleanup);
  await cleanup.run();
  await checkpoint();

  note("data: an agency's masked NDJSON export (feeds)");
  const feed = await feedRowsPerS(cleanup);
  const figures: Figure[] = [
    ...ingest.figures,
    ...feed.figures,
    {
      name: 'backbone_throughput_eps',
      value: round(single.throughputEps, 1),
      unit: 'events/s',
      how: `the backbone benchmark's throughput_eps in this run: ${bp.events} events, ${bp.writers} writers, one event per transaction -> relay -> Kafka -> 1 InboxConsumer`,
    },
    {
      name: 'backbone_bulk_eps',
      value: round(bulk.throughputEps, 1),
      unit: 'events/s',
      how: `the backbone benchmark's bulk_eps in this run: ${bp.bulkEvents} events, ${bp.bulkPerTx} per writer transaction`,
    },
  ];
  printBenchmarkFigures('data', started, figures);
  process.stdout.write(
    `\nratio to the same-run backbone: ingest_events_per_s / backbone_bulk_eps = ${round(
      ingest.figures[0]!.value / Math.max(1, bulk.throughputEps),
      3,
    )}\n`,
  );
  await writeBenchReport(
    'data',
    started,
    figureValues(figures),
    {
      ...ingest.params,
      backbone_events: bp.events,
      backbone_bulk_events: bp.bulkEvents,
      feed: feed.params,
    },
    { ...ingest.spawned, data_feed: feed.usage },
  );
}
