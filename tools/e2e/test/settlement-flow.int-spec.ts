import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { Client } from 'pg';
import { PaymentScenario, PaymentServiceService } from '@citybase/contracts/citybase/payment/v1/payment';
import {
  AccountKind,
  ChannelSplitStatus,
  EscrowOrder,
  EscrowStatus,
  RefundDestination,
  SettlementServiceService,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
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
import { callWhileRestarting, settlementLedgerCheck, spawnReadyService } from '../src';

/**
 * Settlement with the real payment process and the sandbox channel: a profit-sharing payment is
 * held in escrow, completed and split (the channel splits its held funds as settlement instructed
 * through payment), then refunded after the split (split-returns at the channel first). Then the
 * settlement process is SIGKILLed in the middle of 200 completions and refunds and started again:
 * afterwards every order is where its requests put it, the ledger's invariants hold (the command
 * anyone can run), and every effect is in the books exactly once.
 */
describe('settlement with payment and the sandbox channel', () => {
  let issuer: TestIssuer;
  let sandbox: SandboxChannelProcess;
  let paymentDb: TestDatabase;
  let settlementDb: TestDatabase;
  let payment: ServiceProcess;
  let settlement: ServiceProcess | undefined;
  const prefix = kafkaTestPrefix('settle');
  const operatorId = 'op-settle';
  const projectId = 'proj-settle';
  const merchantId = 'm-settle';

  const startSettlement = () =>
    spawnReadyService('settlement', { db: settlementDb, kafkaPrefix: prefix, issuer });

  const operator = () =>
    issuer.metadata({
      scopes: [
        'payment:write',
        'payment:read',
        'settlement:read',
        'settlement:write',
        'settlement:configure',
        'settlement:mediate',
      ],
      operators: [operatorId],
      sub: 'settlement-e2e',
    });

  /**
   * Calls settlement, retrying (same request) while the process is down or restarting, and, like a
   * scenario app, while a refund after completion waits for the channel to confirm the split.
   */
  const settle = <T>(fn: (c: ReturnType<typeof settlementClient>) => Promise<T>): Promise<T> =>
    callWhileRestarting(settlementClient, fn, {
      alsoRetry: ({ code, details }) =>
        code === status.FAILED_PRECONDITION && /not confirmed the split/.test(details ?? ''),
    });
  const settlementClient = () => grpcClient(SettlementServiceService, settlement!.grpcAddress, operator);
  const order = (orderId: string) => settle((c) => c.getEscrowOrder({ orderId })).then((r) => r.order!);

  const pay = async (amountMinor: bigint, payerRef: string, profitSharing = true): Promise<string> => {
    const client = grpcClient(PaymentServiceService, payment.grpcAddress, operator);
    try {
      const { payment: p } = await client.createPayment({
        requestId: randomUUID(),
        tenancy: { operatorId, projectId, merchantId },
        merchantId,
        scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
        amount: { currency: 'CNY', amountMinor },
        payerRef,
        description: 'settlement e2e',
        expiresInSeconds: 0,
        profitSharing,
      });
      return p!.paymentId;
    } finally {
      client.close();
    }
  };

  const untilOrder = (orderId: string, what: string, ok: (o: EscrowOrder) => boolean) =>
    waitFor(
      `order ${orderId}: ${what}`,
      async () => {
        const o = await order(orderId).catch(() => undefined);
        return o && ok(o) ? o : undefined;
      },
      60_000,
      100,
    );

  const ledgerCheck = () => settlementLedgerCheck(settlementDb.url);

  beforeAll(async () => {
    issuer = await TestIssuer.start();
    sandbox = await spawnSandboxChannel({ autoPay: 'success', autoPayDelayMs: 10, notifyDelayMs: 5 });
    paymentDb = await createTestDatabase('e2e_settle_pay');
    settlementDb = await createTestDatabase('e2e_settle');
    payment = await spawnReadyService('payment', {
      db: paymentDb,
      kafkaPrefix: prefix,
      issuer,
      env: { PAYMENT_INSTRUCTION_INTERVAL_MS: '200', PAYMENT_RECONCILE_INTERVAL_MS: '200' },
    });
    settlement = await startSettlement();
    await routeProjectToSandbox({
      paymentAddress: payment.grpcAddress,
      issuer,
      sandbox,
      operatorId,
      projectId,
    });
    await settle((c) =>
      c.setSplitRule({
        requestId: randomUUID(),
        rule: {
          operatorId,
          projectId,
          merchantCategory: '',
          commissionBps: 1000,
          propertyShareBps: 500,
          taxBps: 300,
          autoConfirmHours: 24,
          updatedAt: undefined,
        },
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await settlement?.stop('SIGKILL');
    await payment?.stop();
    await sandbox?.stop();
    await paymentDb?.drop();
    await settlementDb?.drop();
    await issuer?.stop();
  });

  it('holds a payment in escrow, splits it at the channel on completion, refunds after the split', async () => {
    const orderId = await pay(10_000n, 'resident-flow');
    const held = await untilOrder(orderId, 'held', (o) => o.status === EscrowStatus.ESCROW_STATUS_HELD);
    expect(held.held).toEqual({ currency: 'CNY', amountMinor: 10_000n });
    expect(held.channelSplit).toBe(ChannelSplitStatus.CHANNEL_SPLIT_STATUS_HELD);

    const { order: completed } = await settle((c) => c.completeOrder({ requestId: randomUUID(), orderId }));
    expect(completed!.status).toBe(EscrowStatus.ESCROW_STATUS_COMPLETED);
    const parts = Object.fromEntries(completed!.split.map((p) => [p.role, p.amount!.amountMinor]));
    expect(parts).toEqual({ merchant: 8_200n, commission: 1_000n, property: 500n, tax: 300n });
    await untilOrder(
      orderId,
      'split at the channel',
      (o) => o.channelSplit === ChannelSplitStatus.CHANNEL_SPLIT_STATUS_SPLIT,
    );

    await settle((c) =>
      c.refundOrder({
        requestId: randomUUID(),
        orderId,
        amount: { currency: 'CNY', amountMinor: 5_000n },
        destination: RefundDestination.REFUND_DESTINATION_ORIGINAL,
        reason: 'half returned',
      }),
    );
    const refunded = await untilOrder(
      orderId,
      'refunded through the channel',
      (o) => o.refunded?.amountMinor === 5_000n && (o.refundPending?.amountMinor ?? 0n) === 0n,
    );
    // what came back from the split is no longer released: escrow per order = paid - released - refunded
    expect(refunded.released).toEqual({ currency: 'CNY', amountMinor: 5_000n });
    expect(Object.fromEntries(refunded.split.map((p) => [p.role, p.amount!.amountMinor]))).toEqual({
      merchant: 4_100n,
      commission: 500n,
      property: 250n,
      tax: 150n,
    });

    // payment carried out each instruction once at the channel
    const pg = new Client({ connectionString: paymentDb.url });
    await pg.connect();
    try {
      const { rows } = await pg.query<{ kind: string; status: string; n: number }>(
        `SELECT kind, status, count(*)::int AS n FROM channel_instructions WHERE payment_id = $1 GROUP BY 1, 2 ORDER BY 1`,
        [orderId],
      );
      expect(rows).toEqual([
        { kind: 'refund', status: 'succeeded', n: 1 },
        { kind: 'split', status: 'succeeded', n: 1 },
        { kind: 'split_return', status: 'succeeded', n: 3 }, // merchant, property, platform (commission + tax)
      ]);
    } finally {
      await pg.end();
    }

    // the books: half of every part went back to the payer through the channel
    const { accounts } = await settle((c) =>
      c.listAccounts({
        operatorId,
        projectId: '',
        kind: 0,
        ownerRef: '',
        page: { pageSize: 500, pageToken: '' },
      }),
    );
    const balance = (kind: AccountKind) =>
      accounts.filter((a) => a.account!.kind === kind).reduce((sum, a) => sum + a.balance!.amountMinor, 0n);
    expect(balance(AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE)).toBe(4_100n);
    expect(balance(AccountKind.ACCOUNT_KIND_PLATFORM_COMMISSION)).toBe(500n);
    expect(balance(AccountKind.ACCOUNT_KIND_PROPERTY_SHARE)).toBe(250n);
    expect(balance(AccountKind.ACCOUNT_KIND_TAX_PAYABLE)).toBe(150n);
    expect(balance(AccountKind.ACCOUNT_KIND_CHANNEL_CLEARING)).toBe(5_000n);
    expect(balance(AccountKind.ACCOUNT_KIND_ESCROW)).toBe(0n);
    expect(ledgerCheck()).toEqual({ status: 0, violations: [] });
  }, 180_000);

  it('SIGKILL in the middle of 200 completions and refunds: every effect once, invariants hold', async () => {
    const N = 200;
    const orders: string[] = [];
    for (let i = 0; i < N; i++) orders.push(await pay(BigInt(1_000 + i * 7), `resident-${i % 20}`));
    for (const id of orders)
      await untilOrder(id, 'held', (o) => o.status === EscrowStatus.ESCROW_STATUS_HELD);

    // every order completes; every other one is then refunded in part, half of those to the wallet
    const requests = orders.map((orderId, i) => ({
      orderId,
      complete: randomUUID(),
      refund: i % 2 === 0 ? randomUUID() : undefined,
      destination:
        i % 4 === 0
          ? RefundDestination.REFUND_DESTINATION_WALLET
          : RefundDestination.REFUND_DESTINATION_ORIGINAL,
      refundMinor: BigInt(300 + i),
    }));
    let next = 0;
    let killed = false;
    const worker = async () => {
      for (let i = next++; i < N; i = next++) {
        if (i === N / 2 && !killed) {
          killed = true;
          await settlement!.stop('SIGKILL');
          settlement = await startSettlement();
        }
        const r = requests[i]!;
        await settle((c) => c.completeOrder({ requestId: r.complete, orderId: r.orderId }));
        if (r.refund) {
          await settle((c) =>
            c.refundOrder({
              requestId: r.refund!,
              orderId: r.orderId,
              amount: { currency: 'CNY', amountMinor: r.refundMinor },
              destination: r.destination,
              reason: 'chaos',
            }),
          );
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(killed).toBe(true);

    for (const r of requests) {
      await untilOrder(
        r.orderId,
        'completed, split, refunds settled',
        (o) =>
          o.status === EscrowStatus.ESCROW_STATUS_COMPLETED &&
          o.channelSplit === ChannelSplitStatus.CHANNEL_SPLIT_STATUS_SPLIT &&
          (o.refundPending?.amountMinor ?? 0n) === 0n &&
          o.refunded?.amountMinor === (r.refund ? r.refundMinor : 0n),
      );
    }
    expect(ledgerCheck()).toEqual({ status: 0, violations: [] });

    const pg = new Client({ connectionString: settlementDb.url });
    await pg.connect();
    try {
      // exactly one completion and at most one refund posting per order, whatever was retried
      const { rows } = await pg.query<{ reference: string; kind: string; n: number }>(
        `SELECT reference, kind, count(*)::int AS n FROM ledger_transactions
          WHERE reference = ANY($1::text[]) GROUP BY 1, 2`,
        [orders],
      );
      const count = (id: string, kind: RegExp) =>
        rows.filter((r) => r.reference === id && kind.test(r.kind)).reduce((s, r) => s + r.n, 0);
      for (const r of requests) {
        expect([r.orderId, count(r.orderId, /escrow/)]).toEqual([r.orderId, 1]);
        expect([r.orderId, count(r.orderId, /complet/)]).toEqual([r.orderId, 1]);
        expect([r.orderId, count(r.orderId, /refund/)]).toEqual([r.orderId, r.refund ? 1 : 0]);
      }
    } finally {
      await pg.end();
    }
  }, 600_000);
});
