import net from 'node:net';
import { Kafka, logLevel, Producer, ProducerRecord } from 'kafkajs';
import { ensureTopics, IdempotentProducer } from '../../src';
import { kafkaTestPrefix, testEndpoints } from '../../src/testing';

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
