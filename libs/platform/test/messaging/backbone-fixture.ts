import { Kafka, logLevel } from 'kafkajs';
import type { Pool } from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { PaymentCreated } from '@citybase/contracts/citybase/payment/v1/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { createPool, ensureTopics, platformMigrations, runMigrations } from '../../src';
import { defineEvent, EventSource, toTimestamp } from '../../src/messaging';
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
  return {
    db,
    pool,
    kafka,
    prefix,
    topic,
    source: { city: 'test-city', service: 'payment', topicPrefix: prefix },
    registry: new Registry(),
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    async close() {
      await pool.end();
      await db.drop();
    },
  };
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
