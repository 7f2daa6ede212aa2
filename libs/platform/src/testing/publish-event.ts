import type { Producer } from 'kafkajs';
import type { EventType } from '@citybase/contracts/event-types';
import { newEnvelope, Tenancy, toHeaders } from '../messaging/cloudevents';

/** The service a test plays when it publishes that service's events itself. */
export interface EventSource {
  /** e.g. 'payment': the envelope's source is citybase://test-city/<service>. */
  service: string;
  /** The test's topic prefix, put before the event type's topic. */
  topicPrefix: string;
}

/**
 * Publishes one event onto its topic as the source service's relay would (CloudEvents binary mode,
 * keyed by `key`, acknowledged by every replica). `eventId` repeats an event (a redelivery); by
 * default each call is a new event. Resolves with the event's id.
 */
export async function publishEvent<T>(
  producer: Producer,
  source: EventSource,
  type: EventType<T>,
  payload: T,
  opts: { key: string; tenancy?: Tenancy; eventId?: string },
): Promise<string> {
  const envelope = newEnvelope({
    city: 'test-city',
    service: source.service,
    type: type.type,
    subject: opts.key,
    tenancy: opts.tenancy,
    id: opts.eventId,
  });
  await producer.send({
    topic: source.topicPrefix + type.topic,
    acks: -1,
    messages: [
      {
        key: opts.key,
        value: Buffer.from(type.codec.encode(payload).finish()),
        headers: toHeaders(envelope),
      },
    ],
  });
  return envelope.id;
}
