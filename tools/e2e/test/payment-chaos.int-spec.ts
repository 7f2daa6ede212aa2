import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import {
  CreatePaymentRequest,
  PaymentScenario,
  PaymentServiceService,
} from '@citybase/contracts/citybase/payment/v1/payment';
import {
  createTestDatabase,
  grpcClient,
  kafkaTestPrefix,
  routeProjectToSandbox,
  SandboxChannelProcess,
  ServiceProcess,
  spawnSandboxChannel,
  TestDatabase,
  TestIssuer,
  waitFor,
} from '@citybase/platform/testing';
import { callWhileRestarting, spawnReadyService } from '../src';

/**
 * Payment under a crash: 1,000 payments are created over gRPC while the sandbox's payer pays them
 * and its notifications arrive (some twice, some out of order); the payment process is SIGKILLed in
 * the middle and started again on new ports (notifications to the dead address are lost: the
 * reconciler must resolve those payments by querying the channel). Clients retry calls that failed
 * with the same request id. Afterwards every payment is in a final state, the channel agrees with
 * each, and the events in the outbox match the database exactly: one PaymentCreated per payment and
 * one final event per payment, of the type its final state says.
 */
describe('payment: SIGKILL during 1,000 payments', () => {
  const N = 1_000;
  let issuer: TestIssuer;
  let sandbox: SandboxChannelProcess;
  let db: TestDatabase;
  let svc: ServiceProcess | undefined;
  const prefix = kafkaTestPrefix('paykill');
  const operatorId = 'op-chaos';
  const projectId = 'proj-chaos';

  const start = () =>
    spawnReadyService('payment', {
      db,
      kafkaPrefix: prefix,
      issuer,
      env: { PAYMENT_RECONCILE_INTERVAL_MS: '1000', PAYMENT_CHANNEL_TIMEOUT_MS: '3000' },
    });

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    sandbox = await spawnSandboxChannel({
      autoPay: 'success',
      autoPayDelayMs: 20,
      notifyDelayMs: 10,
      duplicateRate: 0.2,
      reorder: true,
    });
    db = await createTestDatabase('e2e_paykill');
    svc = await start();
    await routeProjectToSandbox({ paymentAddress: svc.grpcAddress, issuer, sandbox, operatorId, projectId });
  }, 120_000);

  afterAll(async () => {
    await svc?.stop('SIGKILL');
    await sandbox?.stop();
    await db?.drop();
    await issuer?.stop();
  });

  it('ends with every payment final, the channel agreeing, and events matching the database', async () => {
    const requests: CreatePaymentRequest[] = Array.from({ length: N }, (_, i) => ({
      requestId: randomUUID(),
      tenancy: { operatorId, projectId, merchantId: '' },
      merchantId: 'm-chaos',
      scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
      amount: { currency: 'CNY', amountMinor: BigInt(100 + i) },
      payerRef: `payer-${i}`,
      description: 'chaos',
      expiresInSeconds: 0,
      profitSharing: false,
    }));
    let address = svc!.grpcAddress;
    const metadata = () =>
      issuer.metadata({
        scopes: ['payment:write', 'payment:read'],
        operators: [operatorId],
        sub: 'payment-chaos-app',
      });
    let next = 0;
    let killed = false;
    let retries = 0;
    const worker = async () => {
      for (let i = next++; i < N; i = next++) {
        if (i === 300 && !killed) {
          killed = true;
          await svc!.stop('SIGKILL');
          svc = await start();
          address = svc.grpcAddress;
        }
        await callWhileRestarting(
          () => grpcClient(PaymentServiceService, address, metadata),
          (client) => client.createPayment(requests[i]!),
          { onRetry: () => (retries += 1) },
        );
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    expect(killed).toBe(true);

    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      // every payment reaches a final state (succeeded: the payer pays every order)
      await waitFor(
        'all payments final',
        async () => {
          const { rows } = await pg.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM payments WHERE status NOT IN (3, 4, 5)`,
          );
          return rows[0]!.n === 0 || undefined;
        },
        240_000,
        1_000,
      );
      const { rows: payments } = await pg.query<{
        payment_id: string;
        status: number;
        channel_transaction_id: string | null;
      }>(`SELECT payment_id, status, channel_transaction_id FROM payments`);
      expect(payments).toHaveLength(N);
      expect(payments.filter((p) => p.status !== 3)).toEqual([]);
      expect(payments.filter((p) => !p.channel_transaction_id)).toEqual([]);

      // events match the database exactly
      const { rows: events } = await pg.query<{ event_type: string; partition_key: string; n: number }>(
        `SELECT event_type, partition_key, count(*)::int AS n FROM outbox GROUP BY 1, 2`,
      );
      const created = events.filter((e) => e.event_type === 'citybase.payment.v1.PaymentCreated');
      const succeeded = events.filter((e) => e.event_type === 'citybase.payment.v1.PaymentSucceeded');
      const ids = new Set(payments.map((p) => p.payment_id));
      expect(created.filter((e) => e.n !== 1 || !ids.has(e.partition_key))).toEqual([]);
      expect(created).toHaveLength(N);
      expect(succeeded.filter((e) => e.n !== 1 || !ids.has(e.partition_key))).toEqual([]);
      expect(succeeded).toHaveLength(N);
      expect(
        events.filter(
          (e) => !e.event_type.endsWith('PaymentCreated') && !e.event_type.endsWith('PaymentSucceeded'),
        ),
      ).toEqual([]);
      // ... and all of them were published
      await waitFor(
        'outbox published',
        async () =>
          (await pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL`))
            .rows[0]!.n === 0 || undefined,
        60_000,
      );
      console.log(`payment SIGKILL at #300; ${retries} client retries; ${N} succeeded, events exact`);
    } finally {
      await pg.end();
    }
  }, 600_000);
});
