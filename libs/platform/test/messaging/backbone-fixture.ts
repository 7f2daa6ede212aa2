import { Kafka, logLevel } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { PaymentCreated } from '@citybase/contracts/citybase/payment/v1/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { createPool, ensureTopics, platformMigrations, runMigrations } from '../../src';
import {
  defineEvent,
  EventContext,
  EventSource,
  InboxConsumer,
  InboxConsumerOptions,
  OutboxRelay,
  RelayOptions,
  toTimestamp,
} from '../../src/messaging';
import {
  createTestDatabase,
  kafkaTestPrefix,
  TestDatabase,
  testEndpoints,
  uniqueName,
} from '../../src/testing';

export const PaymentCreatedEvent = defineEvent('citybase.payment.v1.PaymentCreated', PaymentCreated);

export function paymentCreated(paymentId: string, amountMinor = 100n): PaymentCreated {
  return {
    paymentId,
    tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: '' },
    merchantId: 'm-1',
    scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
    amount: { currency: 'CNY', amountMinor },
    channel: 'sandbox',
    occurredAt: toTimestamp(new Date()),
    checkoutId: '',
  };
}

export interface Backbone {
  db: TestDatabase;
  pool: Pool;
  kafka: Kafka;
  prefix: string;
  source: EventSource;
  topic: string;
  registry: Registry;
  logger: pino.Logger;
  /** An outbox relay of this database to this broker (not started). */
  relay(options?: Partial<RelayOptions>): OutboxRelay;
  /** An inbox consumer of this database and topic namespace (not started). */
  consumer(name: string, options?: Partial<InboxConsumerOptions>): InboxConsumer;
  close(): Promise<void>;
}

/** A fresh database with the platform tables and a topic namespace of its own, on the real servers. */
export async function createBackbone(label: string): Promise<Backbone> {
  const db = await createTestDatabase(label);
  const pool = createPool(db.url, { max: 30 });
  await runMigrations(pool, [platformMigrations]);
  const prefix = kafkaTestPrefix(label);
  const kafka = new Kafka({
    clientId: label,
    brokers: testEndpoints.kafkaBrokers(),
    logLevel: logLevel.NOTHING,
  });
  const topic = prefix + PaymentCreatedEvent.topic;
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, [topic], 6);
  await admin.disconnect();
  const registry = new Registry();
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  return {
    db,
    pool,
    kafka,
    prefix,
    topic,
    source: { city: 'test-city', service: 'payment', topicPrefix: prefix },
    registry,
    logger,
    relay: (options) => new OutboxRelay({ databaseUrl: db.url, kafka, logger, registry, ...options }),
    consumer: (name, options) =>
      new InboxConsumer({ name, kafka, pool, logger, registry, topicPrefix: prefix, ...options }),
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}

/**
 * A backbone for consumer suites: an `effects` table with no unique key (only the inbox prevents
 * doubles) and the outbox relay running (polling every 100 ms); close() stops the relay first.
 */
export async function createConsumerBackbone(label: string): Promise<Backbone> {
  const bb = await createBackbone(label);
  await bb.pool.query('CREATE TABLE effects (payment_id text NOT NULL, event_id uuid NOT NULL)');
  const relay = bb.relay({ pollIntervalMs: 100 });
  await relay.start();
  return {
    ...bb,
    async close() {
      await relay.stop();
      await bb.close();
    },
  };
}

/** A handler's effect: one row in `effects` per application of an event. */
export async function recordEffect(
  client: PoolClient,
  event: PaymentCreated,
  ctx: EventContext,
): Promise<void> {
  await client.query('INSERT INTO effects VALUES ($1, $2)', [event.paymentId, ctx.envelope.id]);
}

/** Rows in `effects`: how many times handlers applied an event. */
export async function effectCount(bb: Backbone): Promise<number> {
  return (await bb.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM effects')).rows[0].n;
}

/** Reads a topic from the beginning into memory, as an outside observer of what was published. */
export async function readTopic(kafka: Kafka, topic: string) {
  const seen: { key: string; partition: number; offset: string; eventId: string; value: PaymentCreated }[] =
    [];
  const consumer = kafka.consumer({ groupId: uniqueName(`${topic}.observer`) }); // in the suite's namespace;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.push({
        key: message.key!.toString(),
        partition,
        offset: message.offset,
        eventId: message.headers!.ce_id!.toString(),
        value: PaymentCreated.decode(message.value!),
      });
    },
  });
  return { seen, stop: () => consumer.disconnect() };
}
