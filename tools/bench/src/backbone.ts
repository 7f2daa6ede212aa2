// `bench backbone`: the event backbone (docs/adr/0004) end to end on the real servers, framed by
// the raw Kafka and PostgreSQL capacity of this machine measured in the same run.
//
// Writers commit transactions that each enqueue one PaymentCreated; one OutboxRelay publishes them;
// one InboxConsumer applies them in a second database (the consumer's), its group handler (onGroup)
// inserting one row per event, all of a group's rows in one statement.
// Throughput is measured from the first writer commit to the last inbox commit; latency per event is
// the handler's time minus the writer's commit time (both taken in this process). A second run
// (`bulk_eps`) does the same with 100 events per writer transaction (enqueueMany).
import { performance } from 'perf_hooks';
import type { Kafka } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import { Registry } from 'prom-client';
import { PaymentCreated } from '@citybase/contracts/citybase/payment/v1/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { defineEvent } from '@citybase/contracts/event-types';
import {
  createPool,
  dlqTopic,
  enqueueMany,
  EventSource,
  ensureTopics,
  fromTimestamp,
  InboxConsumer,
  Logger,
  OutboxRelay,
  platformMigrations,
  runMigrations,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { uniqueName } from '@citybase/platform/testing';
import {
  kafkaBaseline,
  kafkaBaselineParams,
  pgbenchBaseline,
  pgbenchFigure,
  pgbenchParams,
  pgbenchReportParams,
} from './baselines';
import {
  benchDatabase,
  benchKafka,
  benchLogger,
  checkpoint,
  Cleanup,
  cleanupKafka,
  Completion,
  Figure,
  figureValues,
  note,
  now,
  once,
  printBenchmarkFigures,
  withAdmin,
  writeBenchReport,
} from './common';
import { intFromEnv, percentiles, perSecond, round } from './stats';

export const PaymentCreatedEvent = defineEvent('citybase.payment.v1.PaymentCreated', PaymentCreated);

/** The relay's default fallback poll (RelayOptions.pollIntervalMs); the bench runs the relay with its defaults. */
const RELAY_DEFAULT_POLL_MS = 500;
const CONSUMER_NAME = 'bench.payments';

export interface BackboneParams {
  events: number;
  warmup: number;
  writers: number;
  partitions: number;
  /** Events of the bulk run, and events per writer transaction in it. */
  bulkEvents: number;
  bulkPerTx: number;
}

export function backboneParams(env: NodeJS.ProcessEnv): BackboneParams {
  return {
    events: intFromEnv(env, 'BENCH_EVENTS', 20_000),
    warmup: intFromEnv(env, 'BENCH_WARMUP', 500, 0),
    writers: intFromEnv(env, 'BENCH_WRITERS', 8),
    partitions: intFromEnv(env, 'BENCH_PARTITIONS', 6),
    bulkEvents: intFromEnv(env, 'BENCH_BULK_EVENTS', 50_000),
    bulkPerTx: intFromEnv(env, 'BENCH_BULK_PER_TX', 100),
  };
}

function paymentCreated(paymentId: string): PaymentCreated {
  return {
    paymentId,
    tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: '' },
    merchantId: 'm-1',
    scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
    amount: { currency: 'CNY', amountMinor: 100n },
    channel: 'sandbox',
    occurredAt: toTimestamp(new Date()), // send time
    checkoutId: '',
  };
}

/** One batch of events (warm-up or measured): when each was committed, handled and committed in the inbox. */
class Phase {
  readonly commitAt: Float64Array;
  readonly handledAt: Float64Array;
  readonly inboxCommitAt: Float64Array;
  readonly applied: Completion;
  startedAt = 0;

  constructor(
    readonly label: string,
    readonly count: number,
  ) {
    this.commitAt = new Float64Array(count);
    this.handledAt = new Float64Array(count);
    this.inboxCommitAt = new Float64Array(count);
    this.applied = new Completion(count, `backbone ${label}: events committed in the inbox`);
  }

