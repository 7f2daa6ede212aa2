import { Metadata, status } from '@grpc/grpc-js';
import { Client } from 'pg';
import {
  CreatePaymentRequest,
  PaymentScenario,
  PaymentServiceService,
  PaymentStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { PromiseClient, TestIssuer, waitFor } from '@citybase/platform/testing';
import {
  configureProject,
  ConfiguredChannel,
  Harness,
  paymentRequest,
  startHarness,
} from './intents-harness';

describe('payment: CreatePayment and GetPayment over gRPC (in-process service, PostgreSQL, Kafka, sandbox channel)', () => {
  let h: Harness;
  let pg: Client;
  let issuer: TestIssuer;
  let channel: ConfiguredChannel;
  let payments: PromiseClient<typeof PaymentServiceService>;
  const SCOPES = ['payment:write', 'payment:read'];
  // request ids are a namespace per API client: one client id for the suite's scenario app
  const SUB = 'scenario-app-op-1';

  beforeAll(async () => {
    h = await startHarness({ env: { PAYMENT_RECONCILE_INTERVAL_MS: '600000' } });
    ({ pg, issuer } = h);
    [channel] = (await configureProject(h, { operatorId: 'op-1', projectId: 'proj-1' }, [
      { sandbox: h.sandboxes[0]! },
    ])) as [ConfiguredChannel];
    // a scenario app of operator op-1
    payments = h.client(PaymentServiceService, () =>
      issuer.metadata({ scopes: SCOPES, operators: ['op-1'], sub: SUB }),
    );
  });

  afterAll(async () => {
    await h?.stop();
  });

  const request = (over: Partial<CreatePaymentRequest> = {}): CreatePaymentRequest => paymentRequest(over);

  const counts = async () => {
    const { rows } = await pg.query<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM payments) AS payments, (SELECT count(*)::int FROM outbox) AS events,
              (SELECT count(*)::int FROM payment_channel_orders) AS channel_orders,
              (SELECT count(*)::int FROM idempotency_keys) AS request_keys`,
    );
    return rows[0];
  };

  it('creates a payment, opens its order at the channel, returns exact int64 money, and writes its PaymentCreated event in the same transaction', async () => {
    const big = 9_007_199_254_740_993n; // beyond 2^53
    const { payment } = await payments.createPayment(
      request({ amount: { currency: 'CNY', amountMinor: big } }),
    );
    expect(payment).toMatchObject({
      status: PaymentStatus.PAYMENT_STATUS_PROCESSING,
      amount: { currency: 'CNY', amountMinor: big },
      merchantId: 'm-1',
      channel: channel.channelId,
      refunded: { currency: 'CNY', amountMinor: 0n },
      failureReason: '',
      profitSharing: false,
      payerRef: 'resident-42',
      description: 'property fee 2026-11',
    });
    expect(payment!.payUrl).toMatch(/^https?:\/\//);
    expect((await payments.getPayment({ paymentId: payment!.paymentId })).payment).toEqual(payment);
    const { rows } = await pg.query(`SELECT event_type, partition_key FROM outbox WHERE partition_key = $1`, [
      payment!.paymentId,
    ]);
    expect(rows).toEqual([
      { event_type: 'citybase.payment.v1.PaymentCreated', partition_key: payment!.paymentId },
    ]);
    await waitFor('event published', async () =>
      (await pg.query('SELECT published_at FROM outbox WHERE partition_key = $1', [payment!.paymentId]))
        .rows[0].published_at
        ? true
        : undefined,
    );
  });

  it('is idempotent by request_id: a retry returns the same payment and publishes nothing new', async () => {
    const req = request();
    const first = await payments.createPayment(req);
    const before = await counts();
    const again = await payments.createPayment(req);
    expect(again).toEqual(first);
    expect(await counts()).toEqual(before);
  });

  it('refuses the same request_id with a different request, writing nothing', async () => {
    const req = request();
    await payments.createPayment(req);
    const before = await counts();
    await expect(
      payments.createPayment({ ...req, amount: { currency: 'CNY', amountMinor: 1n } }),
    ).rejects.toMatchObject({
      code: status.ALREADY_EXISTS,
      details: 'request_id: already used for a different request',
    });
    expect(await counts()).toEqual(before);
  });

  it('turns 50 concurrent identical requests into one payment, one event and one order at one channel', async () => {
    const req = request();
    const results = await Promise.all(Array.from({ length: 50 }, () => payments.createPayment(req)));
    expect(new Set(results.map((r) => r.payment!.paymentId)).size).toBe(1);
    const id = results[0]!.payment!.paymentId;
    const { rows } = await pg.query('SELECT count(*)::int AS n FROM outbox WHERE partition_key = $1', [id]);
    expect(rows[0].n).toBe(1);
    const orders = await pg.query(
      'SELECT channel_id, state, attempt FROM payment_channel_orders WHERE payment_id = $1',
      [id],
    );
    expect(orders.rows).toEqual([{ channel_id: channel.channelId, state: 'open', attempt: 1 }]);
    // every caller got the routed payment (none saw it half-way)
    for (const r of results)
      expect(r.payment).toMatchObject({
        status: PaymentStatus.PAYMENT_STATUS_PROCESSING,
        channel: channel.channelId,
      });
  });

  const bad: [string, Partial<CreatePaymentRequest>, string][] = [
    ['missing request_id', { requestId: '' }, 'request_id: is required'],
    ['request_id with spaces', { requestId: 'a b' }, 'request_id: must be printable ASCII without spaces'],
    ['request_id too long', { requestId: 'x'.repeat(129) }, 'request_id: must be at most 128 characters'],
    ['missing tenancy', { tenancy: undefined }, 'tenancy.operator_id: is required'],
    [
      'bad project id',
      { tenancy: { operatorId: 'op', projectId: 'p/1', merchantId: '' } },
      'tenancy.project_id: must be 1-64 letters, digits, dots, dashes, colons or underscores',
    ],
    ['missing merchant', { merchantId: '' }, 'merchant_id: is required'],
    [
      'unspecified scenario',
      { scenario: PaymentScenario.PAYMENT_SCENARIO_UNSPECIFIED },
      'scenario: is required',
    ],
    ['unknown scenario', { scenario: 99 as PaymentScenario }, 'scenario: unknown value 99'],
    ['missing amount', { amount: undefined }, 'amount: is required'],
    [
      'zero amount',
      { amount: { currency: 'CNY', amountMinor: 0n } },
      'amount.amount_minor: must be positive',
    ],
    [
      'negative amount',
      { amount: { currency: 'CNY', amountMinor: -5n } },
      'amount.amount_minor: must be positive',
    ],
    [
      'bad currency',
      { amount: { currency: 'yuan', amountMinor: 5n } },
      'amount.currency: must be at most 3 characters',
    ],
    [
      'foreign currency',
      { amount: { currency: 'USD', amountMinor: 5n } },
      'amount.currency: must be one of CNY',
    ],
    ['missing payer', { payerRef: ' ' }, 'payer_ref: is required'],
    ['description too long', { description: 'd'.repeat(257) }, 'description: must be at most 256 characters'],
  ];

  it.each(bad)(
    'rejects %s with INVALID_ARGUMENT naming the field, writing nothing',
    async (_name, over, message) => {
      const before = await counts();
      await expect(payments.createPayment(request(over))).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: message,
      });
      expect(await counts()).toEqual(before);
    },
  );

  it('answers NOT_FOUND for an unknown payment and INVALID_ARGUMENT for a malformed id', async () => {
    await expect(
      payments.getPayment({ paymentId: '00000000-0000-4000-8000-000000000000' }),
    ).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(payments.getPayment({ paymentId: 'nope' })).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'payment_id: must be a UUID',
    });
  });

  describe('authorization', () => {
    it('refuses a payment in a tenancy outside the token (PERMISSION_DENIED), writing nothing', async () => {
      const before = await counts();
      const projectClient = issuer.metadata({ scopes: SCOPES, projects: ['proj-2'] });
      await expect(payments.createPayment(request(), projectClient)).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
      });
      const otherOperator = issuer.metadata({ scopes: SCOPES, operators: ['op-2'] });
      await expect(payments.createPayment(request(), otherOperator)).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
        details: 'the resource lies outside the tenancy of this client',
      });
      expect(await counts()).toEqual(before);
    });

    it("answers another operator's payment exactly like a missing one", async () => {
      const { payment } = await payments.createPayment(request());
      const id = payment!.paymentId;
      const foreign = await payments
        .getPayment({ paymentId: id }, issuer.metadata({ scopes: SCOPES, operators: ['op-2'] }))
        .catch((e: { code: number; details: string }) => e);
      const missing = await payments
        .getPayment({ paymentId: '00000000-0000-4000-8000-000000000000' })
        .catch((e: { code: number; details: string }) => e);
      expect(foreign).toMatchObject({ code: status.NOT_FOUND, details: `payment ${id} not found` });
      expect(missing).toMatchObject({ code: status.NOT_FOUND });
      expect(JSON.stringify(foreign)).not.toContain('op-1');
      // a client of the project itself sees it
      const mine = await payments.getPayment(
        { paymentId: id },
        issuer.metadata({ scopes: SCOPES, projects: ['proj-1'] }),
      );
      expect(mine.payment?.paymentId).toBe(id);
    });

    it('refuses a call without a token or without the scope', async () => {
      await expect(payments.createPayment(request(), new Metadata())).rejects.toMatchObject({
        code: status.UNAUTHENTICATED,
      });
      await expect(
        payments.createPayment(request(), issuer.metadata({ scopes: ['payment:read'], operators: ['op-1'] })),
      ).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
        details: 'the token lacks scope payment:write',
      });
    });
  });
});
