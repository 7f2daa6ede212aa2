import { enqueue, enqueueMany, OUTBOX_SHARDS } from '../../src/messaging';
import { roundTripCounts, withTransaction } from '../../src/db';
import { waitFor } from '../../src/testing';
import { Backbone, createBackbone, PaymentCreatedEvent, paymentCreated, readTopic } from './backbone-fixture';

describe('transactional outbox and relay (real PostgreSQL and Kafka)', () => {
  let bb: Backbone;
  beforeEach(async () => {
    bb = await createBackbone('outbox');
  });
  afterEach(async () => {
    await bb.close();
  });

  it('publishes 10,000 events from concurrent transactions in commit order per key, and never a rolled-back one', async () => {
    const KEYS = 40;
    const WORKERS = 16;
    const COMMITTED = 10_000;
    await bb.pool.query('CREATE TABLE key_seq (key text PRIMARY KEY, seq int NOT NULL)');
    await bb.pool.query(
      `INSERT INTO key_seq SELECT 'key-' || i, 0 FROM generate_series(0, ${KEYS - 1}) AS i`,
    );
    const relay = bb.relay();
    await relay.start();
    const observer = await readTopic(bb.kafka, bb.topic);
    let committed = 0;
    let rolledBack = 0;
    try {
      // The row lock on key_seq orders same-key transactions; seq is therefore the commit order.
      const worker = async (w: number) => {
        for (let i = 0; committed < COMMITTED; i++) {
          const key = `key-${(w * 7 + i * 13) % KEYS}`;
          const rollback = i % 10 === 3;
          await withTransaction(bb.pool, async (client) => {
            const { rows } = await client.query<{ seq: number }>(
              'UPDATE key_seq SET seq = seq + 1 WHERE key = $1 RETURNING seq',
              [key],
            );
            const id = rollback ? `rolled-back:${w}:${i}` : `${key}:${rows[0].seq}`;
            await enqueue(client, bb.source, PaymentCreatedEvent, paymentCreated(id), { key });
            if (rollback) throw new Error('rollback on purpose');
          }).then(
            () => void committed++,
            (err: Error) => {
              if (err.message !== 'rollback on purpose') throw err;
              rolledBack++;
            },
          );
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
      await waitFor(
        'every committed event on the topic',
        async () => (observer.seen.length >= committed ? true : undefined),
        120_000,
        200,
      );
      // give a wrongly published extra message a moment to show up
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      await observer.stop();
      await relay.stop();
    }
    expect(committed).toBeGreaterThanOrEqual(COMMITTED);
    expect(rolledBack).toBeGreaterThan(0);
    const ids = observer.seen.map((m) => m.value.paymentId);
    expect(ids.filter((id) => id.startsWith('rolled-back'))).toEqual([]);
    expect(new Set(ids).size).toBe(committed);
    expect(observer.seen).toHaveLength(committed);
    const perKey = new Map<string, number[]>();
    for (const m of observer.seen) {
      const [key, seq] = m.value.paymentId.split(':');
      expect(m.key).toBe(key);
      perKey.set(key, [...(perKey.get(key) ?? []), Number(seq)]);
    }
    for (const [key, seqs] of perKey) {
      const { rows } = await bb.pool.query<{ seq: number }>('SELECT seq FROM key_seq WHERE key = $1', [key]);
      expect(seqs).toEqual(Array.from({ length: rows[0].seq }, (_, i) => i + 1));
    }
    const pending = await bb.pool.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL');
    expect(pending.rows[0].n).toBe(0);
  });

  it("enqueueMany: events of several keys in one statement, per key in the order given, never interleaved with another transaction's", async () => {
    const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'];
    const relay = bb.relay();
    await relay.start();
    const observer = await readTopic(bb.kafka, bb.topic);
    let committed = 0;
    try {
      const worker = async (w: number) => {
        for (let t = 0; t < 25; t++) {
          // each transaction writes 3 events to each of 3 keys, keys in a different order each time
          const keys = [0, 1, 2].map((i) => KEYS[(w + t * 5 + i * (1 + (w % 2))) % KEYS.length]);
          const rollback = t % 7 === 3;
          const events = [0, 1, 2].flatMap((j) =>
            keys.map((key) => ({
              type: PaymentCreatedEvent,
              payload: paymentCreated(`${rollback ? 'rolled-back' : key}:${w}.${t}:${j}`),
              key,
            })),
          );
          await withTransaction(bb.pool, async (client) => {
            await enqueueMany(client, bb.source, events);
            if (rollback) throw new Error('rollback on purpose');
          }).then(
            () => void (committed += events.length),
            (err: Error) => {
              if (err.message !== 'rollback on purpose') throw err;
            },
          );
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
      await waitFor(
        'every committed event on the topic',
        async () => (observer.seen.length >= committed ? true : undefined),
        60_000,
        200,
      );
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      await observer.stop();
      await relay.stop();
    }
    const ids = observer.seen.map((m) => m.value.paymentId);
    expect(ids.filter((id) => id.startsWith('rolled-back'))).toEqual([]);
    expect(new Set(ids).size).toBe(committed);
    expect(ids).toHaveLength(committed);
    const perKey = new Map<string, string[]>();
    for (const m of observer.seen) {
      const [key, txn, j] = m.value.paymentId.split(/[:]/);
      expect(m.key).toBe(key);
      perKey.set(key, [...(perKey.get(key) ?? []), `${txn}:${j}`]);
    }
    for (const seen of perKey.values()) {
      // a transaction's events of one key are adjacent and in the order given
      for (let i = 0; i < seen.length; i += 3)
        expect(seen.slice(i, i + 3)).toEqual([0, 1, 2].map((j) => `${seen[i].split(':')[0]}:${j}`));
    }
  });

  it('runs several relays without double publishing; a survivor takes over the shards of one that stops', async () => {
    const a = bb.relay({ pollIntervalMs: 100 });
    const b = bb.relay({ pollIntervalMs: 100 });
    await Promise.all([a.start(), b.start()]);
    const observer = await readTopic(bb.kafka, bb.topic);
    const write = async (from: number, n: number) => {
      for (let i = from; i < from + n; i += 50) {
        await withTransaction(bb.pool, async (client) => {
          for (let j = i; j < i + 50; j++)
            await enqueue(client, bb.source, PaymentCreatedEvent, paymentCreated(`p-${j}`), {
              key: `agg-${j % 64}`,
            });
        });
      }
    };
    try {
      await waitFor('all shards owned', async () =>
        a.ownedShards().length + b.ownedShards().length === OUTBOX_SHARDS ? true : undefined,
      );
      expect(a.ownedShards().filter((s) => b.ownedShards().includes(s))).toEqual([]);
      await write(0, 2_000);
      await waitFor(
        '2,000 published',
        async () => (observer.seen.length >= 2_000 ? true : undefined),
        60_000,
      );
      await a.stop();
      await write(2_000, 1_000);
      await waitFor(
        'survivor owns all shards',
        async () => (b.ownedShards().length === OUTBOX_SHARDS ? true : undefined),
        30_000,
      );
      await waitFor(
        '3,000 published',
        async () => (observer.seen.length >= 3_000 ? true : undefined),
        60_000,
      );
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      await observer.stop();
      await a.stop();
      await b.stop();
    }
    const ids = observer.seen.map((m) => m.value.paymentId);
    expect(ids).toHaveLength(3_000);
    expect(new Set(ids).size).toBe(3_000);
  });

  it('publishes isolated events with two statements each (the read, and the next read that marks it published)', async () => {
    const relay = bb.relay();
    await relay.start();
    const unpublished = async () =>
      (await bb.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL'))
        .rows[0].n;
    try {
      await waitFor('the relay owns every shard', async () =>
        relay.ownedShards().length === OUTBOX_SHARDS ? true : undefined,
      );
      const events = 30;
      const before = roundTripCounts().event ?? 0;
      const t0 = Date.now();
      for (let i = 0; i < events; i++) {
        await withTransaction(bb.pool, (client) =>
          enqueue(client, bb.source, PaymentCreatedEvent, paymentCreated(`q-${i}`), { key: `k-${i}` }),
        );
        await waitFor(`event ${i} published`, async () => ((await unpublished()) === 0 ? true : undefined));
      }
      const statements = (roundTripCounts().event ?? 0) - before;
      // plus, per second, the backlog gauge's query and up to two fallback polls (every 500 ms)
      const housekeeping = 3 * Math.ceil((Date.now() - t0) / 1_000) + 2;
      expect(statements).toBeLessThanOrEqual(2 * events + housekeeping);
      expect((await bb.pool.query('SELECT count(*)::int AS n FROM outbox_relay_awake')).rows[0].n).toBe(0);
      const observer = await readTopic(bb.kafka, bb.topic);
      try {
        await waitFor('every event on the topic', async () =>
          observer.seen.length >= events ? true : undefined,
        );
        expect(new Set(observer.seen.map((m) => m.value.paymentId)).size).toBe(events);
      } finally {
        await observer.stop();
      }
    } finally {
      await relay.stop();
    }
  });

  it('prunes published rows and reports backlog metrics', async () => {
    await withTransaction(bb.pool, async (client) => {
      for (let i = 0; i < 10; i++)
        await enqueue(client, bb.source, PaymentCreatedEvent, paymentCreated(`p-${i}`), { key: 'k' });
    });
    const relay = bb.relay();
    await relay.start();
    try {
      await waitFor('published', async () =>
        (await bb.pool.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL')).rows[0]
          .n === 0
          ? true
          : undefined,
      );
      expect(await relay.pruneNow()).toBe(10);
      expect((await bb.pool.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n).toBe(0);
      const metrics = await bb.registry.metrics();
      expect(metrics).toMatch(
        /events_published_total\{topic="[^"]+",type="citybase.payment.v1.PaymentCreated"\} 10/,
      );
      expect(metrics).toContain('outbox_backlog');
    } finally {
      await relay.stop();
    }
  });
});
