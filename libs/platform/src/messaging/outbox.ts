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
  const envelope = newEnvelope({
    city: source.city,
    service: source.service,
    type: type.type,
    subject: opts.subject,
    tenancy: opts.tenancy,
    id: opts.eventId,
  });
  const bytes = Buffer.from(type.codec.encode(payload).finish());
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
    KEY_LOCK_NAMESPACE,
    `${type.topic}/${opts.key}`,
  ]);
  await client.query(
    `INSERT INTO outbox (event_id, shard, topic, partition_key, event_type, headers, payload)
     VALUES ($1, mod(abs(hashtext($3)::bigint), ${OUTBOX_SHARDS}), $2, $3, $4, $5, $6)`,
    [
      envelope.id,
      (source.topicPrefix ?? '') + type.topic,
      opts.key,
      type.type,
      JSON.stringify(toHeaders(envelope)),
      bytes,
    ],
  );
  return envelope;
}
