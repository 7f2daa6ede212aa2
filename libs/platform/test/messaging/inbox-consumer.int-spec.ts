import { Admin, Kafka } from 'kafkajs';
import pino from 'pino';
import { PaymentCreated } from '@citybase/contracts/citybase/payment/v1/events';
import { createPool, withTransaction } from '../../src/db';
import { InfrastructureError } from '../../src/errors';
import { defineEvent, DLQ_HEADERS, enqueue, enqueueMany } from '../../src/messaging';
import { waitFor } from '../../src/testing';
import {
  Backbone,
  createConsumerBackbone,
  effectCount,
  PaymentCreatedEvent,
  paymentCreated,
  recordEffect,
} from './backbone-fixture';

async function readAll(kafka: Kafka, topic: string, groupId: string, expected: number) {
  const out: { headers: Record<string, string>; key: string }[] = [];
  const c = kafka.consumer({ groupId });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await c.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      out.push({ headers, key: message.key!.toString() });
    },
  });
  await waitFor(
    `${expected} messages on ${topic}`,
    async () => (out.length >= expected ? true : undefined),
    30_000,
  );
  await c.disconnect();
  return out;
}

describe('idempotent inbox consumer with retries and DLQ (real PostgreSQL and Kafka)', () => {
  let bb: Backbone;
  beforeEach(async () => {
    bb = await createConsumerBackbone('inbox');
  });
  afterEach(() => bb.close());

  const publish = async (ids: string[], key = 'one-aggregate') => {
    await withTransaction(bb.pool, async (client) => {
      for (const id of ids)
        await enqueue(client, bb.source, PaymentCreatedEvent, paymentCreated(id), { key });
    });
  };

  /** A pool of the backbone's database that counts the statements its clients send. */
  const countingPool = () => {
    const pool = createPool(bb.db.url, { max: 4 });
    const counted = { pool, roundTrips: 0 };
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        counted.roundTrips++;
        return query(...args);
      };
    });
    return counted;
  };

  /** Whether `groupId`'s committed offsets have reached the topic's end on every partition. */
  const caughtUp = async (admin: Admin, groupId: string) => {
    const ends = await admin.fetchTopicOffsets(bb.topic);
    const [committed] = await admin.fetchOffsets({ groupId: bb.prefix + groupId, topics: [bb.topic] });
    return ends.every(
      (e) =>
        committed.partitions.find((c) => c.partition === e.partition)?.offset === e.high || e.high === '0',
    );
  };

  const outboxDrained = async () =>
    (await bb.pool.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')).rows[0].n === 0
      ? true
      : undefined;

  it("skips groups of other consumers' events without a database round trip, commits their offsets, and still applies its own", async () => {
    // another event type on the same topic, which this consumer has no handler for
    const ForeignEvent = defineEvent('citybase.payment.v1.PaymentExpired', PaymentCreated);
    const counted = countingPool();
    const consumer = bb.consumer('test.foreign', { pool: counted.pool });
    consumer.on(PaymentCreatedEvent, recordEffect);
    const admin = bb.kafka.admin();
    await admin.connect();
    await consumer.start();
    try {
      await withTransaction(bb.pool, async (client) => {
        for (let i = 0; i < 40; i++)
          await enqueue(client, bb.source, ForeignEvent, paymentCreated(`f-${i}`), { key: `k-${i % 7}` });
      });
      // all 40 on the topic first: the consumer may be caught up with a part of them
      await waitFor('the foreign events published', outboxDrained);
      await waitFor(
        'the foreign events committed past',
        async () => ((await caughtUp(admin, 'test.foreign')) ? true : undefined),
        30_000,
      );
      expect(counted.roundTrips).toBe(0);
      expect(await bb.registry.getSingleMetricAsString('events_consumed_total')).toMatch(
        /consumer="test.foreign",type="citybase.payment.v1.PaymentExpired",outcome="ignored"} 40/,
      );

      await publish(['own-1', 'own-2']);
      await waitFor(
        'its own events applied',
        async () => ((await effectCount(bb)) === 2 ? true : undefined),
        30_000,
      );
      expect(counted.roundTrips).toBeGreaterThan(0);
      await waitFor(
        'offsets committed',
        async () => ((await caughtUp(admin, 'test.foreign')) ? true : undefined),
        30_000,
      );
      // the group's start record went with the group's commit
      const left = await bb.pool.query(
        `SELECT count(*)::int AS n FROM inbox_group_attempt WHERE consumer = 'test.foreign'`,
      );
      expect(left.rows[0].n).toBe(0);
      expect(
        (await bb.pool.query(`SELECT count(*)::int AS n FROM inbox WHERE consumer = 'test.foreign'`)).rows[0]
          .n,
      ).toBe(2);
    } finally {
      await consumer.stop();
      await admin.disconnect();
      await counted.pool.end();
    }
  });

  it("declines what a handler's `only` refuses without a database round trip or inbox row, also among events it applies", async () => {
    const counted = countingPool();
    const consumer = bb.consumer('test.only', { pool: counted.pool });
    consumer.on(PaymentCreatedEvent, recordEffect, { only: (e) => !e.paymentId.startsWith('skip-') });
    const admin = bb.kafka.admin();
    await admin.connect();
    await consumer.start();
    try {
      await publish(Array.from({ length: 30 }, (_, i) => `skip-${i}`));
      await waitFor('the declined events published', outboxDrained);
      await waitFor(
        'the declined events committed past',
        async () => ((await caughtUp(admin, 'test.only')) ? true : undefined),
        30_000,
      );
      expect(counted.roundTrips).toBe(0);
      expect(await bb.registry.getSingleMetricAsString('events_consumed_total')).toMatch(
        /consumer="test.only",type="citybase.payment.v1.PaymentCreated",outcome="ignored"} 30/,
      );

      // declined events between applied ones, in one group (one key: one partition, in order)
      await publish(['skip-a', 'own-1', 'skip-b', 'own-2', 'skip-c']);
      await waitFor(
        'the accepted events applied',
        async () => ((await effectCount(bb)) === 2 ? true : undefined),
        30_000,
      );
      await waitFor(
        'offsets committed',
        async () => ((await caughtUp(admin, 'test.only')) ? true : undefined),
        30_000,
      );
      const { rows } = await bb.pool.query<{ payment_id: string }>(
        'SELECT payment_id FROM effects ORDER BY payment_id',
      );
      expect(rows.map((r) => r.payment_id)).toEqual(['own-1', 'own-2']);
      expect(
        (await bb.pool.query(`SELECT count(*)::int AS n FROM inbox WHERE consumer = 'test.only'`)).rows[0].n,
      ).toBe(2);
    } finally {
      await consumer.stop();
      await admin.disconnect();
      await counted.pool.end();
    }
  });

  it('dead-letters a poison event with its error and headers, keeps its partition moving, and replays it once after a fix', async () => {
    let fixed = false;
    let poisonAttempts = 0;
    const consumer = bb.consumer('test.poison', { maxAttempts: 3, retryBaseMs: 10 });
    consumer.on(PaymentCreatedEvent, async (client, event, ctx) => {
      if (event.paymentId === 'poison' && !fixed) {
        poisonAttempts++;
        throw new Error('merchant m-1 has no settlement account');
      }
      await recordEffect(client, event, ctx);
    });
    await consumer.start();
    try {
      // one key, so one partition: everything behind the poison waits for it unless it is moved aside
      const ids = Array.from({ length: 50 }, (_, i) => (i === 10 ? 'poison' : `p-${i}`));
      await publish(ids);
      await waitFor('49 effects', async () => ((await effectCount(bb)) === 49 ? true : undefined), 60_000);
      // once inside its group's transaction, then maxAttempts (3) times on its own
      expect(poisonAttempts).toBe(4);

      const dlq = await readAll(bb.kafka, consumer.dlqTopic, `${bb.prefix}dlq-reader`, 1);
      expect(dlq).toHaveLength(1);
      expect(dlq[0].key).toBe('one-aggregate');
      expect(dlq[0].headers).toMatchObject({
        ce_type: 'citybase.payment.v1.PaymentCreated',
        ce_source: 'citybase://test-city/payment',
        [DLQ_HEADERS.error]: 'merchant m-1 has no settlement account',
        [DLQ_HEADERS.consumer]: 'test.poison',
        [DLQ_HEADERS.topic]: bb.topic,
        [DLQ_HEADERS.attempts]: '3',
      });
      expect(await bb.registry.getSingleMetricAsString('events_dead_lettered_total')).toMatch(
        /consumer="test.poison".* 1/,
      );

      fixed = true;
      expect(await consumer.replayDeadLetters()).toEqual({ replayed: 1, failedAgain: 0 });
      const poison = await bb.pool.query("SELECT event_id FROM effects WHERE payment_id = 'poison'");
      expect(poison.rows).toHaveLength(1);
      expect(poison.rows[0].event_id).toBe(dlq[0].headers.ce_id);
      // a second replay finds nothing new, and nothing is applied twice
      expect(await consumer.replayDeadLetters()).toEqual({ replayed: 0, failedAgain: 0 });
      expect(await effectCount(bb)).toBe(50);
    } finally {
      await consumer.stop();
    }
  });

  it('hands consecutive events to a group handler in partition order, applies each once, and dead-letters a failing one alone', async () => {
    await bb.pool.query(
      'CREATE TABLE group_effects (seq bigserial, payment_id text NOT NULL, event_id uuid NOT NULL)',
    );
    const sizes: number[] = [];
    let badCalls = 0;
    const consumer = bb.consumer('test.group', { maxAttempts: 2, retryBaseMs: 5 });
    consumer.onGroup(PaymentCreatedEvent, async (client, events) => {
      sizes.push(events.length);
      if (events.some(({ event }) => event.paymentId === 'bad')) {
        badCalls++;
        throw new Error('cannot apply bad');
      }
      await client.query(
        `INSERT INTO group_effects (payment_id, event_id)
         SELECT p, e FROM unnest($1::text[], $2::uuid[]) WITH ORDINALITY AS t(p, e, ord) ORDER BY ord`,
        [events.map(({ event }) => event.paymentId), events.map(({ ctx }) => ctx.envelope.id)],
      );
    });
    await consumer.start();
    try {
      // one key, one partition, one transaction: the consumer gets them in one fetch
      const ids = Array.from({ length: 60 }, (_, i) => (i === 25 ? 'bad' : `p-${i}`));
      await withTransaction(bb.pool, (client) =>
        enqueueMany(
          client,
          bb.source,
          ids.map((id) => ({ type: PaymentCreatedEvent, payload: paymentCreated(id), key: 'one-aggregate' })),
        ),
      );
      await publish(['after']);
      const count = async () =>
        (await bb.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM group_effects')).rows[0].n;
      await waitFor('60 effects', async () => ((await count()) === 60 ? true : undefined), 60_000);
      const dlq = await readAll(bb.kafka, consumer.dlqTopic, `${bb.prefix}group-dlq-reader`, 1);
      expect(dlq).toHaveLength(1);
      expect(dlq[0].headers[DLQ_HEADERS.error]).toBe('cannot apply bad');
      // once in its group, then maxAttempts (2) times alone
      expect(badCalls).toBe(3);
      expect(Math.max(...sizes)).toBeGreaterThan(1);
      const { rows } = await bb.pool.query<{ payment_id: string }>(
        'SELECT payment_id FROM group_effects ORDER BY seq',
      );
      expect(rows.map((r) => r.payment_id)).toEqual([...ids.filter((id) => id !== 'bad'), 'after']);
    } finally {
      await consumer.stop();
    }
  });

  it('retries infrastructure failures beyond maxAttempts, waiting longer each time up to the cap', async () => {
    const logged: { msg: string; retryInMs?: number; failures?: number }[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) },
    );
    let calls = 0;
    const consumer = bb.consumer('test.infra', {
      logger,
      maxAttempts: 2,
      retryBaseMs: 10,
      maxRetryDelayMs: 80,
    });
    consumer.on(PaymentCreatedEvent, async (client, event, ctx) => {
      // the database "is down" for the first 9 calls: once in its group, then 8 times on its own
      if (++calls <= 9) throw new InfrastructureError('unavailable', 'database unavailable (57P03)');
      await recordEffect(client, event, ctx);
    });
    await consumer.start();
    try {
      await publish(['flaky']);
      await waitFor('the effect', async () => ((await effectCount(bb)) === 1 ? true : undefined));
      const retries = logged.filter((l) => l.msg === 'infrastructure failure; retrying');
      // far more than maxAttempts (2), not dead-lettered, and the wait doubles up to the cap
      expect(retries.map((l) => l.failures)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(retries.map((l) => l.retryInMs)).toEqual([10, 20, 40, 80, 80, 80, 80, 80]);
      expect(calls).toBe(10);
      expect(await bb.registry.getSingleMetricAsString('events_dead_lettered_total')).not.toMatch(
        /consumer="test.infra"/,
      );
    } finally {
      await consumer.stop();
    }
  });

  it('puts an event back in the DLQ when replay fails again', async () => {
    const consumer = bb.consumer('test.refail', { maxAttempts: 2, retryBaseMs: 5 });
    consumer.on(PaymentCreatedEvent, async (_client, event) => {
      if (event.paymentId === 'bad') throw new Error('still broken');
    });
    await consumer.start();
    try {
      await publish(['bad']);
      await readAll(bb.kafka, consumer.dlqTopic, `${bb.prefix}dlq-reader-1`, 1);
      expect(await consumer.replayDeadLetters()).toEqual({ replayed: 0, failedAgain: 1 });
      const dlq = await readAll(bb.kafka, consumer.dlqTopic, `${bb.prefix}dlq-reader-2`, 2);
      expect(dlq).toHaveLength(2);
    } finally {
      await consumer.stop();
    }
  });

  it('applies each event once even when Kafka delivers it again', async () => {
    const consumer = bb.consumer('test.dupes');
    consumer.on(PaymentCreatedEvent, recordEffect);
    await consumer.start();
    await publish(
      Array.from({ length: 100 }, (_, i) => `p-${i}`),
      'k',
    );
    await waitFor('100 effects', async () => ((await effectCount(bb)) === 100 ? true : undefined));
    await consumer.stop();
    // republish the very same rows (what a relay crash between ack and mark does)
    await bb.pool.query('UPDATE outbox SET published_at = NULL');
    const again = bb.consumer('test.dupes');
    again.on(PaymentCreatedEvent, recordEffect);
    await again.start();
    try {
      await waitFor(
        'duplicates seen',
        async () =>
          (await bb.registry.getSingleMetricAsString('events_consumed_total')).match(
            /outcome="duplicate"\} 100/,
          )
            ? true
            : undefined,
        30_000,
      );
      const { rows } = await bb.pool.query(
        'SELECT payment_id, count(*)::int AS n FROM effects GROUP BY payment_id HAVING count(*) > 1',
      );
      expect(rows).toEqual([]);
      expect(await effectCount(bb)).toBe(100);
    } finally {
      await again.stop();
    }
  });

  it('survives losing its group membership: a handler outlasting the session, then every event once and the next ones too', async () => {
    // Regression (backbone chaos, 2026-12-05): the session expired while a group was being applied;
    // the offset commit then failed with UNKNOWN_MEMBER_ID, kafkajs crashed the consumer without
    // restarting it, and the service went on serving without consuming anything.
    // 6 s: the broker's smallest session (group.min.session.timeout.ms)
    const consumer = bb.consumer('test.membership', { sessionTimeoutMs: 6_000 });
    let slowSeen = 0;
    consumer.on(PaymentCreatedEvent, async (client, event, ctx) => {
      // no heartbeat for longer than the session: the broker drops this member meanwhile
      if (event.paymentId === 'slow' && slowSeen++ === 0) await new Promise((r) => setTimeout(r, 9_000));
      await recordEffect(client, event, ctx);
    });
    const effects = () => effectCount(bb);
    await consumer.start();
    try {
      await publish(['a-1', 'a-2', 'slow', 'a-3']);
      await waitFor('the first 4 effects', async () => ((await effects()) === 4 ? true : undefined), 60_000);
      // still a member of its group afterwards: later events are applied too
      await publish(['b-1', 'b-2']);
      await waitFor('all 6 effects', async () => ((await effects()) === 6 ? true : undefined), 60_000);
      const { rows } = await bb.pool.query(
        'SELECT payment_id FROM effects GROUP BY payment_id HAVING count(*) > 1',
      );
      expect(rows).toEqual([]);
      expect(slowSeen).toBeGreaterThanOrEqual(1);
    } finally {
      await consumer.stop();
    }
  }, 120_000);
});
