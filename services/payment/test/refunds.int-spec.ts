import {
  PaymentStatus,
  RefundPaymentRequest,
  RefundStatus,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { uniqueName, waitFor } from '@citybase/platform/testing';
import {
  awaitStatus,
  configureProject,
  ConfiguredChannel,
  errorCode,
  errorField,
  events,
  eventTypes,
  grpcError,
  Harness,
  intentCounts,
  machineryFailures,
  paymentRequest,
  PaymentClient,
  sandboxOrder,
  startHarness,
  status,
} from './intents-harness';

describe('payment: refunds (in-process service, sandbox channel)', () => {
  let h: Harness;
  let channel: ConfiguredChannel;

  beforeAll(async () => {
    // the reconciler completes refunds whose notification is late
    h = await startHarness({ env: { PAYMENT_RECONCILE_INTERVAL_MS: '1000' } });
    [channel] = (await configureProject(h, { operatorId: 'op-1', projectId: 'proj-1' }, [
      { sandbox: h.sandboxes[0]! },
    ])) as [ConfiguredChannel];
  });

  afterAll(async () => {
    await h?.stop();
  });

  /**
   * Waits until earlier tests' refunds are final and every notification the sandbox sends for them
   * (and for paid payments) has arrived: a test that checks "nothing written" then sees only itself.
   * Here each paid payment and each final refund gets exactly one notification.
   */
  const quiet = () =>
    waitFor(
      'no refund in flight, every notification in',
      async () => {
        const { rows } = await h.pg.query<{ settled: boolean }>(
          `SELECT (SELECT count(*) FROM refunds WHERE status = 1) = 0
              AND (SELECT count(*) FROM refunds) = (SELECT count(*) FROM channel_notifications WHERE kind = 'refund')
              AND (SELECT count(*) FROM payments WHERE status IN (3, 4))
                = (SELECT count(*) FROM channel_notifications WHERE kind = 'order') AS settled`,
        );
        return rows[0]?.settled ? true : undefined;
      },
      30_000,
    );

  beforeEach(async () => {
    await h.sandboxes[0]!.configure({
      refundFailureRate: 0,
      refundDelayMs: 100,
      timeoutRate: 0,
      failureRate: 0,
    });
    await quiet();
  });

  /** A payment of `amount` paid at the sandbox and succeeded. */
  async function paidPayment(amount = 10_000n, client: PaymentClient = h.app): Promise<string> {
    const { payment } = await client.createPayment(
      paymentRequest({ amount: { currency: 'CNY', amountMinor: amount } }),
    );
    const id = payment!.paymentId;
    await h.sandboxes[0]!.pay(id, 'success');
    await awaitStatus(client, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
    return id;
  }

  const refundRequest = (
    paymentId: string,
    over: Partial<RefundPaymentRequest> = {},
  ): RefundPaymentRequest => ({
    requestId: uniqueName('refund'),
    paymentId,
    amount: { currency: 'CNY', amountMinor: 1_000n },
    reason: 'customer returned the goods',
    ...over,
  });

  const awaitRefund = (refundId: string, want: RefundStatus) =>
    waitFor(`refund ${refundId} ${RefundStatus[want]}`, async () => {
      const { refund } = await h.app.getRefund({ refundId });
      return refund?.status === want ? refund : undefined;
    });

  it('refunds a payment in full: processing, then succeeded; refunded total and one RefundSucceeded', async () => {
    const id = await paidPayment(10_000n);
    const { refund } = await h.app.refundPayment(
      refundRequest(id, { amount: { currency: 'CNY', amountMinor: 10_000n } }),
    );
    expect(refund).toMatchObject({
      paymentId: id,
      status: RefundStatus.REFUND_STATUS_PROCESSING,
      amount: { currency: 'CNY', amountMinor: 10_000n },
      reason: 'customer returned the goods',
    });
    const done = await awaitRefund(refund!.refundId, RefundStatus.REFUND_STATUS_SUCCEEDED);
    expect(done.channelRefundId).not.toBe('');
    expect(done.completedAt).toBeDefined();
    const payment = (await h.app.getPayment({ paymentId: id })).payment!;
    expect(payment.refunded).toEqual({ currency: 'CNY', amountMinor: 10_000n });
    expect(payment.status).toBe(PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
    expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentSucceeded', 'RefundSucceeded']);
    const [event] = await events(h.pg, id, 'RefundSucceeded');
    expect(event).toMatchObject({
      refundId: refund!.refundId,
      paymentId: id,
      amount: { currency: 'CNY', amountMinor: 10_000n },
      refundedTotal: { currency: 'CNY', amountMinor: 10_000n },
      channel: channel.channelId,
      channelRefundId: done.channelRefundId,
    });
    // nothing is left to refund
    const err = await grpcError(
      h.app.refundPayment(refundRequest(id, { amount: { currency: 'CNY', amountMinor: 1n } })),
    );
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(errorCode(err)).toBe('REFUND_EXCEEDS_PAID');
  });

  it('several partial refunds add up; each event carries the running total', async () => {
    const id = await paidPayment(10_000n);
    const ids: string[] = [];
    for (const amount of [1_000n, 2_500n, 500n]) {
      const { refund } = await h.app.refundPayment(
        refundRequest(id, { amount: { currency: 'CNY', amountMinor: amount } }),
      );
      ids.push(refund!.refundId);
      await awaitRefund(refund!.refundId, RefundStatus.REFUND_STATUS_SUCCEEDED);
    }
    expect((await h.app.getPayment({ paymentId: id })).payment!.refunded?.amountMinor).toBe(4_000n);
    const succeeded = await events(h.pg, id, 'RefundSucceeded');
    expect(succeeded.map((e) => [e.refundId, e.amount?.amountMinor, e.refundedTotal?.amountMinor])).toEqual([
      [ids[0], 1_000n, 1_000n],
      [ids[1], 2_500n, 3_500n],
      [ids[2], 500n, 4_000n],
    ]);
    expect((await sandboxOrder(channel, id))?.refunded).toBe('4000');
  });

  it('100 concurrent partial refunds never exceed what was paid; each accepted one succeeds with exactly one event', async () => {
    const paid = 10_000n;
    const each = 150n;
    const id = await paidPayment(paid);
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        h.app
          .refundPayment(refundRequest(id, { amount: { currency: 'CNY', amountMinor: each } }))
          .then((r) => ({ ok: true as const, refundId: r.refund!.refundId }))
          .catch((err: { code: number; metadata: { get(k: string): unknown[] } }) => ({
            ok: false as const,
            err,
          })),
      ),
    );
    const accepted = results.flatMap((r) => (r.ok ? [r.refundId] : []));
    const refused = results.flatMap((r) => (r.ok ? [] : [r.err]));
    expect(accepted.length).toBe(Number(paid / each)); // 66: as many as fit
    for (const err of refused) {
      expect(err.code).toBe(status.FAILED_PRECONDITION);
      expect(err.metadata.get('citybase-error-code')[0]).toBe('REFUND_EXCEEDS_PAID');
    }
    for (const refundId of accepted) await awaitRefund(refundId, RefundStatus.REFUND_STATUS_SUCCEEDED);
    const succeeded = await events(h.pg, id, 'RefundSucceeded');
    expect(succeeded.map((e) => e.refundId).sort()).toEqual([...accepted].sort());
    const eventSum = succeeded.reduce((sum, e) => sum + e.amount!.amountMinor, 0n);
    const { rows } = await h.pg.query<{ refunded_minor: string; succeeded: string }>(
      `SELECT p.refunded_minor::text,
              (SELECT sum(amount_minor)::text FROM refunds r WHERE r.payment_id = p.payment_id AND r.status = 2) AS succeeded
         FROM payments p WHERE payment_id = $1`,
      [id],
    );
    expect(rows[0]).toEqual({ refunded_minor: eventSum.toString(), succeeded: eventSum.toString() });
    expect(eventSum).toBe(each * BigInt(accepted.length));
    expect(eventSum <= paid).toBe(true);
    // the running totals are those of the commit order: strictly increasing by the amount
    expect(succeeded.map((e) => e.refundedTotal!.amountMinor)).toEqual(
      succeeded.map((_e, i) => each * BigInt(i + 1)),
    );
    expect((await sandboxOrder(channel, id))?.refunded).toBe(eventSum.toString());
  });

  it('a refund the channel fails: FAILED with one RefundFailed; the amount can be refunded again', async () => {
    const id = await paidPayment(5_000n);
    await h.sandboxes[0]!.configure({ refundFailureRate: 1 });
    const { refund } = await h.app.refundPayment(
      refundRequest(id, { amount: { currency: 'CNY', amountMinor: 5_000n } }),
    );
    const failed = await awaitRefund(refund!.refundId, RefundStatus.REFUND_STATUS_FAILED);
    expect(failed.failureReason).not.toBe('');
    expect((await h.app.getPayment({ paymentId: id })).payment!.refunded?.amountMinor).toBe(0n);
    expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentSucceeded', 'RefundFailed']);
    const [event] = await events(h.pg, id, 'RefundFailed');
    expect(event).toMatchObject({ refundId: refund!.refundId, reason: failed.failureReason });
    await h.sandboxes[0]!.configure({ refundFailureRate: 0 });
    const again = await h.app.refundPayment(
      refundRequest(id, { amount: { currency: 'CNY', amountMinor: 5_000n } }),
    );
    await awaitRefund(again.refund!.refundId, RefundStatus.REFUND_STATUS_SUCCEEDED);
  });

  it('a refund whose start got no answer stays processing and is completed by the reconciler', async () => {
    const id = await paidPayment(3_000n);
    await h.sandboxes[0]!.configure({ failureRate: 1 }); // 503: the refund never reaches the channel
    const { refund } = await h.app.refundPayment(refundRequest(id));
    expect(refund!.status).toBe(RefundStatus.REFUND_STATUS_PROCESSING);
    await h.sandboxes[0]!.configure({ failureRate: 0 });
    await awaitRefund(refund!.refundId, RefundStatus.REFUND_STATUS_SUCCEEDED);
    expect((await events(h.pg, id, 'RefundSucceeded')).length).toBe(1);
  });

  it('is idempotent per client and request_id', async () => {
    const id = await paidPayment(4_000n);
    const req = refundRequest(id);
    const first = (await h.app.refundPayment(req)).refund!;
    await quiet();
    const before = await intentCounts(h.pg);
    const again = (await h.app.refundPayment(req)).refund!;
    expect(again.refundId).toBe(first.refundId);
    expect(await intentCounts(h.pg)).toEqual(before);
    const err = await grpcError(
      h.app.refundPayment({ ...req, amount: { currency: 'CNY', amountMinor: 999n } }),
    );
    expect(err).toMatchObject({
      code: status.ALREADY_EXISTS,
      details: 'request_id: already used for a different request',
    });
    expect(await intentCounts(h.pg)).toEqual(before);
  });

  it('refuses to refund more than is left (naming amount), a payment not succeeded, or another currency; nothing written', async () => {
    const id = await paidPayment(2_000n);
    await quiet();
    const before = await intentCounts(h.pg);
    const tooMuch = await grpcError(
      h.app.refundPayment(refundRequest(id, { amount: { currency: 'CNY', amountMinor: 2_001n } })),
    );
    expect(tooMuch.code).toBe(status.FAILED_PRECONDITION);
    expect(errorCode(tooMuch)).toBe('REFUND_EXCEEDS_PAID');
    expect(errorField(tooMuch)).toBe('amount.amount_minor');
    expect(tooMuch.details).toBe('amount.amount_minor: exceeds what is left to refund of the payment (2000)');
    const currency = await grpcError(
      h.app.refundPayment(refundRequest(id, { amount: { currency: 'USD', amountMinor: 1n } })),
    );
    expect(currency).toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: "amount.currency: must be the payment's currency CNY",
    });
    const unpaid = (await h.app.createPayment(paymentRequest())).payment!.paymentId;
    const before2 = await intentCounts(h.pg);
    const notPaid = await grpcError(h.app.refundPayment(refundRequest(unpaid)));
    expect(notPaid.code).toBe(status.FAILED_PRECONDITION);
    expect(errorCode(notPaid)).toBe('PAYMENT_NOT_SUCCEEDED');
    expect(await intentCounts(h.pg)).toEqual(before2);
    expect(before.refunds).toBe(before2.refunds);
  });

  const bad: [string, (paymentId: string) => Partial<RefundPaymentRequest>, string][] = [
    ['missing request_id', () => ({ requestId: '' }), 'request_id: is required'],
    [
      'request_id with spaces',
      () => ({ requestId: 'a b' }),
      'request_id: must be printable ASCII without spaces',
    ],
    ['malformed payment_id', () => ({ paymentId: 'p-1' }), 'payment_id: must be a UUID'],
    ['missing amount', () => ({ amount: undefined }), 'amount: is required'],
    [
      'zero amount',
      () => ({ amount: { currency: 'CNY', amountMinor: 0n } }),
      'amount.amount_minor: must be positive',
    ],
    [
      'negative amount',
      () => ({ amount: { currency: 'CNY', amountMinor: -1n } }),
      'amount.amount_minor: must be positive',
    ],
    [
      'malformed currency',
      () => ({ amount: { currency: 'cny', amountMinor: 1n } }),
      'amount.currency: must be a 3-letter ISO 4217 code',
    ],
    ['missing reason', () => ({ reason: ' ' }), 'reason: is required'],
    ['reason too long', () => ({ reason: 'r'.repeat(201) }), 'reason: must be at most 200 characters'],
  ];

  it.each(bad)(
    'rejects %s with INVALID_ARGUMENT naming the field, writing nothing',
    async (_n, over, message) => {
      const id = await paidPayment(1_000n);
      await quiet();
      const before = await intentCounts(h.pg);
      const err = await grpcError(h.app.refundPayment(refundRequest(id, over(id))));
      expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, details: message });
      expect(await intentCounts(h.pg)).toEqual(before);
    },
  );

  it('GetRefund: foreign like missing, malformed id refused', async () => {
    const id = await paidPayment(1_000n);
    const { refund } = await h.app.refundPayment(
      refundRequest(id, { amount: { currency: 'CNY', amountMinor: 10n } }),
    );
    const foreign = await grpcError(
      h.clientOf({ operators: ['op-2'] }).getRefund({ refundId: refund!.refundId }),
    );
    expect(foreign).toMatchObject({
      code: status.NOT_FOUND,
      details: `refund ${refund!.refundId} not found`,
    });
    const missing = await grpcError(h.app.getRefund({ refundId: '00000000-0000-4000-8000-000000000000' }));
    expect(missing.code).toBe(status.NOT_FOUND);
    const bad = await grpcError(h.app.getRefund({ refundId: 'r-1' }));
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT, details: 'refund_id: must be a UUID' });
    // the project's own client sees it
    const project = h.clientOf({ projects: ['proj-1'] });
    expect((await project.getRefund({ refundId: refund!.refundId })).refund!.refundId).toBe(refund!.refundId);
  });

  it("refuses to refund another tenant's payment (PERMISSION_DENIED), writing nothing", async () => {
    const id = await paidPayment(1_000n);
    await quiet();
    const before = await intentCounts(h.pg);
    const err = await grpcError(h.clientOf({ operators: ['op-2'] }).refundPayment(refundRequest(id)));
    expect(err).toMatchObject({
      code: status.PERMISSION_DENIED,
      details: 'the resource lies outside the tenancy of this client',
    });
    const noScope = await grpcError(
      h.clientOf({ operators: ['op-1'] }, ['payment:write', 'payment:read']).refundPayment(refundRequest(id)),
    );
    expect(noScope).toMatchObject({
      code: status.PERMISSION_DENIED,
      details: 'the token lacks scope payment:refund',
    });
    expect(await intentCounts(h.pg)).toEqual(before);
  });

  it('logged no failure of its own machinery', () => {
    expect(machineryFailures(h.svc.output())).toEqual([]);
  });
});
