import type { PoolClient } from 'pg';
import { EventEnvelope, newEnvelope, Tenancy, toHeaders } from './cloudevents';
import type { EventType } from '@citybase/contracts/event-types';

/** Shards of the outbox; a relay owns whole shards. Fixed by the schema (migration 0001_messaging). */
export const OUTBOX_SHARDS = 16;
/** Advisory-lock namespace (first key of the two-int form) of per-key commit-order locks. */
const KEY_LOCK_NAMESPACE = 0x6f7478; // "otx"

export interface EnqueueOptions {
  /** Partition key: the aggregate id (payment id, account id, device id). */
  key: string;
  subject?: string;
  tenancy?: Tenancy;
  /** A deterministic id when the caller needs one; a random UUID otherwise. */
  eventId?: string;
}

export interface EventSource {
  city: string;
  service: string;
  /** Prepended to every topic name (KAFKA_TOPIC_PREFIX): several cities or test suites on one cluster. */
  topicPrefix?: string;
}

/** One event of a multi-event enqueue. */
export interface OutboxEvent<T> extends EnqueueOptions {
  type: EventType<T>;
  payload: T;
}

/**
 * One statement: takes the per-key transaction locks of every distinct key (in hash order, so two
 * transactions locking the same keys cannot deadlock on each other), then inserts the rows in the
 * given order. The locks are taken before any row draws its id: `locked` is materialized and every
 * inserted row is joined to it. Prepared once per connection (`name`).
 */
const ENQUEUE_SQL = `
WITH locked AS MATERIALIZED (
  SELECT count(pg_advisory_xact_lock(${KEY_LOCK_NAMESPACE}, h)) AS n
  FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($1::text[]) AS k ORDER BY h) AS keys
)
INSERT INTO outbox (event_id, shard, topic, partition_key, event_type, headers, payload)
SELECT e.event_id, mod(abs(hashtext(e.partition_key)::bigint), ${OUTBOX_SHARDS}), e.topic,
       e.partition_key, e.event_type, e.headers, e.payload
FROM locked,
     unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::bytea[])
       WITH ORDINALITY AS e(event_id, topic, partition_key, event_type, headers, payload, ord)
ORDER BY e.ord`;

/**
 * Writes an event into the outbox inside the caller's transaction (the client must be in one):
 * it is published if and only if that transaction commits. Same-key writers are serialized from
 * here to their commit, so per key the outbox order is the commit order (docs/adr/0004).
 */
export async function enqueue<T>(
  client: PoolClient,
  source: EventSource,
  type: EventType<T>,
  payload: T,
  opts: EnqueueOptions,
): Promise<EventEnvelope> {
  const [envelope] = await enqueueMany(client, source, [{ ...opts, type, payload }]);
  return envelope;
}

/**
 * Writes several events into the outbox in one statement inside the caller's transaction, with
 * the guarantees of `enqueue`; events of one key are published in the order given.
 */
export async function enqueueMany(
  client: PoolClient,
  source: EventSource,
  events: readonly OutboxEvent<unknown>[],
): Promise<EventEnvelope[]> {
  if (events.length === 0) return [];
  const envelopes = events.map((e) =>
    newEnvelope({
      city: source.city,
      service: source.service,
      type: e.type.type,
      subject: e.subject,
      tenancy: e.tenancy,
      id: e.eventId,
    }),
  );
  const prefix = source.topicPrefix ?? '';
  await client.query({
    name: 'citybase_outbox_enqueue',
    text: ENQUEUE_SQL,
    values: [
      // the lock key names the unprefixed topic, as it always has
      events.map((e) => `${e.type.topic}/${e.key}`),
      envelopes.map((env) => env.id),
      events.map((e) => prefix + e.type.topic),
      events.map((e) => e.key),
      events.map((e) => e.type.type),
      envelopes.map((env) => JSON.stringify(toHeaders(env))),
      events.map((e) => Buffer.from(e.type.codec.encode(e.payload).finish())),
    ],
  });
  return envelopes;
}
