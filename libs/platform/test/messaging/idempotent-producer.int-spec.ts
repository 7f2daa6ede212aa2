import net from 'node:net';
import { Kafka, logLevel, Partitioners, Producer, ProducerRecord } from 'kafkajs';
import pino from 'pino';
import { Registry } from 'prom-client';
import { ensureTopics, IdempotentProducer, withTransaction } from '../../src';
import { enqueue, OutboxRelay } from '../../src/messaging';
import { kafkaTestPrefix, testEndpoints, waitFor } from '../../src/testing';
import { Backbone, createBackbone, PaymentCreatedEvent, paymentCreated, readTopic } from './backbone-fixture';

const PRODUCE_API_KEY = 0;
/** One retry (an idempotent kafkajs producer needs some), soon. */
const RETRY = { retries: 1, initialRetryTime: 100 };

/**
 * A kafkajs client on the real broker whose connections can lose the answers to the next Produce
 * requests: each request reaches the broker and is written, its answer never reaches the client,
 * and the connection closes (as when the partition's leader is SIGKILLed after its followers had the batch).
 */
function kafkaLosingAnswers(label: string) {
  let armed = 0;
  let lost = 0;
  const kafka = new Kafka({
    clientId: label,
    brokers: testEndpoints.kafkaBrokers(),
    logLevel: logLevel.NOTHING,
    // a producer's retries (the relay's 10) come one after the other, not over minutes
    retry: { initialRetryTime: 20, maxRetryTime: 50 },
    // a bound on waiting for an answer, should a lost one not fail its request at once
    requestTimeout: 2_000,
    socketFactory: ({ host, port, onConnect }) => {
      const socket = net.connect({ host, port }, onConnect);
      let deaf = false;
      const emit = socket.emit.bind(socket) as (event: string, ...args: unknown[]) => boolean;
      socket.emit = ((event: string, ...args: unknown[]) =>
        deaf && event === 'data' ? true : emit(event, ...args)) as typeof socket.emit;
      const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean;
      socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
        if (
          armed > 0 &&
          Buffer.isBuffer(chunk) &&
          chunk.length > 6 &&
          chunk.readInt16BE(4) === PRODUCE_API_KEY
        ) {
          armed--;
          deaf = true; // the answer is never read
          setTimeout(() => {
            lost++;
            socket.destroy(new Error('connection lost before the answer'));
          }, 500);
        }
        return write(chunk, ...rest);
      }) as typeof socket.write;
      return socket;
    },
  });
  return { kafka, arm: (answers: number) => (armed = answers), lost: () => lost };
}

async function valuesOn(kafka: Kafka, topic: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [end] = await admin.fetchTopicOffsets(topic);
    const high = Number(end.high);
    if (high === 0) return [];
    const values: string[] = [];
    const consumer = kafka.consumer({ groupId: `${topic}.reader.${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    await consumer.run({
      eachMessage: async ({ message }) => {
        values.push(message.value!.toString());
        if (Number(message.offset) + 1 >= high) done();
      },
    });
    await all;
    await consumer.disconnect();
    return values;
  } finally {
    await admin.disconnect();
  }
}

describe('a send whose answer was lost, then a send of other messages (real Kafka)', () => {
  // kafkajs hands the failed request's sequence numbers out again; the broker wrote that request
  const scenario = async (
    label: string,
    make: (kafka: Kafka) => Pick<Producer, 'connect' | 'disconnect' | 'send'>,
  ) => {
    const { kafka, arm, lost } = kafkaLosingAnswers(label);
    const topic = `${kafkaTestPrefix(label)}events`;
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [topic], 1);
    await admin.disconnect();
    const producer = make(kafka);
    await producer.connect();
    const record = (value: string): ProducerRecord => ({ topic, acks: -1, messages: [{ key: 'k', value }] });
    try {
      await producer.send(record('first'));
      // the request and kafkajs' one retry of it (a duplicate to the broker): both answers lost
      arm(2);
      await expect(producer.send(record('written, answer lost'))).rejects.toThrow();
      expect(lost()).toBe(2);
      await producer.send(record('other'));
    } finally {
      await producer.disconnect();
    }
    return valuesOn(kafka, topic);
  };

  it('IdempotentProducer: the other messages are written (under a new producer id)', async () => {
    const values = await scenario(
      'idem-producer',
      (kafka) => new IdempotentProducer(kafka, { retry: RETRY }),
    );
    expect(values).toEqual(['first', 'written, answer lost', 'other']);
  }, 60_000);

  it('a plain idempotent kafkajs producer: the broker takes them for a duplicate and drops them (why IdempotentProducer exists)', async () => {
    const values = await scenario('plain-producer', (kafka) =>
      kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: RETRY }),
    );
    expect(values).toEqual(['first', 'written, answer lost']);
  }, 60_000);
});

describe('the outbox relay after a send whose answers were lost (real PostgreSQL and Kafka)', () => {
  let bb: Backbone;
  beforeEach(async () => {
    bb = await createBackbone('relay-lost-answer');
  });
  afterEach(() => bb.close());

  it('publishes the next, different batch too: every committed event ends up on the topic', async () => {
    // Regression (scale-out chaos, CI of 715b6f3: a PaymentSucceeded marked published, never on
    // Kafka). Batches of one row: the relay's batch after the failed one is another row.
    const { kafka, arm, lost } = kafkaLosingAnswers('relay-lost-answer');
    const relay = new OutboxRelay({
      databaseUrl: bb.db.url,
      kafka,
      logger: pino({ level: 'silent' }),
      registry: new Registry(),
      batchSize: 1,
      pollIntervalMs: 50,
    });
    // two keys of one Kafka partition (one key's events are enqueued one transaction after the other)
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 6 }, (_, i) => ({
      partitionId: i,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    const partitionOf = (key: string) =>
      partitioner({ topic: bb.topic, partitionMetadata, message: { key, value: null } });
    let lateKey = 'late-0';
    for (let i = 1; partitionOf(lateKey) !== partitionOf('early'); i++) lateKey = `late-${i}`;
    const publish = (client: Parameters<typeof enqueue>[0], id: string, key: string) =>
      enqueue(client, bb.source, PaymentCreatedEvent, paymentCreated(id), { key });
    // `early` takes the lower outbox id but commits only after `late` was sent
    const early = await bb.pool.connect();
    await early.query('BEGIN');
    const earlyEvent = await publish(early, 'early', 'early');
    const lateEvent = await withTransaction(bb.pool, (client) => publish(client, 'late', lateKey));
    // the relay's first send and every retry of it are written, and their answers lost
    arm(11);
    await relay.start();
    const observer = await readTopic(bb.kafka, bb.topic);
    try {
      await waitFor('the first answer lost', async () => (lost() >= 1 ? true : undefined), 30_000, 10);
      // while kafkajs retries `late`: `early` commits, the relay's next batch after the failure
      await early.query('COMMIT');
      await waitFor(
        'every outbox row published',
        async () => {
          const { rows } = await bb.pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL',
          );
          return rows[0]!.n === 0 ? true : undefined;
        },
        60_000,
      );
      expect(lost()).toBe(11);
      await waitFor(
        'both events on the topic',
        async () => {
          const ids = new Set(observer.seen.map((m) => m.eventId));
          return ids.has(earlyEvent.id) && ids.has(lateEvent.id) ? true : undefined;
        },
        20_000,
      ).catch(() => undefined);
      expect(new Set(observer.seen.map((m) => m.eventId))).toEqual(new Set([earlyEvent.id, lateEvent.id]));
    } finally {
      early.release();
      await observer.stop();
      await relay.stop();
    }
  }, 120_000);
});
