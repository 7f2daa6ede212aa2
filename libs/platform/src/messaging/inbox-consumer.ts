import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { withTransaction } from '../db';
import { classifyPgError, InfrastructureError } from '../errors';
import { dlqTopic, ensureTopics } from '../kafka';
import { EnvelopeError, EventEnvelope, fromHeaders, headersToStrings } from './cloudevents';
import type { EventType } from '@citybase/contracts/event-types';
import { MessagingMetrics } from './metrics';
import { withProcessSpan } from './tracing';

export interface EventContext {
  envelope: EventEnvelope;
  topic: string;
  partition: number;
  offset: string;
}

/** Applies one event using the given client, inside the transaction that also records it in the inbox. */
export type EventHandler<T> = (client: PoolClient, event: T, ctx: EventContext) => Promise<void>;

interface Registered {
  type: EventType<unknown>;
  handle: EventHandler<unknown>;
}

export interface InboxConsumerOptions {
  /** Consumer name: the inbox key, the consumer group and the DLQ topic suffix (e.g. settlement.payments). */
  name: string;
  kafka: Kafka;
  pool: Pool;
  logger: Logger;
  registry: Registry;
  /** Attempts of a failing handler before the event is dead-lettered (default 5). */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt (default 100 ms). */
  retryBaseMs?: number;
  /** Messages applied per database transaction when all goes well (default 100). */
  groupSize?: number;
  partitionsConsumedConcurrently?: number;
  fromBeginning?: boolean;
  /** Consumer-group session timeout (KAFKA_SESSION_TIMEOUT_MS, default 30 s). */
  sessionTimeoutMs?: number;
  /** Same prefix the producers use (KAFKA_TOPIC_PREFIX). */
  topicPrefix?: string;
}

/**
 * Longest a fetch waits on the broker for data. Bounds both the idle delivery delay and how long a
 * fetch already in flight can outlive disconnect() (kafkajs still finishes it, then heartbeats).
 */
export const FETCH_MAX_WAIT_MS = 500;

export const DLQ_HEADERS = {
  error: 'citybase_dlq_error',
  consumer: 'citybase_dlq_consumer',
  topic: 'citybase_dlq_original_topic',
  partition: 'citybase_dlq_original_partition',
  offset: 'citybase_dlq_original_offset',
  attempts: 'citybase_dlq_attempts',
  at: 'citybase_dlq_at',
} as const;

type Outcome = 'applied' | 'duplicate' | 'ignored';

/** One message as it was first delivered: its original topic, partition and offset. */
interface Delivery {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders | undefined;
}

interface Parsed {
  kind: 'event';
  envelope: EventEnvelope;
  event: unknown;
  registered: Registered;
  delivery: Delivery;
}

const delivery = (topic: string, partition: number, m: KafkaMessage): Delivery => ({
  topic,
  partition,
  offset: m.offset,
  key: m.key,
  value: m.value,
  headers: m.headers,
});

class PoisonError extends Error {}

/**
 * Consumes events with exactly-once effects: a handler's writes and the `(consumer, event_id)`
 * inbox row commit in one transaction, and Kafka offsets are committed only after that. Failing
 * events are retried with backoff, then dead-lettered so the partition moves on.
 */
export class InboxConsumer {
  private readonly handlers = new Map<string, Registered>();
  private readonly metrics: MessagingMetrics;
  private readonly log: Logger;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly groupSize: number;
  private consumer: Consumer | undefined;
  private dlqProducer: Producer | undefined;

  constructor(private readonly opts: InboxConsumerOptions) {
    this.metrics = MessagingMetrics.for(opts.registry);
    this.log = opts.logger.child({ component: 'inbox-consumer', consumer: opts.name });
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.retryBaseMs = opts.retryBaseMs ?? 100;
    this.groupSize = opts.groupSize ?? 100;
  }

  on<T>(type: EventType<T>, handle: EventHandler<T>): this {
    if (this.handlers.has(type.type))
      throw new Error(`${this.opts.name}: a handler for ${type.type} is already registered`);
    this.handlers.set(type.type, {
      type: type as EventType<unknown>,
      handle: handle as EventHandler<unknown>,
    });
    return this;
  }

  get name(): string {
    return this.opts.name;
  }

