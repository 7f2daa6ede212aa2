import type { Kafka, Message } from 'kafkajs';
import { Client } from 'pg';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { countRoundTrips } from '../db/round-trips';
import { IdempotentProducer } from '../kafka';
import { MessagingMetrics } from './metrics';
import { OUTBOX_SHARDS } from './outbox';
import { endSpan, startPublishSpan } from './tracing';

/**
 * A batch this big means a busy outbox: the relay reads ahead while the broker works and marks its
 * shards awake, so writers skip their NOTIFY (which serializes commits). Smaller batches are sent
 * without either: an isolated event costs two statements (the read, and the next read that marks it).
 */
const BUSY_BATCH_ROWS = 4;

/** Session advisory-lock namespace of shard ownership (two-int form: namespace, shard). */
const SHARD_LOCK_NAMESPACE = 0x72656c; // "rel"

export interface RelayOptions {
  databaseUrl: string;
  kafka: Kafka;
  logger: Logger;
  registry: Registry;
  batchSize?: number;
  /** Fallback poll when no NOTIFY arrives (ms). */
  pollIntervalMs?: number;
  /** Published rows older than this are deleted (ms). */
  retentionMs?: number;
}

interface OutboxRow {
  id: string;
  topic: string;
  partition_key: string;
  event_type: string;
  headers: Record<string, string>;
  payload: Buffer;
}

