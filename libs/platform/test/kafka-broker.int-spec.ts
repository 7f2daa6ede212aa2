import { Consumer, EachMessagePayload, Kafka, logLevel, Partitioners, Producer } from 'kafkajs';
import { ensureTopics } from '../src/kafka';
import { kafkaTestPrefix, testEndpoints, waitFor } from '../src/testing';

/**
 * Proves the Kafka under test is a real broker with real consumer-group semantics: a kafkajs
 * producer and a two-member consumer group on a 6-partition topic exchange 10,000 messages with
 * none lost, and when one member leaves mid-stream the other takes over its partitions and still
 * nothing is lost.
 */
describe('Kafka broker (real, KRaft) with kafkajs', () => {
  const kafka = new Kafka({
    clientId: 'kafka-proof',
    brokers: testEndpoints.kafkaBrokers(),
    logLevel: logLevel.NOTHING,
  });
  const ns = kafkaTestPrefix('kafka-proof'); // its topic and group are deleted after the suite
  const topic = `${ns}citybase.test.kafka-proof`;
  const groupId = `${ns}group`;
  const PARTITIONS = 6;
  let producer: Producer;
  const consumers: Consumer[] = [];
  const received = new Map<string, number>(); // message value -> times delivered
  const byMember: Record<string, Set<number>> = { a: new Set(), b: new Set() }; // partitions each member consumed
  const assignments: Record<string, number[]> = {};

  const startMember = async (name: 'a' | 'b') => {
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 20_000,
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      assignments[name] = [...(e.payload.memberAssignment[topic] ?? [])].sort();
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }: EachMessagePayload) => {
        const value = message.value!.toString();
        received.set(value, (received.get(value) ?? 0) + 1);
        byMember[name].add(partition);
      },
    });
    consumers.push(consumer);
    return consumer;
  };

  const produce = async (from: number, count: number) => {
    for (let start = from; start < from + count; start += 500) {
      const messages = [];
      for (let i = start; i < Math.min(start + 500, from + count); i++)
        messages.push({ key: `aggregate-${i % 97}`, value: `m-${i}` });
      await producer.send({ topic, messages });
    }
  };

  const missing = (upTo: number) => {
    const gaps: string[] = [];
    for (let i = 0; i < upTo; i++) if (!received.has(`m-${i}`)) gaps.push(`m-${i}`);
    return gaps;
  };

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [topic], PARTITIONS);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0].partitions).toHaveLength(PARTITIONS);
    await admin.disconnect();
    producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
  });

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.disconnect().catch(() => undefined)));
    await producer?.disconnect();
  });

  it('delivers 10,000 messages across a two-member group with none lost', async () => {
    await startMember('a');
    await startMember('b');
    // both members joined one generation and split the six partitions between them
    await waitFor('both members assigned', async () =>
      (assignments.a?.length ?? 0) + (assignments.b?.length ?? 0) === PARTITIONS &&
      assignments.a.length > 0 &&
      assignments.b.length > 0
        ? true
        : undefined,
    );
    expect([...assignments.a, ...assignments.b].sort()).toEqual([0, 1, 2, 3, 4, 5]);

    await produce(0, 10_000);
    await waitFor(
      '10,000 messages consumed',
      async () => (missing(10_000).length === 0 ? true : undefined),
      60_000,
    );
    expect(missing(10_000)).toEqual([]);
    expect(byMember.a.size).toBeGreaterThan(0);
    expect(byMember.b.size).toBeGreaterThan(0);
    // no redelivery without a rebalance
    expect([...received.values()].every((n) => n === 1)).toBe(true);
  });

  it('loses nothing when a member leaves mid-stream and the group rebalances', async () => {
    const [a, b] = consumers;
    expect(a).toBeDefined();
    const producing = produce(10_000, 10_000);
    // let the second batch start flowing to both members, then member b leaves the group
    await waitFor('second batch flowing', async () => (received.size > 12_000 ? true : undefined), 60_000, 5);
    await b.disconnect();
    consumers.splice(consumers.indexOf(b), 1);
    await producing;
    await waitFor(
      'a owns all partitions',
      async () => (assignments.a?.length === PARTITIONS ? true : undefined),
      60_000,
    );
    await waitFor(
      'all 20,000 messages consumed',
      async () => (missing(20_000).length === 0 ? true : undefined),
      60_000,
    );
    expect(missing(20_000)).toEqual([]);
    expect(assignments.a).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
