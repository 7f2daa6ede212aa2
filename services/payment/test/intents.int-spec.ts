import { PaymentScenario, PaymentStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import { kafkaTestPrefix, spawnService, waitFor } from '@citybase/platform/testing';
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
  notificationsOf,
  orderNotification,
  paymentRequest,
  postNotification,
  sandboxOrder,
  sentNotifications,
  startHarness,
  status,
} from './intents-harness';

const SCENARIOS = [
  PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE,
  PaymentScenario.PAYMENT_SCENARIO_PARKING,
  PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING,
  PaymentScenario.PAYMENT_SCENARIO_GOODS,
  PaymentScenario.PAYMENT_SCENARIO_SERVICES,
  PaymentScenario.PAYMENT_SCENARIO_GROUP_BUY,
];

/** A new payment of the default request; its id. */
async function newPaymentId(h: Harness): Promise<string> {
  return (await h.app.createPayment(paymentRequest())).payment!.paymentId;
}

/**
 * Channel notifications drive these payments: the reconciler is set so far apart that it never runs
 * during the suite, so every outcome seen here came through the notification route (or the RPC).
 */
describe('payment intents: create, channel notifications, confirmation, routing (in-process service, sandbox)', () => {
  let h: Harness;
  let channel: ConfiguredChannel;

  beforeAll(async () => {
    h = await startHarness({ env: { PAYMENT_RECONCILE_INTERVAL_MS: '600000' }, sandboxes: 3 });
    [channel] = (await configureProject(h, { operatorId: 'op-1', projectId: 'proj-1' }, [
      { sandbox: h.sandboxes[0]! },
    ])) as [ConfiguredChannel];
  });

  afterAll(async () => {
    await h?.stop();
  });

  beforeEach(async () => {
    await h.sandboxes[0]!.configure({ duplicateRate: 0, reorder: false, notifyDelayMs: 50, autoPay: 'off' });
  });

  it.each(SCENARIOS.map((s) => [PaymentScenario[s], s] as const))(
    '%s: created > processing at the channel > paid by the payer > succeeded by the notification, one PaymentSucceeded',
    async (_name, scenario) => {
      const { payment } = await h.app.createPayment(
        paymentRequest({ scenario, profitSharing: scenario === PaymentScenario.PAYMENT_SCENARIO_GOODS }),
      );
      expect(payment).toMatchObject({
        status: PaymentStatus.PAYMENT_STATUS_PROCESSING,
        channel: channel.channelId,
        scenario,
        amount: { currency: 'CNY', amountMinor: 12_345n },
        payerRef: 'resident-42',
      });
      expect(payment!.payUrl).not.toBe('');
      const id = payment!.paymentId;
      // 900 s by default
      expect(Number(payment!.expiresAt!.seconds - payment!.createdAt!.seconds)).toBe(900);
      expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated']);

      await h.sandboxes[0]!.pay(id, 'success');
      const paid = await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
      expect(paid.channelTransactionId).not.toBe('');
      expect(paid.payUrl).toBe('');
      expect(paid.completedAt).toBeDefined();
      expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentSucceeded']);
      const [succeeded] = await events(h.pg, id, 'PaymentSucceeded');
      expect(succeeded).toMatchObject({
        paymentId: id,
        channel: channel.channelId,
        channelTransactionId: paid.channelTransactionId,
        profitSharing: scenario === PaymentScenario.PAYMENT_SCENARIO_GOODS,
        payerRef: 'resident-42',
        scenario,
        amount: { currency: 'CNY', amountMinor: 12_345n },
      });
      // it came through the notification route
      const { rows } = await h.pg.query('SELECT kind FROM channel_notifications WHERE payment_id = $1', [id]);
      expect(rows).toEqual([{ kind: 'order' }]);
    },
  );

  it('a payment the bank declines fails, with one PaymentFailed carrying the reason', async () => {
    const id = await newPaymentId(h);
    await h.sandboxes[0]!.pay(id, 'fail');
    const failed = await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_FAILED);
    expect(failed.failureReason).not.toBe('');
    expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentFailed']);
    const [event] = await events(h.pg, id, 'PaymentFailed');
    expect(event).toMatchObject({ paymentId: id, reason: failed.failureReason, channel: channel.channelId });
  });

  it('applies duplicated and reordered notifications once', async () => {
    await h.sandboxes[0]!.configure({ duplicateRate: 1, reorder: true });
    const id = await newPaymentId(h);
    await h.sandboxes[0]!.pay(id, 'success');
    await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
    // both copies were delivered (answered 2xx), the second acknowledged without effect
    await waitFor('both copies delivered', async () => {
      const [n] = await sentNotifications(h.sandboxes[0]!, id);
      return n && n.duplicate && n.delivered === 2 ? true : undefined;
    });
    expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentSucceeded']);
    expect(await notificationsOf(h.pg, id)).toBe(1);
  });

  it('an older notification arriving after the success changes nothing (out of order)', async () => {
    const id = await newPaymentId(h);
    await h.sandboxes[0]!.pay(id, 'success');
    const paid = await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
    const before = await intentCounts(h.pg);
    for (const late of ['NOTPAY', 'PAYERROR', 'CLOSED'] as const) {
      const body = orderNotification(id, { status: late, amount: 12_345n });
      expect(await postNotification(h, channel, id, body, { key: channel.key })).toBe(200);
    }
    const after = (await h.app.getPayment({ paymentId: id })).payment;
    expect(after).toEqual(paid);
    expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentSucceeded']);
    // recorded as received (3 new ids), nothing else written
    expect(await intentCounts(h.pg)).toEqual(before);
    expect(await notificationsOf(h.pg, id)).toBe(1 + 3);
  });

  describe('forged and tampered notifications', () => {
    let id: string;
    beforeEach(async () => {
      id = await newPaymentId(h);
    });

    /** The refused notification changed nothing: still processing, no rows written, none recorded. */
    const expectNothingChanged = async (before: Record<string, number>) => {
      expect((await h.app.getPayment({ paymentId: id })).payment!.status).toBe(
        PaymentStatus.PAYMENT_STATUS_PROCESSING,
      );
      expect(await intentCounts(h.pg)).toEqual(before);
      expect(await notificationsOf(h.pg, id)).toBe(0);
    };

    it('refuses a notification signed with another key (401), changing nothing', async () => {
      const before = await intentCounts(h.pg);
      const body = orderNotification(id, { status: 'SUCCESS', amount: 12_345n, transactionId: 'T-forged' });
      expect(await postNotification(h, channel, id, body, { key: 'not-the-merchant-key-0123456789' })).toBe(
        401,
      );
      await expectNothingChanged(before);
    });

    it('refuses a body changed after signing (401), changing nothing', async () => {
      const before = await intentCounts(h.pg);
      const signed = orderNotification(id, { status: 'PAYERROR', amount: 12_345n }, 'N-tamper');
      const changed = signed.replace('"PAYERROR"', '"SUCCESS"');
      expect(await postNotification(h, channel, id, changed, { key: channel.key, signedBody: signed })).toBe(
        401,
      );
      // a JSON-equivalent re-serialization is not the signed bytes either
      const reformatted = JSON.stringify(JSON.parse(signed), null, 1);
      expect(
        await postNotification(h, channel, id, reformatted, { key: channel.key, signedBody: signed }),
      ).toBe(401);
      await expectNothingChanged(before);
    });

    it('refuses a notification without signature headers (401) and an unknown payment or channel (404)', async () => {
      const before = await intentCounts(h.pg);
      const body = orderNotification(id, { status: 'SUCCESS', amount: 12_345n, transactionId: 'T-1' });
      expect(await postNotification(h, channel, id, body, { key: channel.key, headers: {} })).toBe(401);
      const other = '00000000-0000-4000-8000-000000000000';
      expect(await postNotification(h, channel, other, body, { key: channel.key })).toBe(404);
      expect(
        await postNotification(h, { ...channel, channelId: 'no-such-channel' }, id, body, {
          key: channel.key,
        }),
      ).toBe(404);
      expect(await intentCounts(h.pg)).toEqual(before);
      expect(await notificationsOf(h.pg, id)).toBe(0);
    });

    it('accepts the same notification correctly signed (the checks above are not always-401)', async () => {
      const body = orderNotification(id, { status: 'SUCCESS', amount: 12_345n, transactionId: 'T-genuine' });
      expect(await postNotification(h, channel, id, body, { key: channel.key })).toBe(200);
      const paid = (await h.app.getPayment({ paymentId: id })).payment!;
      expect(paid).toMatchObject({
        status: PaymentStatus.PAYMENT_STATUS_SUCCEEDED,
        channelTransactionId: 'T-genuine',
      });
      // the same notification id again: acknowledged, ignored
      expect(await postNotification(h, channel, id, body, { key: channel.key })).toBe(200);
      expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentSucceeded']);
    });

    it('refuses a notification that pays a different amount than the payment (no status change)', async () => {
      const body = orderNotification(id, { status: 'SUCCESS', amount: 1n, transactionId: 'T-short' });
      expect(await postNotification(h, channel, id, body, { key: channel.key })).toBe(200);
      expect((await h.app.getPayment({ paymentId: id })).payment!.status).toBe(
        PaymentStatus.PAYMENT_STATUS_PROCESSING,
      );
      expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated']);
    });
  });

  it('ConfirmPayment asks the channel and applies its answer (the notification is still on its way)', async () => {
    await h.sandboxes[0]!.configure({ notifyDelayMs: 60_000 });
    const id = await newPaymentId(h);
    const unpaid = (await h.app.confirmPayment({ paymentId: id })).payment!;
    expect(unpaid.status).toBe(PaymentStatus.PAYMENT_STATUS_PROCESSING);
    await h.sandboxes[0]!.pay(id, 'success');
    const confirmed = (await h.app.confirmPayment({ paymentId: id })).payment!;
    expect(confirmed).toMatchObject({ status: PaymentStatus.PAYMENT_STATUS_SUCCEEDED });
    expect(confirmed.channelTransactionId).not.toBe('');
    const again = (await h.app.confirmPayment({ paymentId: id })).payment!;
    expect(again).toEqual(confirmed);
    expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentSucceeded']);
    expect(await notificationsOf(h.pg, id)).toBe(0);
  });

  it('ConfirmPayment and GetPayment answer a foreign payment like a missing one, and refuse a malformed id', async () => {
    const { payment } = await h.app.createPayment(paymentRequest());
    const id = payment!.paymentId;
    const foreign = h.clientOf({ operators: ['op-2'] });
    for (const call of [foreign.confirmPayment({ paymentId: id }), foreign.getPayment({ paymentId: id })]) {
      const err = await grpcError(call);
      expect(err).toMatchObject({ code: status.NOT_FOUND, details: `payment ${id} not found` });
    }
    const before = await intentCounts(h.pg);
    const bad = await grpcError(h.app.confirmPayment({ paymentId: 'nope' }));
    expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT, details: 'payment_id: must be a UUID' });
    expect(errorField(bad)).toBe('payment_id');
    expect(await intentCounts(h.pg)).toEqual(before);
  });

  describe('routing', () => {
    it('falls back to the next channel when the preferred one fails, and only the one routed to is given out', async () => {
      const [preferred, fallback] = await configureProject(
        h,
        { operatorId: 'op-1', projectId: 'proj-fallback' },
        [
          { sandbox: h.sandboxes[1]!, priority: 0 },
          { sandbox: h.sandboxes[2]!, priority: 1 },
        ],
      );
      await h.sandboxes[1]!.configure({ failureRate: 1 });
      try {
        const { payment } = await h.app.createPayment(
          paymentRequest({ tenancy: { operatorId: 'op-1', projectId: 'proj-fallback', merchantId: '' } }),
        );
        expect(payment).toMatchObject({
          status: PaymentStatus.PAYMENT_STATUS_PROCESSING,
          channel: fallback!.channelId,
        });
        const id = payment!.paymentId;
        const { rows } = await h.pg.query(
          'SELECT channel_id, state FROM payment_channel_orders WHERE payment_id = $1 ORDER BY created_at',
          [id],
        );
        // the preferred channel gave no answer: remembered, to be closed (the reconciler's job)
        expect(rows).toEqual([
          { channel_id: preferred!.channelId, state: 'pending' },
          { channel_id: fallback!.channelId, state: 'open' },
        ]);
        await h.sandboxes[2]!.pay(id, 'success');
        const paid = await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
        expect(paid.channel).toBe(fallback!.channelId);
      } finally {
        await h.sandboxes[1]!.configure({ failureRate: 0 });
      }
    });

    it('without any channel for the payment: FAILED_PRECONDITION, the payment failed with NO_CHANNEL and PaymentFailed', async () => {
      const req = paymentRequest({
        tenancy: { operatorId: 'op-1', projectId: 'proj-without-channels', merchantId: '' },
      });
      const err = await grpcError(h.app.createPayment(req));
      expect(err.code).toBe(status.FAILED_PRECONDITION);
      expect(errorCode(err)).toBe('NO_CHANNEL');
      const id = /payment ([0-9a-f-]{36})/.exec(err.details)![1]!;
      const failed = (await h.app.getPayment({ paymentId: id })).payment!;
      expect(failed).toMatchObject({
        status: PaymentStatus.PAYMENT_STATUS_FAILED,
        failureReason: 'NO_CHANNEL',
      });
      expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentFailed']);
      const [event] = await events(h.pg, id, 'PaymentFailed');
      expect(event!.reason).toBe('NO_CHANNEL');
      // a retry gets the same answer, nothing new
      const before = await intentCounts(h.pg);
      const again = await grpcError(h.app.createPayment(req));
      expect(again).toMatchObject({ code: status.FAILED_PRECONDITION, details: err.details });
      expect(await intentCounts(h.pg)).toEqual(before);
    });
  });

  describe('idempotency per client and request_id', () => {
    it('the same request again returns the same payment and opens nothing new', async () => {
      const req = paymentRequest();
      const first = (await h.app.createPayment(req)).payment!;
      const before = await intentCounts(h.pg);
      const again = (await h.app.createPayment(req)).payment!;
      expect(again).toEqual(first);
      expect(await intentCounts(h.pg)).toEqual(before);
    });

    it('the same request_id with a different body: ALREADY_EXISTS, nothing written', async () => {
      const req = paymentRequest();
      await h.app.createPayment(req);
      const before = await intentCounts(h.pg);
      for (const changed of [
        { ...req, amount: { currency: 'CNY', amountMinor: 1n } },
        { ...req, expiresInSeconds: 120 },
        { ...req, profitSharing: true },
      ]) {
        const err = await grpcError(h.app.createPayment(changed));
        expect(err).toMatchObject({
          code: status.ALREADY_EXISTS,
          details: 'request_id: already used for a different request',
        });
      }
      expect(await intentCounts(h.pg)).toEqual(before);
    });

    it('request ids are per client: another client of the operator with the same id makes its own payment', async () => {
      const req = paymentRequest();
      const mine = (await h.app.createPayment(req)).payment!;
      const other = h.clientOf({ operators: ['op-1'] }, ['payment:write', 'payment:read', 'x:other']);
      const theirs = (await other.createPayment({ ...req, amount: { currency: 'CNY', amountMinor: 7n } }))
        .payment!;
      expect(theirs.paymentId).not.toBe(mine.paymentId);
    });
  });

  it('honours expires_in_seconds', async () => {
    const { payment } = await h.app.createPayment(paymentRequest({ expiresInSeconds: 60 }));
    expect(Number(payment!.expiresAt!.seconds - payment!.createdAt!.seconds)).toBe(60);
    const order = await sandboxOrder(channel, payment!.paymentId);
    expect(order?.status).toBe('NOTPAY');
  });

  it.each([
    ['expires_in_seconds below 60', { expiresInSeconds: 59 }, 'expires_in_seconds'],
    ['expires_in_seconds above a day', { expiresInSeconds: 86_401 }, 'expires_in_seconds'],
    ['negative expires_in_seconds', { expiresInSeconds: -1 }, 'expires_in_seconds'],
    [
      'tenancy.merchant_id not the merchant',
      { tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: 'm-2' } },
      'tenancy.merchant_id',
    ],
  ] as const)(
    'rejects %s with INVALID_ARGUMENT naming the field, writing nothing',
    async (_n, over, field) => {
      const before = await intentCounts(h.pg);
      const err = await grpcError(h.app.createPayment(paymentRequest(over)));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details.startsWith(`${field}: `)).toBe(true);
      expect(errorField(err)).toBe(field);
      expect(await intentCounts(h.pg)).toEqual(before);
    },
  );

  it('the process survives garbage on the notification route', async () => {
    const id = (await h.app.createPayment(paymentRequest())).payment!.paymentId;
    const url = `${h.svc.httpUrl}/channels/${channel.channelId}/notifications/${id}`;
    for (const body of ['', 'not json', '{"notificationId":1}', '\u0000'.repeat(100)]) {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect([400, 401]).toContain(res.status);
    }
    const huge = await fetch(url, { method: 'POST', body: 'x'.repeat(200_000) });
    expect(huge.status).toBeGreaterThanOrEqual(400);
    expect((await fetch(`${h.svc.httpUrl}/healthz`)).status).toBe(200);
  });

  it('logged no failure of its own machinery', () => {
    expect(machineryFailures(h.svc.output())).toEqual([]);
  });
});