/**
 * Publishes committed outbox rows to Kafka, in id order within each shard it owns, with an
 * idempotent producer; marks rows published only after the broker acknowledged them. Recovers
 * by itself from database and broker outages. Design: docs/adr/0004-event-backbone.md.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly retentionMs: number;
  private readonly metrics: MessagingMetrics;
  private readonly log: Logger;
  private readonly producer: IdempotentProducer;
  private client: Client | undefined;
  private owned = new Set<number>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** A NOTIFY arrived since the last batch was selected. */
  private notified = false;
  /** Writers skip NOTIFY for shards listed as awake in outbox_relay_awake. */
  private awake = false;
  private lastPrune = 0;
  private lastGauge = 0;
  /** Ids the broker acknowledged that are not marked published yet (the next fetch marks them). */
  private acked: string[] = [];
  /** The batch read while the previous one was being published; sent next unless a round failed. */
  private prefetched: OutboxRow[] | undefined;

  constructor(private readonly opts: RelayOptions) {
    this.batchSize = opts.batchSize ?? 1_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 500;
    this.retentionMs = opts.retentionMs ?? 60 * 60 * 1000;
    this.metrics = MessagingMetrics.for(opts.registry);
    this.log = opts.logger.child({ component: 'outbox-relay' });
    this.producer = new IdempotentProducer(opts.kafka, {
      allowAutoTopicCreation: false,
      retry: { retries: 10 },
    });
  }

  /** Shards this relay publishes right now (for tests and diagnostics). */
  ownedShards(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  async start(): Promise<void> {
    this.running = true;
    await this.producer.connect();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.dropConnection();
    await this.producer.disconnect().catch(() => undefined);
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (this.running) {
      try {
        const client = await this.connection();
        await this.claimShards(client);
        const published = this.owned.size > 0 ? await this.publishBatch(client) : 0;
        await this.housekeeping(client);
        backoff = 100;
        if (published >= BUSY_BATCH_ROWS) {
          // busy: keep polling without waiting, and spare the writers their NOTIFY
          if (!this.awake) await this.setAwake(client, true);
        } else if (published > 0) {
          // a few rows: look again at once (that read also marks them published); writers that
          // committed meanwhile have notified unless this relay is awake
        } else if (this.awake) {
          // going to sleep: writers notify again from now on; look once more for rows that
          // committed while they still thought this relay was awake
          await this.setAwake(client, false);
        } else {
          await this.idle();
        }
      } catch (err) {
        // what was read ahead is read again after what failed, in order
        this.prefetched = undefined;
        this.log.warn({ err: (err as Error).message }, 'relay round failed; retrying');
        if (isConnectionError(err)) await this.dropConnection();
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
    // mark what the broker acknowledged before the shards go to another relay, which would send it again
    if (this.acked.length > 0 && this.client)
      await this.markAcked(this.client).catch((err: Error) =>
        this.log.warn(
          { err: err.message },
          'could not mark the last published rows; they will be published again',
        ),
      );
  }

  private async connection(): Promise<Client> {
    if (this.client) return this.client;
    const client = countRoundTrips(
      new Client({ connectionString: this.opts.databaseUrl, application_name: 'citybase-outbox-relay' }),
      'event',
    );
    client.on('error', () => void this.dropConnection());
    client.on('notification', () => {
      this.notified = true;
      this.wake?.();
    });
    await client.connect();
    await client.query('LISTEN citybase_outbox');
    this.client = client;
    return client;
  }

  private async dropConnection(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c && this.awake)
      await c
        .query('DELETE FROM outbox_relay_awake WHERE shard = ANY($1::smallint[])', [[...this.owned]])
        .catch(() => undefined);
    this.awake = false;
    this.owned.clear(); // session locks die with the connection
    // another relay may own these rows' shards now: it publishes what was not marked again
    this.acked = [];
    this.prefetched = undefined;
    await c?.end().catch(() => undefined);
  }

  /** Takes every shard nobody holds; another relay's shards stay with it until it goes away. */
  private async claimShards(client: Client): Promise<void> {
    if (this.owned.size === OUTBOX_SHARDS) return;
    const free = Array.from({ length: OUTBOX_SHARDS }, (_, i) => i).filter((s) => !this.owned.has(s));
    const { rows } = await client.query<{ shard: number; got: boolean }>(
      'SELECT s AS shard, pg_try_advisory_lock($1, s) AS got FROM unnest($2::int[]) AS s',
      [SHARD_LOCK_NAMESPACE, free],
    );
    const claimed = rows.filter((r) => r.got).map((r) => r.shard);
    for (const shard of claimed) this.owned.add(shard);
    // a relay that died while busy may have left its shards marked awake
    if (claimed.length > 0) {
      await client.query('DELETE FROM outbox_relay_awake WHERE shard = ANY($1::smallint[])', [claimed]);
      this.awake = false;
    }
  }

  private async setAwake(client: Client, awake: boolean): Promise<void> {
    const shards = [...this.owned];
    if (awake) {
      await client.query(
        'INSERT INTO outbox_relay_awake (shard) SELECT unnest($1::smallint[]) ON CONFLICT DO NOTHING',
        [shards],
      );
    } else {
      await client.query('DELETE FROM outbox_relay_awake WHERE shard = ANY($1::smallint[])', [shards]);
    }
    this.awake = awake;
  }

  /**
   * One round: publishes the next batch in id order and, while the broker works on it, marks the
   * batch acknowledged before it and reads the one after it (excluding the rows in flight). The
   * read-ahead is sent only after this batch was acknowledged, and dropped if anything failed, so
   * per shard the rows still go out in id order, each batch after the one before it.
   */
  private async publishBatch(client: Client): Promise<number> {
    this.notified = false;
    // an empty read-ahead is read again: that read also marks the last batch published
    const batch = this.prefetched?.length ? this.prefetched : await this.fetch(client, []);
    this.prefetched = undefined;
    if (batch.length === 0) return 0;
    if (!this.awake && batch.length < BUSY_BATCH_ROWS) {
      // a quiet moment: no read-ahead (the next round's read marks this batch and reads what came)
      await this.send(batch);
      for (const row of batch) this.acked.push(row.id);
      return batch.length;
    }
    const [sent, next] = await Promise.allSettled([this.send(batch), this.fetch(client, batch)]);
    if (sent.status === 'rejected') throw sent.reason;
    for (const row of batch) this.acked.push(row.id);
    if (next.status === 'rejected') throw next.reason;
    this.prefetched = next.value;
    return batch.length;
  }

  /**
   * Marks the acknowledged rows published and reads the next batch of owned shards, in one
   * statement; `inFlight` rows (being sent) are not read again.
   */
  private async fetch(client: Client, inFlight: OutboxRow[]): Promise<OutboxRow[]> {
    const marking = this.acked;
    this.acked = [];
    try {
      const { rows } = await client.query<OutboxRow>(
        `WITH marked AS (UPDATE outbox SET published_at = now() WHERE id = ANY($3::bigint[]))
         SELECT id, topic, partition_key, event_type, headers, payload FROM outbox
         WHERE published_at IS NULL AND shard = ANY($1::smallint[]) AND id <> ALL($4::bigint[])
         ORDER BY id LIMIT $2`,
        [[...this.owned], this.batchSize, marking, [...marking, ...inFlight.map((r) => r.id)]],
      );
      return rows;
    } catch (err) {
      this.acked = [...marking, ...this.acked];
      throw err;
    }
  }

  private async markAcked(client: Client): Promise<void> {
    const marking = this.acked;
    this.acked = [];
    try {
      await client.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [marking]);
    } catch (err) {
      this.acked = [...marking, ...this.acked];
      throw err;
    }
  }

  /** Sends a batch, one request per round; resolves when the broker acknowledged all of it. */
  private async send(rows: OutboxRow[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    const spans = [];
    const counts = new Map<string, { topic: string; type: string; n: number }>();
    for (const row of rows) {
      const messages = byTopic.get(row.topic) ?? [];
      const { span, headers } = startPublishSpan(
        row.topic,
        row.event_type,
        row.headers.ce_id ?? '',
        row.headers,
      );
      spans.push(span);
      messages.push({ key: row.partition_key, value: row.payload, headers });
      byTopic.set(row.topic, messages);
      const k = `${row.topic}\n${row.event_type}`;
      const c = counts.get(k) ?? { topic: row.topic, type: row.event_type, n: 0 };
      c.n++;
      counts.set(k, c);
    }
    try {
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    } catch (err) {
      for (const span of spans) endSpan(span, err);
      throw err;
    }
    for (const span of spans) endSpan(span);
    for (const c of counts.values()) this.metrics.published.inc({ topic: c.topic, type: c.type }, c.n);
  }

  private async housekeeping(client: Client): Promise<void> {
    const now = Date.now();
    if (now - this.lastGauge >= 1_000) {
      this.lastGauge = now;
      const { rows } = await client.query<{ n: number; age: number | null }>(
        `SELECT count(*)::int AS n, extract(epoch FROM now() - min(created_at))::float8 AS age FROM outbox WHERE published_at IS NULL`,
      );
      this.metrics.outboxBacklog.set(rows[0].n);
      this.metrics.outboxOldestAge.set(rows[0].age ?? 0);
    }
    if (now - this.lastPrune >= 60_000 && this.owned.size > 0) {
      this.lastPrune = now;
      const cutoff = new Date(now - this.retentionMs);
      const res = await client.query(
        'DELETE FROM outbox WHERE published_at < $1 AND shard = ANY($2::smallint[])',
        [cutoff, [...this.owned]],
      );
      if (res.rowCount) this.log.debug({ pruned: res.rowCount }, 'pruned published outbox rows');
    }
  }

  /** Waits for a NOTIFY from an outbox insert, or the poll interval. */
  private idle(): Promise<void> {
    if (this.notified || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  /** Deletes published rows now, whatever their age (operators and tests). */
  async pruneNow(olderThanMs = 0): Promise<number> {
    const client = await this.connection();
    const res = await client.query('DELETE FROM outbox WHERE published_at < $1', [
      new Date(Date.now() - olderThanMs),
    ]);
    return res.rowCount ?? 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  const msg = (err as Error).message ?? '';
  return (
    (typeof code === 'string' && /^(08|57P)/.test(code)) ||
    /Connection terminated|ECONNREFUSED|ECONNRESET|not queryable/i.test(msg)
  );
}
