import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { withTransaction } from '../db';
import { classifyPgError, InfrastructureError } from '../errors';
import { dlqTopic, ensureTopics, IdempotentProducer } from '../kafka';
import { EnvelopeError, EventEnvelope, fromHeaders, headersToStrings } from './cloudevents';
import type { EventType } from '@citybase/contracts/event-types';
import { MessagingMetrics } from './metrics';
import { withGroupProcessSpan, withProcessSpan } from './tracing';

export interface EventContext {
  envelope: EventEnvelope;
  topic: string;
  partition: number;
  offset: string;
}

/** Applies one event using the given client, inside the transaction that also records it in the inbox. */
export type EventHandler<T> = (client: PoolClient, event: T, ctx: EventContext) => Promise<void>;

/**
 * Applies consecutive events of one type (in partition order, none of them applied before) using
 * the given client, inside the transaction that also records them in the inbox: e.g. one
 * multi-row statement for all of them. Called with a single event when one is applied alone.
 */
export type GroupHandler<T> = (
  client: PoolClient,
  events: readonly { event: T; ctx: EventContext }[],
) => Promise<void>;

/**
 * `only`: a test of the decoded event, without the database, that the handler's effect needs (e.g.
 * a payment's scenario). An event it declines is not applied: like another consumer's event on a
 * shared topic, it gets no inbox row, and a group of only such events costs no database round trip.
 */
export interface HandlerOptions<T> {
  only?: (event: T) => boolean;
}

type Registered = { type: EventType<unknown>; only?: (event: unknown) => boolean } & (
  { handle: EventHandler<unknown>; group?: undefined } | { group: GroupHandler<unknown>; handle?: undefined }
);