  id(seq: number): string {
    return `${this.label}-${seq}`;
  }
}

/**
 * Follows events through the consumer's transactions: the handler notes each event against its
 * client; when the pool gets that client back (withTransaction releases it after COMMIT) they are
 * committed. A group that rolled back is replayed one by one, and the later times overwrite.
 */
class InboxTracker {
  private readonly phases = new Map<string, Phase>();
  private readonly pending = new Map<PoolClient, { phase: Phase; seq: number }[]>();

  add(phase: Phase): void {
    this.phases.set(phase.label, phase);
  }

  handled(client: PoolClient, paymentId: string): void {
    const dash = paymentId.lastIndexOf('-');
    const phase = this.phases.get(paymentId.slice(0, dash));
    if (!phase) throw new Error(`unexpected payment ${paymentId}`);
    const seq = Number(paymentId.slice(dash + 1));
    phase.handledAt[seq] = now();
    const list = this.pending.get(client) ?? [];
    list.push({ phase, seq });
    this.pending.set(client, list);
  }

  released(client: PoolClient): void {
    const list = this.pending.get(client);
    if (!list) return;
    this.pending.delete(client);
    const t = now();
    for (const { phase, seq } of list) {
      const first = phase.inboxCommitAt[seq] === 0;
      phase.inboxCommitAt[seq] = t;
      if (first) phase.applied.add();
    }
  }
}