/**
 * The reconciler resolves what notifications do not: unknown outcomes after a channel call timed
 * out, expiries, orders left open at a channel routing fell back from. It runs every 300 ms here.
 */
describe('payment intents: reconciler (unknown outcomes, expiry, stray orders)', () => {
  let h: Harness;
  let channel: ConfiguredChannel;
  const sandbox = () => h.sandboxes[0]!;

  beforeAll(async () => {
    h = await startHarness({
      env: { PAYMENT_RECONCILE_INTERVAL_MS: '300', PAYMENT_CHANNEL_TIMEOUT_MS: '500' },
      sandboxes: 3,
    });
    [channel] = (await configureProject(h, { operatorId: 'op-1', projectId: 'proj-1' }, [
      { sandbox: sandbox() },
    ])) as [ConfiguredChannel];
  });

  afterAll(async () => {
    await h?.stop();
  });

  beforeEach(async () => {
    for (const s of h.sandboxes) await s.configure({ timeoutRate: 0, failureRate: 0, notifyDelayMs: 50 });
  });

  const expireNow = (id: string) =>
    h.pg.query(`UPDATE payments SET expires_at = now() - interval '1 second' WHERE payment_id = $1`, [id]);

  it('a timeout opening the order leaves the payment UNKNOWN; the reconciler finds the order and it proceeds', async () => {
    await sandbox().configure({ timeoutRate: 1 });
    const { payment } = await h.app.createPayment(paymentRequest());
    expect(payment).toMatchObject({
      status: PaymentStatus.PAYMENT_STATUS_UNKNOWN,
      channel: channel.channelId,
      payUrl: '',
    });
    const id = payment!.paymentId;
    await sandbox().configure({ timeoutRate: 0 });
    const processing = await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_PROCESSING);
    expect(processing.payUrl).not.toBe('');
    await sandbox().pay(id, 'success');
    await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
    expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentSucceeded']);
  });

  it('a timeout confirming leaves the payment UNKNOWN; the reconciler queries the channel and it succeeds', async () => {
    await sandbox().configure({ notifyDelayMs: 60_000 }); // the notification does not come in time
    const id = await newPaymentId(h);
    await sandbox().pay(id, 'success');
    await sandbox().configure({ timeoutRate: 1 });
    const confirmed = (await h.app.confirmPayment({ paymentId: id })).payment!;
    expect(confirmed.status).toBe(PaymentStatus.PAYMENT_STATUS_UNKNOWN);
    await sandbox().configure({ timeoutRate: 0 });
    const paid = await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
    expect(paid.channelTransactionId).not.toBe('');
    expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentSucceeded']);
    expect(await notificationsOf(h.pg, id)).toBe(0);
  });

  it('an intent past its expiry is closed at the channel and expires, with one PaymentExpired', async () => {
    const { payment } = await h.app.createPayment(paymentRequest({ expiresInSeconds: 60 }));
    const id = payment!.paymentId;
    await expireNow(id);
    const expired = await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_EXPIRED);
    expect(expired).toMatchObject({ failureReason: 'EXPIRED', payUrl: '' });
    expect((await sandboxOrder(channel, id))?.status).toBe('CLOSED');
    // the payer can no longer pay it
    await expect(sandbox().pay(id, 'success')).rejects.toThrow(/409/);
    expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentExpired']);
    const [event] = await events(h.pg, id, 'PaymentExpired');
    expect(event).toMatchObject({ paymentId: id, channel: channel.channelId });
  });

  it('an intent paid just before its expiry succeeds instead of expiring (the channel says SUCCESS on close)', async () => {
    await sandbox().configure({ notifyDelayMs: 60_000 });
    const id = await newPaymentId(h);
    await sandbox().pay(id, 'success');
    await expireNow(id);
    await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
    expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentSucceeded']);
  });

  it('an unreachable channel does not expire a payment before its order is closed there', async () => {
    const id = await newPaymentId(h);
    await sandbox().configure({ failureRate: 1 });
    await expireNow(id);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await h.app.getPayment({ paymentId: id })).payment!.status).toBe(
      PaymentStatus.PAYMENT_STATUS_PROCESSING,
    );
    await sandbox().configure({ failureRate: 0 });
    await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_EXPIRED);
  });

  it('closes the order left at a channel that gave no answer before falling back, so it cannot be paid too', async () => {
    const [slow, fallback] = await configureProject(h, { operatorId: 'op-1', projectId: 'proj-stray' }, [
      { sandbox: h.sandboxes[1]!, priority: 0 },
      { sandbox: h.sandboxes[2]!, priority: 1 },
    ]);
    // the slow channel opens the order (and closes it when asked) but never answers in time
    await h.sandboxes[1]!.configure({ timeoutRate: 1 });
    const { payment } = await h.app.createPayment(
      paymentRequest({ tenancy: { operatorId: 'op-1', projectId: 'proj-stray', merchantId: '' } }),
    );
    expect(payment).toMatchObject({
      status: PaymentStatus.PAYMENT_STATUS_PROCESSING,
      channel: fallback!.channelId,
    });
    const id = payment!.paymentId;
    await h.sandboxes[1]!.configure({ timeoutRate: 0 });
    await waitFor('stray order closed', async () => {
      const { rows } = await h.pg.query(
        'SELECT state FROM payment_channel_orders WHERE payment_id = $1 AND channel_id = $2',
        [id, slow!.channelId],
      );
      return rows[0]?.state === 'closed' ? true : undefined;
    });
    expect((await sandboxOrder(slow!, id))?.status).toBe('CLOSED');
    await expect(h.sandboxes[1]!.pay(id, 'success')).rejects.toThrow(/409/);
    await h.sandboxes[2]!.pay(id, 'success');
    const paid = await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
    expect(paid.channel).toBe(fallback!.channelId);
    expect(await eventTypes(h.pg, id)).toEqual(['PaymentCreated', 'PaymentSucceeded']);
  });

  it('two payment processes on one database apply each outcome once', async () => {
    const second = await spawnService('payment', {
      DATABASE_URL: h.db.url,
      KAFKA_TOPIC_PREFIX: kafkaTestPrefix('payment'),
      AUTH_JWKS_URL: h.issuer.jwksUrl,
      PAYMENT_RECONCILE_INTERVAL_MS: '200',
      PAYMENT_CHANNEL_TIMEOUT_MS: '500',
    });
    try {
      await second.ready();
      await sandbox().configure({ notifyDelayMs: 60_000 });
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push((await h.app.createPayment(paymentRequest())).payment!.paymentId);
      await Promise.all(ids.slice(0, 5).map((id) => sandbox().pay(id, 'success')));
      await h.pg.query(
        `UPDATE payments SET expires_at = now() - interval '1 second' WHERE payment_id = ANY($1)`,
        [ids.slice(5)],
      );
      for (const id of ids.slice(0, 5)) await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
      for (const id of ids.slice(5)) await awaitStatus(h.app, id, PaymentStatus.PAYMENT_STATUS_EXPIRED);
      for (const [i, id] of ids.entries()) {
        expect(await eventTypes(h.pg, id)).toEqual([
          'PaymentCreated',
          i < 5 ? 'PaymentSucceeded' : 'PaymentExpired',
        ]);
      }
    } finally {
      // stops cleanly while its reconciler is running
      expect(await second.stop()).toBe(0);
    }
    expect(machineryFailures(second.output())).toEqual([]);
  });

  it('logged no failure of its own machinery', () => {
    expect(machineryFailures(h.svc.output())).toEqual([]);
  });
});
