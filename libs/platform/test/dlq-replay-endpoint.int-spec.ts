import { Module } from '@nestjs/common';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { PaymentEvents } from '@citybase/contracts/events';
import { PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import {
  FETCH_MAX_WAIT_MS,
  enqueue,
  InboxConsumer,
  RunningService,
  serviceConfigSchema,
  startService,
  withTransaction,
  createPool,
  platformMigrations,
} from '../src';
import { createTestDatabase, freePort, TestDatabase, uniqueName, waitFor } from '../src/testing';
import { paymentCreated } from './messaging/backbone-fixture';

@Module({})
class EmptyModule {}

describe('POST /admin/dlq/<consumer>/replay on a running service', () => {
  const schema = serviceConfigSchema({ grpcPort: 1, httpPort: 1, database: 'unused' });
  let db: TestDatabase;
  let running: RunningService<ReturnType<typeof schema.parse>>;
  let httpUrl: string;
  let fixed = false;
  const applied: string[] = [];
  const prefix = `${uniqueName('dlqhttp')}.`;

  beforeAll(async () => {
    db = await createTestDatabase('dlq_http');
    const httpPort = await freePort();
    httpUrl = `http://127.0.0.1:${httpPort}`;
    running = await startService(
      {
        name: 'payment',
        configSchema: schema,
        module: EmptyModule,
        grpcServices: { 'citybase.payment.v1.PaymentService': PaymentServiceService },
        descriptorSet: loadDescriptorSet(),
        migrations: [platformMigrations],
        topics: [PaymentEvents.PaymentCreated.topic],
        consumers: ({ kafka, pool, logger, registry, config }) => [
          new InboxConsumer({
            name: 'test.replayable',
            kafka,
            pool,
            logger,
            registry,
            topicPrefix: config.KAFKA_TOPIC_PREFIX,
            maxAttempts: 2,
            retryBaseMs: 5,
          }).on(PaymentEvents.PaymentCreated, async (_client, event) => {
            if (!fixed) throw new Error('bug: cannot apply yet');
            applied.push(event.paymentId);
          }),
        ],
      },
      {
        DATABASE_URL: db.url,
        GRPC_PORT: String(await freePort()),
        HTTP_PORT: String(httpPort),
        KAFKA_TOPIC_PREFIX: prefix,
        LOG_LEVEL: 'silent',
      },
    );
  });

  afterAll(async () => {
    await running?.stop();
    await db?.drop();
    // kafkajs finishes a fetch that was in flight at disconnect() (up to FETCH_MAX_WAIT_MS) and then
    // heartbeats; let that happen before Jest tears the module registry down
    await new Promise((r) => setTimeout(r, FETCH_MAX_WAIT_MS + 500));
  });

  it('replays dead letters once after a fix, and 404s an unknown consumer', async () => {
    const pool = createPool(db.url);
    try {
      await withTransaction(pool, (client) =>
        enqueue(
          client,
          { city: 'demo-city', service: 'payment', topicPrefix: prefix },
          PaymentEvents.PaymentCreated,
          paymentCreated('p-dlq'),
          { key: 'p-dlq' },
        ),
      );
    } finally {
      await pool.end();
    }
    await waitFor(
      'dead-lettered',
      async () =>
        (await (await fetch(`${httpUrl}/metrics`)).text()).match(
          /events_dead_lettered_total\{[^}]*consumer="test.replayable"[^}]*\} 1/,
        )
          ? true
          : undefined,
      60_000,
    );
    expect(applied).toEqual([]);

    fixed = true;
    const res = await fetch(`${httpUrl}/admin/dlq/test.replayable/replay`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ replayed: 1, failedAgain: 0 });
    expect(applied).toEqual(['p-dlq']);

    const again = await fetch(`${httpUrl}/admin/dlq/test.replayable/replay`, { method: 'POST' });
    expect(await again.json()).toEqual({ replayed: 0, failedAgain: 0 });
    expect(applied).toEqual(['p-dlq']);

    const unknown = await fetch(`${httpUrl}/admin/dlq/nobody/replay`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'no consumer nobody; consumers: test.replayable' });
  });
});