export async function runBackbone(cleanup: Cleanup): Promise<void> {
  const env = process.env;
  const kp = kafkaBaselineParams(env);
  const pp = pgbenchParams(env);
  const bp = backboneParams(env);
  const logger = benchLogger();
  const kafka = benchKafka(logger, 'citybase-bench');
  const started = Date.now();

  // a. bare Kafka
  const kb = await kafkaBaseline(kafka, kp, cleanup);
  note(
    `kafka baseline: ${Math.round(kb.eps)} msg/s (sent in ${Math.round(kb.sendMs)} ms, last receipt at ${Math.round(kb.totalMs)} ms)`,
  );

  // b. bare PostgreSQL
  const pg = await pgbenchBaseline(pp, cleanup);
  note(`pgbench baseline: ${pg.tps.toFixed(1)} tps`);
  await cleanup.run(); // drop the pgbench database and the baseline topic before the backbone runs
  await checkpoint();

  // c. the backbone
  const { single: bb, bulk } = await backboneThroughput(kafka, logger, bp, cleanup);

  const figures: Figure[] = [
    {
      name: 'throughput_eps',
      value: round(bb.throughputEps, 1),
      unit: 'events/s',
      how: `${bp.events} PaymentCreated, ${bp.writers} writers (enqueue in withTransaction) -> 1 OutboxRelay -> Kafka (${bp.partitions} partitions) -> 1 InboxConsumer (onGroup: one multi-row insert per group of consecutive events, own database); synchronous_commit=${bb.synchronousCommit}; first writer commit to last inbox commit; after ${bp.warmup} warm-up events`,
    },
    {
      name: 'p50_ms',
      value: round(bb.latency.p50, 2),
      unit: 'ms',
      how: 'per event: inbox handler time (after the group insert of its row, before the inbox commit) minus writer commit time (same process clock), median',
    },
    {
      name: 'p99_ms',
      value: round(bb.latency.p99, 2),
      unit: 'ms',
      how: 'as p50_ms, 99th percentile (nearest rank)',
    },
    {
      name: 'bulk_eps',
      value: round(bulk.throughputEps, 1),
      unit: 'events/s',
      how: `${bp.bulkEvents} PaymentCreated, ${bp.bulkPerTx} per writer transaction (enqueueMany), ${bp.writers} writers, then as throughput_eps (same relay and consumer); first writer commit to last inbox commit`,
    },
    {
      name: 'bulk_p99_ms',
      value: round(bulk.latency.p99, 2),
      unit: 'ms',
      how: 'as p99_ms, in the bulk run',
    },
    {
      name: 'baseline_kafka_eps',
      value: round(kb.eps, 1),
      unit: 'messages/s',
      how: `bare kafkajs idempotent producer (acks=all, 1 in flight), ${kp.messages} x ${kp.valueBytes} B in sequential batches of ${kp.batch}, ${kp.partitions} partitions, 1 consumer group; first send to last receipt`,
    },
    pgbenchFigure(pp, pg),
  ];
  printBenchmarkFigures('backbone', started, figures);
  const ratio = (what: string, value: number, baseline: number, target: number) =>
    `  ${what.padEnd(44)} ${round(value / baseline, 3)} (target >= ${target})`;
  const stage = (what: string, d: Distribution) =>
    `  ${what.padEnd(34)} p50 ${round(d.p50, 1)} ms, p90 ${round(d.p90, 1)} ms, p99 ${round(d.p99, 1)} ms, max ${round(d.max, 1)} ms`;
  const diagnostics = (title: string, r: BackboneResult, events: number) => [
    title,
    `  writer commits                     ${round(r.writerEps, 1)} events/s (${bp.writers} writers, first transaction start to last commit)`,
    stage('writer commit -> handler', r.latency),
    `    median by quarter of the run     ${r.latencyByQuarter.map((v) => `${round(v, 1)} ms`).join(', ')} (in commit order)`,
    stage('  writer commit -> relay published', r.stages.relay),
    stage('  relay published -> handler', r.stages.delivery),
    stage('handler -> inbox commit', r.stages.inboxCommit),
    `  relay batches                      ${r.relayBatches} for ${events} events (mean ${round(events / Math.max(1, r.relayBatches), 1)} per batch); relay poll fallback ${RELAY_DEFAULT_POLL_MS} ms`,
  ];
  process.stdout.write(
    [
      '',
      'ratios to the same-run baselines:',
      ratio('throughput_eps / baseline_pgbench_tps', bb.throughputEps, pg.tps, 0.5),
      ratio('bulk_eps / baseline_kafka_eps', bulk.throughputEps, kb.eps, 0.3),
      '',
      'diagnostics (not in the JSON; stage times per event, process and database clocks of this machine):',
      ...diagnostics('one event per transaction', bb, bp.events),
      ...diagnostics(`${bp.bulkPerTx} events per transaction`, bulk, bp.bulkEvents),
      '',
    ].join('\n'),
  );

  await writeBenchReport(
    'backbone',
    started,
    figureValues(figures),
    {
      events: bp.events,
      warmup_events: bp.warmup,
      writers: bp.writers,
      partitions: bp.partitions,
      bulk_events: bp.bulkEvents,
      bulk_events_per_tx: bp.bulkPerTx,
      kafka_messages: kp.messages,
      kafka_batch: kp.batch,
      kafka_value_bytes: kp.valueBytes,
      ...pgbenchReportParams(pp),
      synchronous_commit: pg.synchronousCommit,
    },
    {}, // relay and consumer run in this process: its cost is the report's `bench`
  );
}

