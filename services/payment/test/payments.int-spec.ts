import { status } from '@grpc/grpc-js';
import { Client } from 'pg';
import {
  PaymentScenario,
  PaymentServiceService,
  PaymentStatus,
  RecordPaymentRequest,
} from '@citybase/contracts/citybase/payment/v1/payment';
import {
  createTestDatabase,
  grpcClient,
  PromiseClient,
  ServiceProcess,
  spawnService,
  TestDatabase,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';

describe('payment: RecordPayment and GetPayment over gRPC (real process, PostgreSQL, Kafka)', () => {
  let db: TestDatabase;
  let svc: ServiceProcess;
  let pg: Client;
  let payments: PromiseClient<typeof PaymentServiceService>;

  beforeAll(async () => {
    db = await createTestDatabase('payment');
    svc = await spawnService('payment', {
      DATABASE_URL: db.url,
      KAFKA_TOPIC_PREFIX: `${uniqueName('payment')}.`,
    });
    await svc.ready();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    payments = grpcClient(PaymentServiceService, svc.grpcAddress);
  });

  afterAll(async () => {
    payments?.close();
    await pg?.end();
    await svc?.stop();
    await db?.drop();
  });

  const request = (over: Partial<RecordPaymentRequest> = {}): RecordPaymentRequest => ({
    requestId: uniqueName('req'),
    tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: '' },
    merchantId: 'm-1',
    scenario: PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE,
    amount: { currency: 'CNY', amountMinor: 12_345n },
    payerRef: 'resident-42',
    description: 'property fee 2026-11',
    ...over,
  });

  const counts = async () => {
    const { rows } = await pg.query<{ payments: number; events: number }>(
      `SELECT (SELECT count(*)::int FROM payments) AS payments, (SELECT count(*)::int FROM outbox) AS events`,
    );
    return rows[0];
  };

  it('records a payment, returns it with exact int64 money, and writes its PaymentCreated event in the same transaction', async () => {
    const big = 9_007_199_254_740_993n; // beyond 2^53
    const { payment } = await payments.recordPayment(
      request({ amount: { currency: 'CNY', amountMinor: big } }),
    );
    expect(payment).toMatchObject({
      status: PaymentStatus.PAYMENT_STATUS_CREATED,
      amount: { currency: 'CNY', amountMinor: big },
      merchantId: 'm-1',
    });
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
    const first = await payments.recordPayment(req);
    const before = await counts();
    const again = await payments.recordPayment(req);
    expect(again).toEqual(first);
    expect(await counts()).toEqual(before);
  });

  it('refuses the same request_id with a different request, writing nothing', async () => {
    const req = request();
    await payments.recordPayment(req);
    const before = await counts();
    await expect(
      payments.recordPayment({ ...req, amount: { currency: 'CNY', amountMinor: 1n } }),
    ).rejects.toMatchObject({
      code: status.ALREADY_EXISTS,
      details: 'request_id: already used for a different request',
    });
    expect(await counts()).toEqual(before);
  });

  it('turns 50 concurrent identical requests into one payment and one event', async () => {
    const req = request();
    const results = await Promise.all(Array.from({ length: 50 }, () => payments.recordPayment(req)));
    expect(new Set(results.map((r) => r.payment!.paymentId)).size).toBe(1);
    const { rows } = await pg.query('SELECT count(*)::int AS n FROM outbox WHERE partition_key = $1', [
      results[0].payment!.paymentId,
    ]);
    expect(rows[0].n).toBe(1);
  });

  const bad: [string, Partial<RecordPaymentRequest>, string][] = [
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
      await expect(payments.recordPayment(request(over))).rejects.toMatchObject({
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
});