  get dlqTopic(): string {
    return this.prefix + dlqTopic(this.opts.name);
  }

  private get prefix(): string {
    return this.opts.topicPrefix ?? '';
  }

  async start(): Promise<void> {
    const topics = [...new Set([...this.handlers.values()].map((h) => this.prefix + h.type.topic))];
    if (topics.length === 0) throw new Error(`${this.opts.name}: no handlers registered`);
    const admin = this.opts.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [this.dlqTopic], 1);
    } finally {
      await admin.disconnect();
    }
    this.dlqProducer = this.opts.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await this.dlqProducer.connect();
    const consumer = this.opts.kafka.consumer({
      groupId: this.prefix + this.opts.name,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: Math.min(3_000, Math.floor((this.opts.sessionTimeoutMs ?? 30_000) / 3)),
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: this.opts.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
    await this.dlqProducer?.disconnect().catch(() => undefined);
  }

  private async eachBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    const lag = Number(batch.offsetLag());
    this.metrics.lag.set(
      { consumer: this.opts.name, topic, partition: String(partition) },
      Number.isFinite(lag) ? lag : 0,
    );
    for (let i = 0; i < batch.messages.length; i += this.groupSize) {
      if (!isRunning() || isStale()) return;
      const group = batch.messages.slice(i, i + this.groupSize);
      try {
        await this.applyGroup(group.map((m) => delivery(topic, partition, m)));
      } catch (err) {
        // One of them failed: apply them one by one to find it, retrying and dead-lettering it alone.
        this.log.debug(
          { err: (err as Error).message, topic, partition },
          'group failed; applying one by one',
        );
        for (const message of group) {
          if (!isRunning() || isStale()) return;
          await this.applyWithRetries(delivery(topic, partition, message), heartbeat);
        }
      }
      const last = group[group.length - 1].offset;
      resolveOffset(last);
      await this.consumer!.commitOffsets([{ topic, partition, offset: (BigInt(last) + 1n).toString() }]);
      await heartbeat();
    }
  }

  /**
   * Applies a group of messages in one transaction: one statement records them all in the inbox,
   * then the handlers run, in order, for those that were not there yet.
   */
  private async applyGroup(messages: Delivery[]): Promise<void> {
    const parsed = messages.map((m) => this.parse(m));
    const toRecord = parsed.filter((p): p is Parsed => p.kind === 'event');
    const outcomes: { type: string; outcome: Outcome; seconds: number }[] = [];
    await withTransaction(this.opts.pool, async (client) => {
      outcomes.length = 0;
      const fresh = await this.recordInInbox(client, toRecord);
      for (const p of parsed) {
        if (p.kind === 'ignored') {
          outcomes.push({ type: p.type, outcome: 'ignored', seconds: 0 });
          continue;
        }
        if (!fresh.delete(p.envelope.id)) {
          outcomes.push({ type: p.envelope.type, outcome: 'duplicate', seconds: 0 });
          continue;
        }
        const t0 = process.hrtime.bigint();
        await this.handle(client, p);
        outcomes.push({
          type: p.envelope.type,
          outcome: 'applied',
          seconds: Number(process.hrtime.bigint() - t0) / 1e9,
        });
      }
    });
    for (const o of outcomes) this.record(o.type, o.outcome, o.seconds);
  }

  /** Inserts inbox rows; resolves with the event ids that were new (the others were applied before). */
  private async recordInInbox(client: PoolClient, events: Parsed[]): Promise<Set<string>> {
    if (events.length === 0) return new Set();
    const { rows } = await client.query<{ event_id: string }>(
      `INSERT INTO inbox (consumer, event_id, event_type, topic, kafka_partition, kafka_offset)
       SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::bigint[])
       ON CONFLICT DO NOTHING RETURNING event_id`,
      [
        this.opts.name,
        events.map((e) => e.envelope.id),
        events.map((e) => e.envelope.type),
        events.map((e) => e.delivery.topic),
        events.map((e) => e.delivery.partition),
        events.map((e) => e.delivery.offset),
      ],
    );
    return new Set(rows.map((r) => r.event_id));
  }

  private parse(m: Delivery): Parsed | { kind: 'ignored'; type: string } {
    let envelope: EventEnvelope;
    try {
      envelope = fromHeaders(m.headers);
    } catch (err) {
      throw new PoisonError(`bad envelope: ${(err as EnvelopeError).message}`);
    }
    const registered = this.handlers.get(envelope.type);
    if (!registered) return { kind: 'ignored', type: envelope.type }; // another consumer's event on a shared topic
    if (this.prefix + registered.type.topic !== m.topic)
      throw new PoisonError(
        `${envelope.type} arrived on ${m.topic}, but belongs to ${registered.type.topic}`,
      );
    let event: unknown;
    try {
      event = registered.type.codec.decode(m.value ?? Buffer.alloc(0));
    } catch (err) {
      throw new PoisonError(`payload does not decode as ${envelope.type}: ${(err as Error).message}`);
    }
    return {
      kind: 'event',
      envelope: { ...envelope, id: envelope.id.toLowerCase() },
      event,
      registered,
      delivery: m,
    };
  }

  private handle(client: PoolClient, p: Parsed): Promise<void> {
    const { topic, partition, offset } = p.delivery;
    return withProcessSpan(
      this.opts.name,
      topic,
      headersToStrings(p.delivery.headers),
      { eventType: p.envelope.type, eventId: p.envelope.id, partition, offset },
      () => p.registered.handle(client, p.event, { envelope: p.envelope, topic, partition, offset }),
    );
  }

  private record(type: string, outcome: Outcome, seconds: number): void {
    this.metrics.consumed.inc({ consumer: this.opts.name, type, outcome });
    if (outcome === 'applied')
      this.metrics.handlerSeconds.observe({ consumer: this.opts.name, type }, seconds);
  }

  /** One message in its own transaction (used to isolate a failure, and by replay). */
  private async applyOne(client: PoolClient, m: Delivery): Promise<{ type: string; outcome: Outcome }> {
    const p = this.parse(m);
    if (p.kind === 'ignored') return { type: p.type, outcome: 'ignored' };
    const fresh = await this.recordInInbox(client, [p]);
    if (!fresh.has(p.envelope.id)) return { type: p.envelope.type, outcome: 'duplicate' };
    await this.handle(client, p);
    return { type: p.envelope.type, outcome: 'applied' };
  }

  private async applyWithRetries(
    m: Delivery,
    heartbeat: () => Promise<void>,
  ): Promise<Outcome | 'dead_lettered'> {
    const { topic, partition } = m;
    const type = headersToStrings(m.headers).ce_type ?? 'unknown';
    for (let attempt = 1; ; attempt++) {
      try {
        const t0 = process.hrtime.bigint();
        let outcome: Outcome = 'applied';
        await withTransaction(this.opts.pool, async (client) => {
          outcome = (await this.applyOne(client, m)).outcome;
        });
        this.record(type, outcome, Number(process.hrtime.bigint() - t0) / 1e9);
        return outcome;
      } catch (err) {
        const infra = err instanceof InfrastructureError ? err : classifyPgError(err);
        const poison = err instanceof PoisonError;
        if (!poison && (infra || isConnectionFailure(err))) {
          // Not the event's fault: wait for the infrastructure, however long it takes.
          this.metrics.retries.inc({ consumer: this.opts.name, type });
          this.log.warn(
            { err: (err as Error).message, topic, partition, offset: m.offset },
            'infrastructure failure; retrying',
          );
          await sleep(Math.min(this.retryBaseMs * 2 ** Math.min(attempt, 6), 5_000));
          await heartbeat().catch(() => undefined);
          attempt = 0;
          continue;
        }
        if (poison || attempt >= this.maxAttempts) {
          await this.deadLetter(m, err as Error, attempt);
          this.metrics.deadLettered.inc({ consumer: this.opts.name, type });
          this.metrics.consumed.inc({ consumer: this.opts.name, type, outcome: 'dead_lettered' });
          return 'dead_lettered';
        }
        this.metrics.retries.inc({ consumer: this.opts.name, type });
        this.log.warn(
          { err: (err as Error).message, attempt, topic, partition, offset: m.offset },
          'handler failed; retrying',
        );
        await sleep(this.retryBaseMs * 2 ** (attempt - 1));
        await heartbeat().catch(() => undefined);
      }
    }
  }

  private async deadLetter(m: Delivery, err: Error, attempts: number): Promise<void> {
    const { topic, partition } = m;
    this.log.error({ err: err.message, topic, partition, offset: m.offset, attempts }, 'event dead-lettered');
    const headers: IHeaders = {
      ...m.headers,
      [DLQ_HEADERS.error]: err.message.slice(0, 4_000),
      [DLQ_HEADERS.consumer]: this.opts.name,
      [DLQ_HEADERS.topic]: topic,
      [DLQ_HEADERS.partition]: String(partition),
      [DLQ_HEADERS.offset]: m.offset,
      [DLQ_HEADERS.attempts]: String(attempts),
      [DLQ_HEADERS.at]: new Date().toISOString(),
    };
    await this.dlqProducer!.send({
      topic: this.dlqTopic,
      acks: -1,
      messages: [{ key: m.key, value: m.value, headers }],
    });
  }

  /**
   * Re-applies everything in this consumer's DLQ through the inbox (so an event already applied is
   * not applied again). Events that fail again go back to the DLQ. Resolves with the counts once
   * the DLQ has been read to its end. Run it after deploying a fix.
   */
  async replayDeadLetters(timeoutMs = 60_000): Promise<{ replayed: number; failedAgain: number }> {
    const groupId = `${this.prefix}${this.opts.name}.dlq-replay`;
    const admin = this.opts.kafka.admin();
    await admin.connect();
    let target: Map<number, bigint>;
    const done = new Set<number>();
    try {
      const ends = await admin.fetchTopicOffsets(this.dlqTopic);
      target = new Map(ends.map((e) => [e.partition, BigInt(e.high)]));
      // partitions this replay group has already read to the end have nothing to replay
      const [committed] = await admin.fetchOffsets({ groupId, topics: [this.dlqTopic] });
      for (const p of committed?.partitions ?? []) {
        if (BigInt(p.offset) >= (target.get(p.partition) ?? 0n)) done.add(p.partition);
      }
    } finally {
      await admin.disconnect();
    }
    let replayed = 0;
    let failedAgain = 0;
    const finished = () => [...target].every(([p, high]) => done.has(p) || high === 0n);
    // Nothing to read: do not start a consumer at all (one disconnected while run() is still joining
    // its group keeps rejoining and retrying in the background after this method returned).
    if (finished()) return { replayed, failedAgain };
    const replayer = this.opts.kafka.consumer({
      groupId,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      allowAutoTopicCreation: false,
    });
    let allRead!: () => void;
    const readToEnd = new Promise<void>((resolve) => (allRead = resolve));
    let timer: NodeJS.Timeout | undefined;
    await replayer.connect();
    try {
      await replayer.subscribe({ topic: this.dlqTopic, fromBeginning: true });
      // run() resolves once the group is joined and fetching; only after that may disconnect() run
      await replayer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const h = headersToStrings(message.headers);
          const original: Delivery = {
            topic: h[DLQ_HEADERS.topic],
            partition: Number(h[DLQ_HEADERS.partition]),
            offset: h[DLQ_HEADERS.offset],
            key: message.key,
            value: message.value,
            headers: stripDlqHeaders(message.headers),
          };
          const outcome = await this.applyWithRetries(original, async () => undefined);
          if (outcome === 'dead_lettered') failedAgain++;
          else replayed++;
          await replayer.commitOffsets([
            { topic: this.dlqTopic, partition, offset: (BigInt(message.offset) + 1n).toString() },
          ]);
          if (BigInt(message.offset) + 1n >= (target.get(partition) ?? 0n)) done.add(partition);
          if (finished()) allRead();
        },
      });
      await Promise.race([
        readToEnd,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`DLQ replay of ${this.opts.name} did not finish in ${timeoutMs}ms`)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      await replayer.disconnect();
    }
    return { replayed, failedAgain };
  }
}

function stripDlqHeaders(headers: IHeaders | undefined): IHeaders {
  const out: IHeaders = {};
  const dlq = new Set<string>(Object.values(DLQ_HEADERS));
  for (const [k, v] of Object.entries(headers ?? {})) if (!dlq.has(k)) out[k] = v;
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isConnectionFailure(err: unknown): boolean {
  const msg = (err as Error)?.message ?? '';
  return /ECONNREFUSED|ECONNRESET|Connection terminated|timeout exceeded when trying to connect|the database system is (starting up|shutting down)/i.test(
    msg,
  );
}