export interface InboxConsumerOptions {
  /** Consumer name: the inbox key, the consumer group and the DLQ topic suffix (e.g. settlement.escrow). */
  name: string;
  kafka: Kafka;
  pool: Pool;
  logger: Logger;
  registry: Registry;
  /** Attempts of a failing handler before the event is dead-lettered (default 5). */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt (default 100 ms). */
  retryBaseMs?: number;
  /** Longest wait between two retries after infrastructure failures, which retry without limit (default 5 s). */
  maxRetryDelayMs?: number;
  /**
   * Process deaths (SIGKILL, out of memory, a native crash) while an event was being applied after
   * which it is dead-lettered instead of being run again (default 3). Counted by attempts recorded
   * as started before the handler runs and cleared when it finishes (migration 0004_inbox_attempts).
   */
  maxProcessDeaths?: number;
  /** Messages applied per database transaction when all goes well (default 500). */
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

/** An event no handler here applies: another consumer's, or declined by its handler's `only`. */
interface Ignored {
  kind: 'ignored';
  type: string;
}

type ParsedOrIgnored = Parsed | Ignored;

const delivery = (topic: string, partition: number, m: KafkaMessage): Delivery => ({
  topic,
  partition,
  offset: m.offset,
  key: m.key,
  value: m.value,
  headers: m.headers,
});

class PoisonError extends Error {}

/** Offsets `from`..`to` (inclusive) of one partition. */
interface OffsetRange {
  from: string;
  to: string;
}

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
  private readonly maxRetryDelayMs: number;
  private readonly maxProcessDeaths: number;
  private readonly groupSize: number;
  private consumer: Consumer | undefined;
  private dlqProducer: IdempotentProducer | undefined;
  private stopped = false;
  private crashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: InboxConsumerOptions) {
    this.metrics = MessagingMetrics.for(opts.registry);
    this.log = opts.logger.child({ component: 'inbox-consumer', consumer: opts.name });
    this.maxAttempts = opts.maxAttempts ?? 5;
    this.retryBaseMs = opts.retryBaseMs ?? 100;
    this.maxRetryDelayMs = opts.maxRetryDelayMs ?? 5_000;
    this.maxProcessDeaths = opts.maxProcessDeaths ?? 3;
    this.groupSize = opts.groupSize ?? 500;
  }

  on<T>(type: EventType<T>, handle: EventHandler<T>, options: HandlerOptions<T> = {}): this {
    return this.register({
      type: type as EventType<unknown>,
      handle: handle as EventHandler<unknown>,
      only: options.only as ((event: unknown) => boolean) | undefined,
    });
  }

  /** Registers a handler that applies runs of consecutive events of `type` at once (see GroupHandler). */
  onGroup<T>(type: EventType<T>, group: GroupHandler<T>): this {
    return this.register({ type: type as EventType<unknown>, group: group as GroupHandler<unknown> });
  }

  private register(r: Registered): this {
    if (this.handlers.has(r.type.type))
      throw new Error(`${this.opts.name}: a handler for ${r.type.type} is already registered`);
    this.handlers.set(r.type.type, r);
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
    this.dlqProducer = new IdempotentProducer(this.opts.kafka, { allowAutoTopicCreation: false });
    await this.dlqProducer.connect();
    await this.runConsumer(topics);
  }

  /** Joins the consumer group and starts fetching; a crash kafkajs does not recover from is recovered here. */
  private async runConsumer(topics: string[]): Promise<void> {
    const consumer = this.opts.kafka.consumer({
      groupId: this.prefix + this.opts.name,
      sessionTimeout: this.opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: Math.min(3_000, Math.floor((this.opts.sessionTimeoutMs ?? 30_000) / 3)),
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    // kafkajs restarts itself after retriable errors only; after any other crash it stays
    // disconnected, and the service would go on serving without consuming. Start a new consumer.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || this.stopped || this.consumer !== consumer) return;
      this.restartLater(topics, consumer, payload.error.message);
    });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: this.opts.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  /** Replaces a consumer kafkajs gave up on, after a growing delay; again if that fails too. */
  private restartLater(topics: string[], old: Consumer, reason: string): void {
    this.crashes++;
    const delayMs = infraRetryDelayMs(this.crashes, this.retryBaseMs * 10, this.maxRetryDelayMs);
    this.log.error(
      { err: reason, crashes: this.crashes, restartInMs: delayMs },
      'consumer crashed; starting a new one',
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      void old
        .disconnect()
        .catch(() => undefined)
        .then(() => (this.stopped ? undefined : this.runConsumer(topics)))
        .catch((err: unknown) => this.restartLater(topics, this.consumer ?? old, (err as Error).message));
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
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
    for (let i = 0; i < batch.messages.length;) {
      if (!isRunning() || isStale()) return;
      let group = batch.messages.slice(i, i + this.groupSize);
      const first = group[0].offset;
      const last = group[group.length - 1].offset;
      const parsed = this.parseGroup(topic, partition, group);
      if (parsed?.every((p): p is Ignored => p.kind === 'ignored')) {
        // only events no handler here applies (other consumers' on a shared topic, or declined by
        // a handler's `only`): nothing runs, so nothing to record
        for (const p of parsed) this.record(p.type, 'ignored', 0);
        resolveOffset(last);
        await this.commit(topic, partition, last);
        await heartbeat();
        i += group.length;
        continue;
      }
      let died: OffsetRange | undefined;
      let applied = false;
      try {
        // recorded (and committed) before any handler runs; cleared by the group's own transaction
        died = await this.startGroup(topic, partition, first, last);
        if (!died) {
          await this.applyGroup(
            // parsed again here when one of them is poison: its error takes the one-by-one path
            parsed ?? group.map((m) => this.parse(delivery(topic, partition, m))),
            first,
          );
          applied = true;
        }
      } catch (err) {
        // One of them failed: apply them one by one to find it, retrying and dead-lettering it alone.
        this.log.debug(
          { err: (err as Error).message, topic, partition },
          'group failed; applying one by one',
        );
      }
      if (applied) {
        resolveOffset(last);
        await this.commit(topic, partition, last);
        await heartbeat();
        i += group.length;
        continue;
      }
      if (died) {
        // The process died while it applied these offsets as a group: one of them may kill it
        // again. Apply them one by one, counting each one's deaths, until the dead range is behind.
        this.log.warn(
          { topic, partition, from: died.from, to: died.to },
          'the process died while applying this group; applying its messages one by one',
        );
        const to = BigInt(died.to);
        group = group.filter((m) => BigInt(m.offset) <= to);
      }
      for (const message of group) {
        if (!isRunning() || isStale()) return;
        const inDeadGroup =
          died !== undefined &&
          BigInt(message.offset) >= BigInt(died.from) &&
          BigInt(message.offset) <= BigInt(died.to);
        await this.applyWithRetries(delivery(topic, partition, message), heartbeat, {
          // the group's death may have been this message's doing
          priorDeaths: inDeadGroup ? 1 : 0,
        });
        // Commit each finished message at once: redelivered after a later death, it would be
        // started (and counted) again although it had finished.
        resolveOffset(message.offset);
        await this.commit(topic, partition, message.offset);
        // one by one takes longer than a group: keep the membership alive meanwhile
        await heartbeat();
      }
      await heartbeat();
      i += group.length;
    }
  }

  /** A group's messages parsed; undefined when one of them is poison (it takes the usual path). */
  private parseGroup(
    topic: string,
    partition: number,
    messages: KafkaMessage[],
  ): ParsedOrIgnored[] | undefined {
    try {
      return messages.map((m) => this.parse(delivery(topic, partition, m)));
    } catch (err) {
      if (err instanceof PoisonError) return undefined;
      throw err;
    }
  }

  /**
   * Commits the offset after `offset`. When the group has moved on without this member (its session
   * expired during a long batch, or a rebalance began), kafkajs wraps the broker's answer in a
   * non-retriable error, and an eachBatch throwing that crashes the consumer for good. The broker's
   * own error, rethrown, makes kafkajs rejoin the group instead; what this member applied is in the
   * inbox, so messages delivered again are skipped as duplicates.
   */
  private async commit(topic: string, partition: number, offset: string): Promise<void> {
    try {
      await this.consumer!.commitOffsets([{ topic, partition, offset: (BigInt(offset) + 1n).toString() }]);
    } catch (err) {
      const lost = groupMembershipError(err);
      if (lost) this.log.warn({ topic, partition, err: lost.message }, 'left the group; rejoining');
      throw lost ?? err;
    }
  }

  /**
   * Records that this partition starts applying offsets `from`..`to` as a group, in a transaction
   * of its own. If the previous group recorded for the partition overlaps them, it never finished:
   * the process died while applying it. Then that range is answered (and left recorded) instead.
   */
  private async startGroup(
    topic: string,
    partition: number,
    from: string,
    to: string,
  ): Promise<OffsetRange | undefined> {
    const { rows } = await this.opts.pool.query<OffsetRange>(
      `WITH prev AS (
         SELECT from_offset, to_offset FROM inbox_group_attempt
         WHERE consumer = $1 AND topic = $2 AND kafka_partition = $3
       ), started AS (
         INSERT INTO inbox_group_attempt AS g (consumer, topic, kafka_partition, from_offset, to_offset)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (consumer, topic, kafka_partition) DO UPDATE
           SET from_offset = EXCLUDED.from_offset, to_offset = EXCLUDED.to_offset, started_at = now()
           WHERE NOT (g.from_offset <= $5 AND g.to_offset >= $4)
       )
       SELECT from_offset::text AS "from", to_offset::text AS "to" FROM prev
       WHERE from_offset <= $5 AND to_offset >= $4`,
      [this.opts.name, topic, partition, from, to],
    );
    return rows[0];
  }

  /** Records that a message is started on its own; resolves with the deaths recorded before this start. */
  private async startAttempt(m: Delivery, priorDeaths: number): Promise<number> {
    const { rows } = await this.opts.pool.query<{ starts: number }>(
      `INSERT INTO inbox_message_attempt AS a (consumer, topic, kafka_partition, kafka_offset, starts)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (consumer, topic, kafka_partition, kafka_offset) DO UPDATE
         SET starts = a.starts + 1, updated_at = now()
       RETURNING starts`,
      [this.opts.name, m.topic, m.partition, m.offset, priorDeaths + 1],
    );
    return rows[0].starts - 1;
  }

  /** The message finished (applied, skipped or dead-lettered): it no longer counts as started. */
  private async finishAttempt(db: Pool | PoolClient, m: Delivery): Promise<void> {
    await db.query(
      `DELETE FROM inbox_message_attempt
       WHERE consumer = $1 AND topic = $2 AND kafka_partition = $3 AND kafka_offset = $4`,
      [this.opts.name, m.topic, m.partition, m.offset],
    );
  }

  /**
   * Applies a group of messages in one transaction: one statement records them all in the inbox,
   * then the handlers run, in order, for those that were not there yet.
   */
  private async applyGroup(parsed: ParsedOrIgnored[], firstOffset: string): Promise<void> {
    const toRecord = parsed.filter((p): p is Parsed => p.kind === 'event');
    const outcomes: { type: string; outcome: Outcome; seconds: number }[] = [];
    await withTransaction(this.opts.pool, async (client) => {
      outcomes.length = 0;
      const fresh = await this.recordInInbox(client, toRecord, firstOffset);
      // consecutive events of one group handler are handed to it together
      let run: Parsed[] = [];
      const flush = async () => {
        if (run.length === 0) return;
        const events = run;
        run = [];
        const t0 = process.hrtime.bigint();
        await this.handle(client, events);
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9 / events.length;
        for (const p of events) outcomes.push({ type: p.envelope.type, outcome: 'applied', seconds });
      };
      for (const p of parsed) {
        if (p.kind === 'ignored') {
          outcomes.push({ type: p.type, outcome: 'ignored', seconds: 0 });
          continue;
        }
        if (!fresh.delete(p.envelope.id)) {
          outcomes.push({ type: p.envelope.type, outcome: 'duplicate', seconds: 0 });
          continue;
        }
        if (run.length > 0 && (!p.registered.group || run[0].registered !== p.registered)) await flush();
        run.push(p);
        if (!p.registered.group) await flush();
      }
      await flush();
    });
    for (const o of outcomes) this.record(o.type, o.outcome, o.seconds);
  }

  /**
   * Inserts inbox rows; resolves with the event ids that were new (the others were applied before).
   * With `groupFrom`, the same statement clears the group's start record (startGroup), so that it
   * goes with the group's commit.
   */
  private async recordInInbox(
    client: PoolClient,
    events: Parsed[],
    groupFrom?: string,
  ): Promise<Set<string>> {
    if (events.length === 0) return new Set();
    const { topic, partition } = events[0].delivery;
    const { rows } = await client.query<{ event_id: string }>(
      `WITH finished AS (
         DELETE FROM inbox_group_attempt
         WHERE $7::bigint IS NOT NULL AND consumer = $1 AND topic = $8 AND kafka_partition = $9
           AND from_offset = $7
       )
       INSERT INTO inbox (consumer, event_id, event_type, topic, kafka_partition, kafka_offset)
       SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::bigint[])
       ON CONFLICT DO NOTHING RETURNING event_id`,
      [
        this.opts.name,
        events.map((e) => e.envelope.id),
        events.map((e) => e.envelope.type),
        events.map((e) => e.delivery.topic),
        events.map((e) => e.delivery.partition),
        events.map((e) => e.delivery.offset),
        groupFrom ?? null,
        topic,
        partition,
      ],
    );
    return new Set(rows.map((r) => r.event_id));
  }

  private parse(m: Delivery): ParsedOrIgnored {
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
    if (registered.only && !registered.only(event)) return { kind: 'ignored', type: envelope.type };
    return {
      kind: 'event',
      envelope: { ...envelope, id: envelope.id.toLowerCase() },
      event,
      registered,
      delivery: m,
    };
  }

  /** Runs the handler of one event, or the group handler of consecutive events of one type. */
  private handle(client: PoolClient, events: Parsed[]): Promise<void> {
    const [p] = events;
    const { topic, partition, offset } = p.delivery;
    const ctx = (e: Parsed): EventContext => ({
      envelope: e.envelope,
      topic: e.delivery.topic,
      partition: e.delivery.partition,
      offset: e.delivery.offset,
    });
    const { handle, group } = p.registered;
    if (handle)
      return withProcessSpan(
        this.opts.name,
        topic,
        headersToStrings(p.delivery.headers),
        { eventType: p.envelope.type, eventId: p.envelope.id, partition, offset },
        () => handle(client, p.event, ctx(p)),
      );
    return withGroupProcessSpan(
      this.opts.name,
      topic,
      events.map((e) => headersToStrings(e.delivery.headers)),
      { eventType: p.envelope.type, partition, offset },
      () =>
        group(
          client,
          events.map((e) => ({ event: e.event, ctx: ctx(e) })),
        ),
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
    await this.handle(client, [p]);
    return { type: p.envelope.type, outcome: 'applied' };
  }

  /**
   * Applies one message in its own transaction. Infrastructure failures are retried without limit,
   * waiting longer each time (up to maxRetryDelayMs); handler failures up to maxAttempts, then the
   * message is dead-lettered. With `deaths`, the start is first recorded in a committed write of its
   * own, so that a process that dies in the handler leaves a count behind; a message that killed
   * the process maxProcessDeaths times is dead-lettered without running its handler again.
   */
  private async applyWithRetries(
    m: Delivery,
    heartbeat: () => Promise<void>,
    deaths?: { priorDeaths: number },
  ): Promise<Outcome | 'dead_lettered'> {
    const { topic, partition } = m;
    const type = headersToStrings(m.headers).ce_type ?? 'unknown';
    let failures = 0; // handler failures: limited by maxAttempts
    let infraFailures = 0; // infrastructure failures in a row: unlimited, growing backoff
    let diedBefore = deaths ? undefined : 0;
    for (;;) {
      try {
        if (diedBefore === undefined) diedBefore = await this.startAttempt(m, deaths?.priorDeaths ?? 0);
        if (diedBefore >= this.maxProcessDeaths) break;
        const t0 = process.hrtime.bigint();
        let outcome: Outcome = 'applied';
        await withTransaction(this.opts.pool, async (client) => {
          outcome = (await this.applyOne(client, m)).outcome;
          if (deaths) await this.finishAttempt(client, m);
        });
        this.record(type, outcome, Number(process.hrtime.bigint() - t0) / 1e9);
        return outcome;
      } catch (err) {
        const infra = err instanceof InfrastructureError ? err : classifyPgError(err);
        const poison = err instanceof PoisonError;
        if (!poison && infra) {
          // Not the event's fault: wait for the infrastructure, however long it takes.
          infraFailures++;
          const delayMs = infraRetryDelayMs(infraFailures, this.retryBaseMs, this.maxRetryDelayMs);
          this.metrics.retries.inc({ consumer: this.opts.name, type });
          this.log.warn(
            {
              err: (err as Error).message,
              topic,
              partition,
              offset: m.offset,
              failures: infraFailures,
              retryInMs: delayMs,
            },
            'infrastructure failure; retrying',
          );
          await sleep(delayMs);
          await heartbeat().catch(() => undefined);
          continue;
        }
        infraFailures = 0;
        failures++;
        if (poison || failures >= this.maxAttempts) {
          await this.deadLetter(m, err as Error, failures);
          if (deaths) await this.finishAttemptAfterDeadLetter(m);
          this.metrics.deadLettered.inc({ consumer: this.opts.name, type });
          this.metrics.consumed.inc({ consumer: this.opts.name, type, outcome: 'dead_lettered' });
          return 'dead_lettered';
        }
        this.metrics.retries.inc({ consumer: this.opts.name, type });
        this.log.warn(
          { err: (err as Error).message, attempt: failures, topic, partition, offset: m.offset },
          'handler failed; retrying',
        );
        await sleep(this.retryBaseMs * 2 ** (failures - 1));
        await heartbeat().catch(() => undefined);
      }
    }
    // The process died diedBefore times while this message was being applied.
    const err = new Error(
      `crashed the process ${diedBefore} times: the consumer died ${diedBefore} times while applying this event, so its handler is not run again`,
    );
    await this.deadLetter(m, err, diedBefore);
    await this.finishAttemptAfterDeadLetter(m);
    this.metrics.deadLettered.inc({ consumer: this.opts.name, type });
    this.metrics.consumed.inc({ consumer: this.opts.name, type, outcome: 'dead_lettered' });
    return 'dead_lettered';
  }

  /**
   * Best effort: the message is in the DLQ and its offset is committed next, so a row left behind
   * (database down right now) is never read again for it.
   */
  private async finishAttemptAfterDeadLetter(m: Delivery): Promise<void> {
    await this.finishAttempt(this.opts.pool, m).catch((err: Error) =>
      this.log.warn(
        { err: err.message, topic: m.topic, partition: m.partition, offset: m.offset },
        'could not clear the attempt record of a dead-lettered event',
      ),
    );
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

/** Broker answers that mean this member is no longer (or not yet again) part of its group. */
const GROUP_MEMBERSHIP_ERRORS = new Set([
  'UNKNOWN_MEMBER_ID',
  'ILLEGAL_GENERATION',
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
]);

/** The broker's own membership error behind a kafkajs error (kafkajs nests it in `cause`), if any. */
export function groupMembershipError(err: unknown): Error | undefined {
  for (let e = err as { type?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.type && GROUP_MEMBERSHIP_ERRORS.has(e.type)) return e as Error;
    if (e.cause === e) break;
  }
  return undefined;
}

function stripDlqHeaders(headers: IHeaders | undefined): IHeaders {
  const out: IHeaders = {};
  const dlq = new Set<string>(Object.values(DLQ_HEADERS));
  for (const [k, v] of Object.entries(headers ?? {})) if (!dlq.has(k)) out[k] = v;
  return out;
}

/** Wait before retry number `failures` (1, 2, ...) after infrastructure failures: doubling from `baseMs`, capped. */
export function infraRetryDelayMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** Math.min(failures - 1, 30), maxMs);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
