// Settlement's instructions for the channel (split, split return, refund), as a fake settlement
// publishes them on its topic, carried out by the real payment process at the real sandbox channel;
// payment's answers are read from its outbox and from its topic, as settlement would consume them.
import { randomBytes, randomUUID } from 'node:crypto';
import { Consumer, Kafka, logLevel, Producer } from 'kafkajs';
import { PaymentStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import type { ChannelReceiver } from '@citybase/contracts/citybase/settlement/v1/events';
import { PaymentEvents, SettlementEvents } from '@citybase/contracts/events';
import { EventType, Tenancy } from '@citybase/platform';
import {
  kafkaTestPrefix,
  publishEvent,
  routeProjectToSandbox,
  testEndpoints,
  waitFor,
} from '@citybase/platform/testing';
import {
  awaitStatus,
  configureProject,
  ConfiguredChannel,
  events,
  Harness,
  machineryFailures,
  PaymentClient,
  paymentRequest,
  sign,
  startHarness,
} from './intents-harness';

const CONSUMER = 'payment.settlement-instructions';
const OP1 = { operatorId: 'op-1', projectId: 'proj-1', merchantId: '' };

type PaymentEventName = keyof typeof PaymentEvents;
type Decoded<K extends PaymentEventName> = ReturnType<(typeof PaymentEvents)[K]['codec']['decode']>;
type AnyPaymentEvent = { instructionId?: string } & Record<string, unknown>;

interface Observed {
  type: string;
  key: string;
  payload: AnyPaymentEvent;
}

/** Settlement as payment sees it: events on settlement's topic in the platform's envelope. */
class FakeSettlement {
  constructor(
    private readonly producer: Producer,
    private readonly prefix: string,
  ) {}

  /**
   * Publishes one of settlement's instructions keyed by its payment, as settlement's relay does
   * (with the given CloudEvents id, to redeliver one); answers the event's id.
   */
  instruct<T extends { paymentId: string; tenancy?: Tenancy }>(
    type: EventType<T>,
    instruction: T,
    eventId?: string,
  ): Promise<string> {
    return publishEvent(
      this.producer,
      { service: 'settlement', topicPrefix: this.prefix },
      type,
      instruction,
      { key: instruction.paymentId, tenancy: instruction.tenancy, eventId },
    );
  }
}

describe('payment: settlement instructions (in-process service, Kafka, PostgreSQL, sandbox channel)', () => {
  let h: Harness;
  let channel: ConfiguredChannel;
  let kafka: Kafka;
  let producer: Producer;
  let observer: Consumer;
  let settlement: FakeSettlement;
  const observed: Observed[] = [];
  const prefix = kafkaTestPrefix('pay-instr');

  beforeAll(async () => {
    h = await startHarness({
      env: {
        KAFKA_TOPIC_PREFIX: prefix,
        // refunds are started by the reconciler; instructions are tried often and time out fast
        PAYMENT_RECONCILE_INTERVAL_MS: '1000',
        PAYMENT_INSTRUCTION_INTERVAL_MS: '200',
        PAYMENT_CHANNEL_TIMEOUT_MS: '1000',
      },
    });
    [channel] = (await configureProject(h, { operatorId: 'op-1', projectId: 'proj-1' }, [
      { sandbox: h.sandboxes[0]! },
    ])) as [ConfiguredChannel];
    kafka = new Kafka({
      clientId: 'fake-settlement',
      brokers: testEndpoints.kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    });
    producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    settlement = new FakeSettlement(producer, prefix);
    // settlement's view of payment's answers: everything published on payment's topic
    observer = kafka.consumer({ groupId: `${prefix}observer`, maxWaitTimeInMs: 200 });
    await observer.connect();
    await observer.subscribe({ topic: prefix + PaymentEvents.RefundFailed.topic, fromBeginning: true });
    const byType = new Map<string, EventType<unknown>>(
      Object.values(PaymentEvents).map((t) => [t.type, t as EventType<unknown>]),
    );
    await observer.run({
      eachMessage: async ({ message }) => {
        const type = message.headers?.ce_type?.toString() ?? '';
        const def = byType.get(type);
        if (!def) return;
        observed.push({
          type,
          key: message.key?.toString() ?? '',
          payload: def.codec.decode(message.value ?? Buffer.alloc(0)) as AnyPaymentEvent,
        });
      },
    });
  });

  afterAll(async () => {
    await observer?.disconnect();
    await producer?.disconnect();
    await h?.stop();
  });

  beforeEach(async () => {
    await channel.sandbox.configure({
      failureRate: 0,
      timeoutRate: 0,
      refundFailureRate: 0,
      refundDelayMs: 100,
    });
  });

  // ---- helpers -----------------------------------------------------------------------------------

  /** A payment of `amount` paid at the sandbox and succeeded. */
  async function paidPayment(
    amount: bigint,
    opts: { profitSharing: boolean; client?: PaymentClient; tenancy?: typeof OP1 } = { profitSharing: true },
  ): Promise<string> {
    const client = opts.client ?? h.app;
    const { payment } = await client.createPayment(
      paymentRequest({
        amount: { currency: 'CNY', amountMinor: amount },
        profitSharing: opts.profitSharing,
        ...(opts.tenancy && { tenancy: opts.tenancy }),
      }),
    );
    const id = payment?.paymentId ?? '';
    await channel.sandbox.pay(id, 'success');
    await awaitStatus(client, id, PaymentStatus.PAYMENT_STATUS_SUCCEEDED);
    return id;
  }

  const cny = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });
  const receiver = (account: string, amount: bigint, description = ''): ChannelReceiver => ({
    account,
    amount: cny(amount),
    description,
  });

  async function requestSplit(
    paymentId: string,
    receivers: ChannelReceiver[],
    opts: { unfreezeRest?: boolean; instructionId?: string; eventId?: string; tenancy?: typeof OP1 } = {},
  ): Promise<{ instructionId: string; eventId: string }> {
    const instructionId = opts.instructionId ?? randomUUID();
    const eventId = await settlement.instruct(
      SettlementEvents.ChannelSplitRequested,
      {
        instructionId,
        paymentId,
        tenancy: opts.tenancy ?? OP1,
        receivers,
        unfreezeRest: opts.unfreezeRest ?? false,
        occurredAt: undefined,
      },
      opts.eventId,
    );
    return { instructionId, eventId };
  }

  async function requestSplitReturn(
    paymentId: string,
    splitInstructionId: string,
    account: string,
    amount: bigint,
    tenancy = OP1,
  ): Promise<string> {
    const instructionId = randomUUID();
    await settlement.instruct(SettlementEvents.ChannelSplitReturnRequested, {
      instructionId,
      paymentId,
      tenancy,
      splitInstructionId,
      account,
      amount: cny(amount),
      occurredAt: undefined,
    });
    return instructionId;
  }

  async function requestRefund(
    paymentId: string,
    amount: bigint,
    opts: { instructionId?: string; eventId?: string; tenancy?: typeof OP1 } = {},
  ): Promise<{ instructionId: string; eventId: string }> {
    const instructionId = opts.instructionId ?? randomUUID();
    const eventId = await settlement.instruct(
      SettlementEvents.ChannelRefundRequested,
      {
        instructionId,
        paymentId,
        tenancy: opts.tenancy ?? OP1,
        amount: cny(amount),
        reason: 'order refunded',
        occurredAt: undefined,
      },
      opts.eventId,
    );
    return { instructionId, eventId };
  }

  /** Payment's answers to one instruction as published on its topic. */
  const answersOnTopic = (instructionId: string) =>
    observed.filter((e) => e.payload.instructionId === instructionId);

  /** Waits for the answer of `type` to the instruction on payment's topic. */
  async function answer<K extends PaymentEventName>(type: K, instructionId: string): Promise<Decoded<K>> {
    const found = await waitFor(
      `${type} answering ${instructionId} on payment's topic`,
      async () => {
        const all = answersOnTopic(instructionId);
        if (all.length === 0) return undefined;
        return all;
      },
      30_000,
      50,
    );
    expect(found.map((e) => e.type)).toEqual([PaymentEvents[type].type]);
    return found[0]!.payload as unknown as Decoded<K>;
  }

  /**
   * The instruction was answered exactly once: one event in payment's outbox (all of the payment's
   * events published) and one on its topic, of `type`.
   */
  async function answeredOnce(
    type: PaymentEventName,
    paymentId: string,
    instructionId: string,
  ): Promise<void> {
    await waitFor("the payment's events published", async () => {
      const { rows } = await h.pg.query<{ pending: number }>(
        'SELECT count(*)::int AS pending FROM outbox WHERE partition_key = $1 AND published_at IS NULL',
        [paymentId],
      );
      return rows[0]?.pending === 0 ? true : undefined;
    });
    const inOutbox: string[] = [];
    for (const name of Object.keys(PaymentEvents) as PaymentEventName[]) {
      for (const e of await events(h.pg, paymentId, name)) {
        if ((e as { instructionId?: string }).instructionId === instructionId) inOutbox.push(name);
      }
    }
    expect(inOutbox).toEqual([type]);
    expect(answersOnTopic(instructionId).map((e) => [e.type, e.key])).toEqual([
      [PaymentEvents[type].type, paymentId],
    ]);
  }

  async function instructionRow(instructionId: string) {
    const { rows } = await h.pg.query<{
      kind: string;
      payment_id: string;
      operator_id: string;
      project_id: string;
      status: string;
      attempts: number;
      last_error: string;
      payload: unknown;
      result: Record<string, unknown> | null;
      leased_until: Date | null;
    }>('SELECT * FROM channel_instructions WHERE instruction_id = $1', [instructionId]);
    return rows[0];
  }

  /** Signed call to the sandbox's API as the project's merchant (what the channel holds). */
  async function sandboxApi(method: 'GET' | 'POST', path: string, body?: unknown) {
    const raw = body === undefined ? '' : JSON.stringify(body);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = randomBytes(12).toString('hex');
    const res = await fetch(`${channel.sandbox.url}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        'x-sandbox-merchant': channel.merchantNo,
        'x-sandbox-timestamp': timestamp,
        'x-sandbox-nonce': nonce,
        'x-sandbox-signature': sign(channel.key, method, path, timestamp, nonce, raw),
      },
      ...(body !== undefined && { body: raw }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  const held = async (paymentId: string) => (await sandboxApi('GET', `/v1/orders/${paymentId}`)).body.held;

  /** Calls of the sandbox API at `path` by the project's merchant, as the sandbox logged them. */
  function channelCalls(path: string, answered?: number): number {
    return channel.sandbox
      .output()
      .split('\n')
      .filter((line) => {
        try {
          const l = JSON.parse(line) as { msg?: string; path?: string; merchant?: string; status?: unknown };
          return (
            l.msg === 'request' &&
            l.path === path &&
            l.merchant === channel.merchantNo &&
            (answered === undefined || l.status === answered)
          );
        } catch {
          return false;
        }
      }).length;
  }

  const inboxed = async (eventIds: string[]) => {
    const { rows } = await h.pg.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])',
      [CONSUMER, eventIds],
    );
    return rows[0]?.n ?? 0;
  };

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  // ---- splits ------------------------------------------------------------------------------------

  it('splits a paid profit-sharing payment at the channel: ChannelSplitSucceeded once, the channel holds the split', async () => {
    const id = await paidPayment(10_000n);
    expect(await held(id)).toBe('10000');
    const splitsBefore = channelCalls('/v1/splits');
    const receivers = [
      receiver('merchant:m-1', 8_000n, 'goods'),
      receiver('platform:op-1', 1_500n, 'commission'),
    ];
    const { instructionId } = await requestSplit(id, receivers);

    const event = await answer('ChannelSplitSucceeded', instructionId);
    expect(event).toEqual({
      instructionId,
      paymentId: id,
      tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: 'm-1' },
      channel: channel.channelId,
      receivers: [
        { account: 'merchant:m-1', amount: cny(8_000n) },
        { account: 'platform:op-1', amount: cny(1_500n) },
      ],
      occurredAt: expect.anything(),
    });
    await answeredOnce('ChannelSplitSucceeded', id, instructionId);
    expect(await instructionRow(instructionId)).toMatchObject({
      kind: 'split',
      payment_id: id,
      operator_id: 'op-1',
      project_id: 'proj-1',
      status: 'succeeded',
      attempts: 1,
      leased_until: null,
      payload: {
        receivers: [
          { account: 'merchant:m-1', currency: 'CNY', amount_minor: '8000', description: 'goods' },
          { account: 'platform:op-1', currency: 'CNY', amount_minor: '1500', description: 'commission' },
        ],
        unfreeze_rest: false,
      },
      result: {
        channel: channel.channelId,
        receivers: [
          { account: 'merchant:m-1', amount_minor: '8000' },
          { account: 'platform:op-1', amount_minor: '1500' },
        ],
      },
    });
    expect(channelCalls('/v1/splits') - splitsBefore).toBe(1);
    // the channel: the receivers got their parts under the instruction id, the rest is still held
    expect(await held(id)).toBe('500');
    const atChannel = await sandboxApi('POST', '/v1/splits', {
      outTradeNo: id,
      outSplitNo: instructionId,
      receivers: [
        { account: 'merchant:m-1', amount: '8000', description: 'goods' },
        { account: 'platform:op-1', amount: '1500', description: 'commission' },
      ],
      unfreezeRest: false,
    });
    expect(atChannel).toMatchObject({
      status: 200,
      body: {
        outSplitNo: instructionId,
        status: 'FINISHED',
        receivers: [
          { account: 'merchant:m-1', amount: '8000', result: 'SUCCESS' },
          { account: 'platform:op-1', amount: '1500', result: 'SUCCESS' },
        ],
      },
    });
    expect(await held(id)).toBe('500');

    // no receivers and unfreeze_rest: what is still held goes to the merchant (unfreeze)
    const unfreezesBefore = channelCalls('/v1/splits/unfreeze', 200);
    const rest = await requestSplit(id, [], { unfreezeRest: true });
    expect((await answer('ChannelSplitSucceeded', rest.instructionId)).receivers).toEqual([]);
    await answeredOnce('ChannelSplitSucceeded', id, rest.instructionId);
    expect(channelCalls('/v1/splits/unfreeze', 200) - unfreezesBefore).toBe(1);
    expect(await held(id)).toBe('0');
  });

  it('a split with unfreeze_rest splits and releases the rest in one call', async () => {
    const id = await paidPayment(3_000n);
    const { instructionId } = await requestSplit(id, [receiver('merchant:m-1', 2_000n)], {
      unfreezeRest: true,
    });
    expect((await answer('ChannelSplitSucceeded', instructionId)).receivers).toEqual([
      { account: 'merchant:m-1', amount: cny(2_000n) },
    ]);
    await answeredOnce('ChannelSplitSucceeded', id, instructionId);
    expect(await held(id)).toBe('0');
  });

  it('the same instruction delivered twice (the same event again, and under a new event id) is carried out once', async () => {
    const id = await paidPayment(5_000n);
    const splitsBefore = channelCalls('/v1/splits');
    const receivers = [receiver('merchant:m-1', 4_000n)];
    const first = await requestSplit(id, receivers);
    await requestSplit(id, receivers, { instructionId: first.instructionId, eventId: first.eventId });
    const again = await requestSplit(id, receivers, { instructionId: first.instructionId });
    expect(again.eventId).not.toBe(first.eventId);

    await answer('ChannelSplitSucceeded', first.instructionId);
    await waitFor('both event ids consumed', async () =>
      (await inboxed([first.eventId, again.eventId])) === 2 ? true : undefined,
    );
    // a redelivery after the answer must not call the channel or answer again either
    await requestSplit(id, receivers, { instructionId: first.instructionId, eventId: first.eventId });
    await sleep(1_500); // several executor passes
    await answeredOnce('ChannelSplitSucceeded', id, first.instructionId);
    expect(channelCalls('/v1/splits') - splitsBefore).toBe(1);
    expect(await instructionRow(first.instructionId)).toMatchObject({ status: 'succeeded', attempts: 1 });
    const { rows } = await h.pg.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM channel_instructions WHERE payment_id = $1',
      [id],
    );
    expect(rows[0]?.n).toBe(1);
    expect(await held(id)).toBe('1000');
  });

  it('a split of a payment not made with profit sharing, or not paid, fails PAYMENT_NOT_SPLITTABLE without a channel call', async () => {
    const plain = await paidPayment(2_000n, { profitSharing: false });
    const unpaid = (await h.app.createPayment(paymentRequest({ profitSharing: true }))).payment!.paymentId;
    const callsBefore = channelCalls('/v1/splits');
    const a = await requestSplit(plain, [receiver('merchant:m-1', 1_000n)]);
    const b = await requestSplit(unpaid, [receiver('merchant:m-1', 1_000n)]);
    for (const [paymentId, { instructionId }] of [
      [plain, a],
      [unpaid, b],
    ] as const) {
      expect(await answer('ChannelSplitFailed', instructionId)).toEqual({
        instructionId,
        paymentId,
        tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: 'm-1' },
        channel: channel.channelId,
        reason: 'PAYMENT_NOT_SPLITTABLE',
        occurredAt: expect.anything(),
      });
      await answeredOnce('ChannelSplitFailed', paymentId, instructionId);
      expect(await instructionRow(instructionId)).toMatchObject({
        status: 'failed',
        result: { reason: 'PAYMENT_NOT_SPLITTABLE' },
      });
    }
    expect(channelCalls('/v1/splits') - callsBefore).toBe(0);
  });

  it("a split beyond what the channel holds fails with the channel's code NOT_ENOUGH", async () => {
    const id = await paidPayment(1_000n);
    const { instructionId } = await requestSplit(id, [
      receiver('merchant:m-1', 900n),
      receiver('platform:op-1', 600n),
    ]);
    expect(await answer('ChannelSplitFailed', instructionId)).toMatchObject({
      instructionId,
      paymentId: id,
      channel: channel.channelId,
      reason: 'NOT_ENOUGH',
    });
    await answeredOnce('ChannelSplitFailed', id, instructionId);
    expect(await instructionRow(instructionId)).toMatchObject({
      status: 'failed',
      attempts: 1,
      result: { reason: 'NOT_ENOUGH' },
    });
    expect(await held(id)).toBe('1000');
  });

  it('a split return after the split: ChannelSplitReturnSucceeded; more than the receiver has left: ChannelSplitReturnFailed NOT_ENOUGH', async () => {
    const id = await paidPayment(10_000n);
    const returnsBefore = channelCalls('/v1/split-returns');
    // the split cannot reach the channel for a while: the return published right after it waits
    await channel.sandbox.configure({ failureRate: 1 });
    const split = await requestSplit(id, [receiver('merchant:m-1', 6_000n), receiver('platform:op-1', 600n)]);
    const ret = await requestSplitReturn(id, split.instructionId, 'merchant:m-1', 2_000n);
    await waitFor('the return deferred while its split is pending', async () => {
      const [s, r] = [await instructionRow(split.instructionId), await instructionRow(ret)];
      return s && r && s.attempts >= 2 && r.attempts >= 2 && r.last_error === 'the split is still pending'
        ? true
        : undefined;
    });
    expect(channelCalls('/v1/split-returns') - returnsBefore).toBe(0);
    await channel.sandbox.configure({ failureRate: 0 });

    await answer('ChannelSplitSucceeded', split.instructionId);
    expect(await answer('ChannelSplitReturnSucceeded', ret)).toEqual({
      instructionId: ret,
      paymentId: id,
      tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: 'm-1' },
      account: 'merchant:m-1',
      amount: cny(2_000n),
      occurredAt: expect.anything(),
    });
    await answeredOnce('ChannelSplitReturnSucceeded', id, ret);
    expect(await instructionRow(ret)).toMatchObject({ kind: 'split_return', status: 'succeeded' });
    expect(channelCalls('/v1/split-returns', 200) - returnsBefore).toBe(1);
    // taken back into held: 10000 - 6600 + 2000
    expect(await held(id)).toBe('5400');

    const tooMuch = await requestSplitReturn(id, split.instructionId, 'merchant:m-1', 4_001n);
    expect(await answer('ChannelSplitReturnFailed', tooMuch)).toMatchObject({
      instructionId: tooMuch,
      account: 'merchant:m-1',
      reason: 'NOT_ENOUGH',
    });
    await answeredOnce('ChannelSplitReturnFailed', id, tooMuch);
    expect(await held(id)).toBe('5400');
  });

  it('no answer from the channel (503s, then timeouts): retried with backoff until it answers; carried out once', async () => {
    const id = await paidPayment(10_000n);
    const okBefore = channelCalls('/v1/splits', 200);
    await channel.sandbox.configure({ failureRate: 1 });
    const { instructionId } = await requestSplit(id, [receiver('merchant:m-1', 7_000n)]);
    const failing = await waitFor('three attempts refused with 503', async () => {
      const row = await instructionRow(instructionId);
      return row && row.attempts >= 3 ? row : undefined;
    });
    expect(failing).toMatchObject({ status: 'pending', result: null });
    expect(failing.last_error).toMatch(/HTTP 503/);

    // the channel does the split but its answers never come back: the caller times out
    await channel.sandbox.configure({ failureRate: 0, timeoutRate: 1 });
    const attempts = failing.attempts;
    const timedOut = await waitFor(
      'an attempt that timed out',
      async () => {
        const row = await instructionRow(instructionId);
        return row && row.attempts > attempts + 1 && /no answer in time/.test(row.last_error)
          ? row
          : undefined;
      },
      30_000,
    );
    expect(timedOut.status).toBe('pending');
    expect(answersOnTopic(instructionId)).toEqual([]);
    expect(await events(h.pg, id, 'ChannelSplitSucceeded')).toEqual([]);

    await channel.sandbox.configure({ timeoutRate: 0 });
    await answer('ChannelSplitSucceeded', instructionId);
    await answeredOnce('ChannelSplitSucceeded', id, instructionId);
    // the split the channel made while nobody heard its answer was not made twice
    expect(channelCalls('/v1/splits', 200) - okBefore).toBe(1);
    expect(await held(id)).toBe('3000');
    expect(await instructionRow(instructionId)).toMatchObject({ status: 'succeeded' });

    const metrics = await (await fetch(`${h.svc.httpUrl}/metrics`)).text();
    const retried =
      /payment_channel_instruction_attempts_total\{[^}]*kind="split"[^}]*outcome="retried"[^}]*\} (\d+)/.exec(
        metrics,
      );
    expect(Number(retried?.[1])).toBeGreaterThanOrEqual(4);
    expect(h.svc.output()).toMatch(/no answer from the channel; instruction retried later/);
  });

  // ---- refunds -----------------------------------------------------------------------------------

  it('a refund settlement requested: RefundSucceeded with the instruction id; delivered twice, refunded once', async () => {
    const id = await paidPayment(5_000n, { profitSharing: false });
    const first = await requestRefund(id, 2_000n);
    await requestRefund(id, 2_000n, { instructionId: first.instructionId, eventId: first.eventId });
    const again = await requestRefund(id, 2_000n, { instructionId: first.instructionId });

    const event = await answer('RefundSucceeded', first.instructionId);
    expect(event).toMatchObject({
      instructionId: first.instructionId,
      paymentId: id,
      tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: 'm-1' },
      amount: cny(2_000n),
      refundedTotal: cny(2_000n),
      channel: channel.channelId,
    });
    await waitFor('both event ids consumed', async () =>
      (await inboxed([first.eventId, again.eventId])) === 2 ? true : undefined,
    );
    await sleep(1_500);
    await answeredOnce('RefundSucceeded', id, first.instructionId);
    const { rows: refunds } = await h.pg.query(
      `SELECT refund_id, client_id, request_id, instruction_id, status, amount_minor::text AS amount
         FROM refunds WHERE payment_id = $1`,
      [id],
    );
    expect(refunds).toEqual([
      {
        refund_id: event.refundId,
        client_id: 'settlement',
        request_id: first.instructionId,
        instruction_id: first.instructionId,
        status: 2,
        amount: '2000',
      },
    ]);
    expect(await instructionRow(first.instructionId)).toMatchObject({
      kind: 'refund',
      status: 'succeeded',
      payload: { currency: 'CNY', amount_minor: '2000', reason: 'order refunded' },
      result: { refund_id: event.refundId },
    });
    const { refund } = await h.app.getRefund({ refundId: event.refundId });
    expect(refund).toMatchObject({ paymentId: id, reason: 'order refunded' });
    expect((await sandboxApi('GET', `/v1/orders/${id}`)).body.refunded).toBe('2000');
  });

  it('a refund beyond what is left to refund: RefundFailed with the instruction id and REFUND_EXCEEDS_PAID; no refund written', async () => {
    const id = await paidPayment(1_000n, { profitSharing: false });
    const { instructionId } = await requestRefund(id, 1_001n);
    expect(await answer('RefundFailed', instructionId)).toEqual({
      refundId: '',
      paymentId: id,
      tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: 'm-1' },
      merchantId: 'm-1',
      amount: cny(1_001n),
      channel: channel.channelId,
      reason: 'REFUND_EXCEEDS_PAID',
      occurredAt: expect.anything(),
      instructionId,
    });
    await answeredOnce('RefundFailed', id, instructionId);
    const { rows } = await h.pg.query('SELECT 1 FROM refunds WHERE payment_id = $1', [id]);
    expect(rows).toEqual([]);
    expect(await instructionRow(instructionId)).toMatchObject({
      status: 'failed',
      result: { reason: 'REFUND_EXCEEDS_PAID' },
    });
  });

  // ---- tenancy -----------------------------------------------------------------------------------

  it('an instruction about a payment outside its tenancy, or about none, fails PAYMENT_NOT_FOUND and names nothing of it', async () => {
    const op2 = { operatorId: 'op-2', projectId: 'proj-2', merchantId: '' };
    await routeProjectToSandbox({
      paymentAddress: h.svc.grpcAddress,
      issuer: h.issuer,
      sandbox: channel.sandbox,
      operatorId: 'op-2',
      projectId: 'proj-2',
    });
    const foreign = await paidPayment(4_000n, {
      profitSharing: true,
      client: h.clientOf({ operators: ['op-2'] }),
      tenancy: op2,
    });
    const splitsBefore = channelCalls('/v1/splits');
    const missing = randomUUID();

    const split = await requestSplit(foreign, [receiver('merchant:m-1', 1_000n)]);
    const ret = await requestSplitReturn(foreign, split.instructionId, 'merchant:m-1', 100n);
    const refund = await requestRefund(foreign, 100n);
    const none = await requestSplit(missing, [receiver('merchant:m-1', 1_000n)]);
    const notAnId = await requestRefund('p-1', 100n);
    const answers = {
      split: await answer('ChannelSplitFailed', split.instructionId),
      ret: await answer('ChannelSplitReturnFailed', ret),
      refund: await answer('RefundFailed', refund.instructionId),
      none: await answer('ChannelSplitFailed', none.instructionId),
      notAnId: await answer('RefundFailed', notAnId.instructionId),
    };
    // the instruction's own tenancy; not the payment's merchant or channel
    const tenancy = { operatorId: 'op-1', projectId: 'proj-1', merchantId: '' };
    expect(answers.split).toMatchObject({
      paymentId: foreign,
      tenancy,
      channel: '',
      reason: 'PAYMENT_NOT_FOUND',
    });
    expect(answers.ret).toMatchObject({ paymentId: foreign, tenancy, reason: 'PAYMENT_NOT_FOUND' });
    expect(answers.refund).toMatchObject({
      refundId: '',
      paymentId: foreign,
      tenancy,
      merchantId: '',
      channel: '',
      reason: 'PAYMENT_NOT_FOUND',
    });
    expect(answers.none).toMatchObject({ paymentId: missing, reason: 'PAYMENT_NOT_FOUND' });
    expect(answers.notAnId).toMatchObject({ paymentId: 'p-1', reason: 'PAYMENT_NOT_FOUND' });
    await answeredOnce('ChannelSplitFailed', foreign, split.instructionId);
    await answeredOnce('ChannelSplitReturnFailed', foreign, ret);
    await answeredOnce('RefundFailed', foreign, refund.instructionId);
    for (const instructionId of [split.instructionId, ret, refund.instructionId, none.instructionId]) {
      expect(await instructionRow(instructionId)).toMatchObject({
        status: 'failed',
        result: { reason: 'PAYMENT_NOT_FOUND' },
      });
    }
    const { rows } = await h.pg.query('SELECT 1 FROM refunds WHERE payment_id = $1', [foreign]);
    expect(rows).toEqual([]);
    expect(channelCalls('/v1/splits') - splitsBefore).toBe(0);
  });

  it('logged no failure of its own machinery and dead-lettered nothing', async () => {
    expect(machineryFailures(h.svc.output())).toEqual([]);
    expect(h.svc.output()).not.toMatch(
      /instruction executor pass failed|instruction execution failed|already recorded with other content/,
    );
    const metrics = await (await fetch(`${h.svc.httpUrl}/metrics`)).text();
    expect(metrics).not.toMatch(
      /events_dead_lettered_total\{[^}]*consumer="payment.settlement-instructions"/,
    );
  });
  // last: its dead letter is logged as an error, which the check above would count
  it('an instruction without an instruction id cannot be answered: dead-lettered, nothing recorded', async () => {
    const id = await paidPayment(1_000n);
    await requestSplit(id, [receiver('merchant:m-1', 100n)], { instructionId: '' });
    await waitFor(
      'dead-lettered',
      async () =>
        /events_dead_lettered_total\{[^}]*consumer="payment.settlement-instructions"[^}]*type="citybase.settlement.v1.ChannelSplitRequested"[^}]*\} 1/.test(
          await (await fetch(`${h.svc.httpUrl}/metrics`)).text(),
        )
          ? true
          : undefined,
      30_000,
    );
    const { rows } = await h.pg.query('SELECT 1 FROM channel_instructions WHERE payment_id = $1', [id]);
    expect(rows).toEqual([]);
    expect(await events(h.pg, id, 'ChannelSplitFailed')).toEqual([]);
  });
});