interface Distribution {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Median of `values` in each quarter of the events ordered by `order`. */
function byQuarter(order: Float64Array, values: readonly number[]): number[] {
  const idx = Array.from(order.keys()).sort((a, b) => order[a] - order[b]);
  const q = Math.ceil(idx.length / 4);
  return [0, 1, 2, 3]
    .map((i) => idx.slice(i * q, (i + 1) * q))
    .filter((part) => part.length > 0)
    .map(
      (part) =>
        percentiles(
          part.map((j) => values[j]),
          [50],
        )[0],
    );
}

function distribution(values: readonly number[]): Distribution {
  const [p50, p90, p99, max] = percentiles(values, [50, 90, 99, 100]);
  return { p50, p90, p99, max };
}

export interface BackboneResult {
  throughputEps: number;
  writerEps: number;
  /** Handler time minus writer commit time: the reported latency. */
  latency: Distribution;
  /** The same path in stages: commit -> relay marked the row published (after the Kafka ack) -> handler -> inbox commit. */
  stages: { relay: Distribution; delivery: Distribution; inboxCommit: Distribution };
  relayBatches: number;
  /** What a new session of the producer's database runs with. */
  synchronousCommit: string;
  /** Median latency of each quarter of the run, in commit order: growth means a stage fell behind the writers. */
  latencyByQuarter: number[];
}

export async function backboneThroughput(
  kafka: Kafka,
  logger: Logger,
  p: BackboneParams,
  cleanup: Cleanup,
): Promise<{ single: BackboneResult; bulk: BackboneResult }> {
  // The producing service's database (outbox) and the consuming service's (inbox and its table).
  const producer = await benchDatabase('bench_outbox', cleanup);
  const consumer = await benchDatabase('bench_inbox', cleanup);
  const writerPool = createPool(producer.db.url, {
    max: p.writers + 2,
    application_name: 'citybase-bench-writers',
  });
  cleanup.add(
    'writer pool',
    once(() => writerPool.end()),
  );
  const consumerPool = createPool(consumer.db.url, { max: 10, application_name: 'citybase-bench-consumer' });
  cleanup.add(
    'consumer pool',
    once(() => consumerPool.end()),
  );
  await runMigrations(writerPool, [platformMigrations]);
  await runMigrations(consumerPool, [platformMigrations]);
  await consumerPool.query(
    `CREATE TABLE bench_payment_applied (
       payment_id   text        PRIMARY KEY,
       amount_minor bigint      NOT NULL,
       occurred_at  timestamptz NOT NULL,
       applied_at   timestamptz NOT NULL DEFAULT now())`,
  );

  const prefix = `${uniqueName('bench')}.`;
  const topic = prefix + PaymentCreatedEvent.topic;
  cleanupKafka(cleanup, kafka, [topic, prefix + dlqTopic(CONSUMER_NAME)], [prefix + CONSUMER_NAME]);
  await withAdmin(kafka, (admin) => ensureTopics(admin, [topic], p.partitions));
  const source: EventSource = { city: 'bench-city', service: 'payment', topicPrefix: prefix };
  const registry = new Registry();

  const tracker = new InboxTracker();
  consumerPool.on('release', (_err, client) => tracker.released(client));
  const inbox = new InboxConsumer({
    name: CONSUMER_NAME,
    kafka,
    pool: consumerPool,
    logger,
    registry,
    topicPrefix: prefix,
  }).onGroup(PaymentCreatedEvent, async (client, events) => {
    await client.query(
      `INSERT INTO bench_payment_applied (payment_id, amount_minor, occurred_at)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::timestamptz[])`,
      [
        events.map(({ event }) => event.paymentId),
        events.map(({ event }) => (event.amount?.amountMinor ?? 0n).toString()),
        events.map(({ event }) => (event.occurredAt ? fromTimestamp(event.occurredAt) : new Date())),
      ],
    );
    for (const { event } of events) tracker.handled(client, event.paymentId);
  });
  const relay = new OutboxRelay({ databaseUrl: producer.db.url, kafka, logger, registry }); // defaults, as services run it
  cleanup.add('inbox consumer', () => inbox.stop());
  cleanup.add('outbox relay', () => relay.stop());
  await relay.start();
  await inbox.start();

  /** Writers commit `perTx` events per transaction until the phase's events are all written. */
  const runPhase = async (phase: Phase, perTx: number) => {
    tracker.add(phase);
    let next = 0;
    const writer = async () => {
      for (let first = next; first < phase.count; first = next) {
        next = Math.min(phase.count, first + perTx);
        const seqs = Array.from({ length: next - first }, (_, i) => first + i);
        await withTransaction(writerPool, (client) =>
          enqueueMany(
            client,
            source,
            seqs.map((seq) => ({
              type: PaymentCreatedEvent,
              payload: paymentCreated(phase.id(seq)),
              key: phase.id(seq),
            })),
          ),
        );
        const t = now();
        for (const seq of seqs) phase.commitAt[seq] = t;
      }
    };
    phase.startedAt = now();
    await Promise.all([...Array.from({ length: p.writers }, writer), phase.applied.done]);
  };

  if (p.warmup > 0) {
    note(`backbone: warm-up, ${p.warmup} events`);
    await runPhase(new Phase('warm', p.warmup), 1);
  }
  note(`backbone: ${p.events} events, ${p.writers} writers, relay and inbox consumer in this process`);
  const run = new Phase('run', p.events);
  await runPhase(run, 1);
  await checkpoint();
  note(`backbone: ${p.bulkEvents} events, ${p.bulkPerTx} per transaction, ${p.writers} writers`);
  const bulk = new Phase('bulk', p.bulkEvents);
  await runPhase(bulk, p.bulkPerTx);

  await inbox.stop();
  await relay.stop();

  return {
    single: await phaseResult(run, writerPool, consumerPool, producer.synchronousCommit),
    bulk: await phaseResult(bulk, writerPool, consumerPool, producer.synchronousCommit),
  };
}

/** Checks that every event of the phase was applied, then its throughput, latency and stages. */
async function phaseResult(
  run: Phase,
  writerPool: Pool,
  consumerPool: Pool,
  synchronousCommit: string,
): Promise<BackboneResult> {
  const like = `${run.label}-%`;
  const { rows: applied } = await consumerPool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM bench_payment_applied WHERE payment_id LIKE $1',
    [like],
  );
  if (applied[0].n !== run.count)
    throw new Error(`expected ${run.count} applied events in the consumer's table, found ${applied[0].n}`);
  // When the relay marked each row published (now() of its UPDATE, taken after the broker's ack), on the epoch clock.
  const { rows: published } = await writerPool.query<{ key: string; at: number }>(
    `SELECT partition_key AS key, extract(epoch FROM published_at)::float8 * 1000 AS at FROM outbox WHERE partition_key LIKE $1`,
    [like],
  );
  const { rows: batches } = await writerPool.query<{ n: number }>(
    `SELECT count(DISTINCT published_at)::int AS n FROM outbox WHERE partition_key LIKE $1`,
    [like],
  );
  const publishedAt = new Float64Array(run.count);
  for (const r of published)
    publishedAt[Number(r.key.slice(r.key.lastIndexOf('-') + 1))] = r.at - performance.timeOrigin; // onto the process clock

