import { Injectable, Module } from '@nestjs/common';
import { loadDescriptorSet } from '@citybase/contracts/descriptors';
import { PaymentEvents } from '@citybase/contracts/events';
import { PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import {
  enqueue,
  EventConsumer,
  EventSubscriber,
  Subscribe,
  RunningService,
  serviceConfigSchema,
  startService,
  withTransaction,
  createPool,
  platformMigrations,
} from '../src';
import {
  createTestDatabase,
  freePort,
  kafkaTestPrefix,
  TestDatabase,
  TestIssuer,
  waitFor,
} from '../src/testing';
import { paymentCreated } from './messaging/backbone-fixture';

describe('POST /admin/dlq/<consumer>/replay on a running service', () => {
  const schema = serviceConfigSchema({ grpcPort: 1, httpPort: 1, database: 'unused' });
  let db: TestDatabase;
  let running: RunningService<ReturnType<typeof schema.parse>>;
  let httpUrl: string;
  let fixed = false;
  const applied: string[] = [];
  const prefix = kafkaTestPrefix('dlqhttp');
  let issuer: TestIssuer;

  /** A feature's consumer, registered by its module like every service's. */
  @EventConsumer('test.replayable', { maxAttempts: 2, retryBaseMs: 5 })
  @Injectable()
  class Replayable implements EventSubscriber {
    subscribe(on: Subscribe): void {
      on(PaymentEvents.PaymentCreated, async (_client, event) => {
        if (!fixed) throw new Error('bug: cannot apply yet');
        applied.push(event.paymentId);
      });
    }
  }

  @Module({ providers: [Replayable] })
  class ReplayableModule {}
  let admin: Record<string, string>;

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    admin = {
      authorization: `Bearer ${issuer.token({ scopes: ['ops:admin', 'city:admin'], city: 'demo-city' })}`,
    };
    db = await createTestDatabase('dlq_http');
    const httpPort = await freePort();
    httpUrl = `http://127.0.0.1:${httpPort}`;
    running = await startService(
      {
        name: 'payment',
        configSchema: schema,
        module: ReplayableModule,
        grpcServices: { 'citybase.payment.v1.PaymentService': PaymentServiceService },
        descriptorSet: loadDescriptorSet(),
        migrations: [platformMigrations],
        topics: [PaymentEvents.PaymentCreated.topic],
      },
      {
        DATABASE_URL: db.url,
        GRPC_PORT: String(await freePort()),
        HTTP_PORT: String(httpPort),
        KAFKA_TOPIC_PREFIX: prefix,
        LOG_LEVEL: 'silent',
        AUTH_JWKS_URL: issuer.jwksUrl,
      },
    );
  });

  afterAll(async () => {
    await running?.stop();
    await db?.drop();
    await issuer?.stop();
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
    const replayUrl = `${httpUrl}/admin/dlq/test.replayable/replay`;
    // only an unrestricted city admin with scope ops:admin may replay
    expect((await fetch(replayUrl, { method: 'POST' })).status).toBe(401);
    const forged = issuer.tokenFromUnknownKey({ scopes: ['ops:admin', 'city:admin'], city: 'demo-city' });
    expect(
      (await fetch(replayUrl, { method: 'POST', headers: { authorization: `Bearer ${forged}` } })).status,
    ).toBe(401);
    const noScope = issuer.token({ scopes: ['city:admin'], city: 'demo-city' });
    expect(
      (await fetch(replayUrl, { method: 'POST', headers: { authorization: `Bearer ${noScope}` } })).status,
    ).toBe(403);
    const operatorOnly = issuer.token({ scopes: ['ops:admin'], operators: ['op-1'], city: 'demo-city' });
    expect(
      (await fetch(replayUrl, { method: 'POST', headers: { authorization: `Bearer ${operatorOnly}` } }))
        .status,
    ).toBe(403);
    expect(applied).toEqual([]);
    const res = await fetch(replayUrl, { method: 'POST', headers: admin });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ replayed: 1, failedAgain: 0 });
    expect(applied).toEqual(['p-dlq']);

    const again = await fetch(replayUrl, { method: 'POST', headers: admin });
    expect(await again.json()).toEqual({ replayed: 0, failedAgain: 0 });
    expect(applied).toEqual(['p-dlq']);

    const unknown = await fetch(`${httpUrl}/admin/dlq/nobody/replay`, { method: 'POST', headers: admin });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'no consumer nobody; consumers: test.replayable' });
  });
});