  let firstCommit = Infinity;
  let lastCommit = 0;
  let lastInboxCommit = 0;
  const latency: number[] = [];
  const relayStage: number[] = [];
  const deliveryStage: number[] = [];
  const inboxStage: number[] = [];
  for (let i = 0; i < run.count; i++) {
    firstCommit = Math.min(firstCommit, run.commitAt[i]);
    lastCommit = Math.max(lastCommit, run.commitAt[i]);
    lastInboxCommit = Math.max(lastInboxCommit, run.inboxCommitAt[i]);
    latency.push(run.handledAt[i] - run.commitAt[i]);
    relayStage.push(publishedAt[i] - run.commitAt[i]);
    deliveryStage.push(run.handledAt[i] - publishedAt[i]);
    inboxStage.push(run.inboxCommitAt[i] - run.handledAt[i]);
  }
  return {
    throughputEps: perSecond(run.count, lastInboxCommit - firstCommit),
    writerEps: perSecond(run.count, lastCommit - run.startedAt),
    latency: distribution(latency),
    stages: {
      relay: distribution(relayStage),
      delivery: distribution(deliveryStage),
      inboxCommit: distribution(inboxStage),
    },
    relayBatches: batches[0].n,
    latencyByQuarter: byQuarter(run.commitAt, latency),
    synchronousCommit,
  };
}
