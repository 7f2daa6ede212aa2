// A stand-in for the payment service in settlement's integration tests: it publishes payment's
// events onto the payment topic exactly as payment's outbox relay would (CloudEvents headers from
// the platform's envelope encoder, protobuf payload, key = payment id), and answers settlement's
// channel instructions (ChannelSplitRequested, ChannelSplitReturnRequested, ChannelRefundRequested)
// as payment's instruction executor would, with the instruction_id. Reusable by any settlement suite.
import { randomUUID } from 'node:crypto';
import { Consumer, Kafka, logLevel, Producer } from 'kafkajs';
import { fromHeaders, toTimestamp } from '@citybase/platform';
import type { EventType, Tenancy } from '@citybase/platform';
import type { Money } from '@citybase/contracts/citybase/common/v1/common';
import type { PaymentSucceeded } from '@citybase/contracts/citybase/payment/v1/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import type {
  ChannelRefundRequested,
  ChannelSplitRequested,
  ChannelSplitReturnRequested,
} from '@citybase/contracts/citybase/settlement/v1/events';
import { PaymentEvents, SettlementEvents } from '@citybase/contracts/events';
import { publishEvent, testEndpoints, uniqueName, waitFor } from '@citybase/platform/testing';

/** One event settlement published on its topic, decoded. */
export interface SeenEvent {
  type: string;
  /** The short name, e.g. "OrderCompleted". */
  name: string;
  key: string;
  eventId: string;
  payload: unknown;
}

/** How the fake answers each kind of instruction on its own; "manual": not at all (the test does). */
export type AnswerPolicy = 'succeed' | 'fail' | 'manual';

export interface FakePaymentPolicy {
  split: AnswerPolicy;
  splitReturn: AnswerPolicy;
  refund: AnswerPolicy;
}

const settlementTypes = new Map<string, EventType<unknown>>(
  Object.values(SettlementEvents).map((t) => [t.type, t as EventType<unknown>]),
);

export class FakePayment {
  /** Everything settlement published, in the order it was read. */
  readonly seen: SeenEvent[] = [];
  policy: FakePaymentPolicy = { split: 'succeed', splitReturn: 'succeed', refund: 'succeed' };
  /** Instructions answered already (an instruction is answered once, like payment does). */
  private readonly answered = new Set<string>();
  private failure: Error | undefined;

  private constructor(
    private readonly producer: Producer,
    private readonly consumer: Consumer,
    readonly topicPrefix: string,
  ) {}

  /** Connects to the cluster and starts reading settlement's topic (the service must have created it). */
  static async start(topicPrefix: string): Promise<FakePayment> {
    const kafka = new Kafka({
      clientId: uniqueName('fake-payment'),
      brokers: testEndpoints.kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const consumer = kafka.consumer({
      groupId: uniqueName(`${topicPrefix}fake-payment`),
      maxWaitTimeInMs: 200,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: topicPrefix + 'citybase.settlement.events.v1', fromBeginning: true });
    const fake = new FakePayment(producer, consumer, topicPrefix);
    await consumer.run({
      eachMessage: async ({ message }) => {
        const envelope = fromHeaders(message.headers);
        const type = settlementTypes.get(envelope.type);
        if (!type) return;
        const event: SeenEvent = {
          type: envelope.type,
          name: envelope.type.split('.').pop()!,
          key: message.key?.toString() ?? '',
          eventId: envelope.id,
          payload: type.codec.decode(message.value ?? Buffer.alloc(0)),
        };
        fake.seen.push(event);
        await fake.onInstruction(event).catch((err: Error) => (fake.failure = err));
      },
    });
    return fake;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    await this.producer.disconnect();
  }

  /** Throws what went wrong answering an instruction (so a test does not just time out). */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /**
   * Publishes one of payment's events onto the payment topic as payment's relay would. `eventId`
   * repeats an event (a redelivery); by default each call is a new event.
   */
  publish<T>(
    type: EventType<T>,
    payload: T,
    opts: { key: string; eventId?: string; tenancy?: Tenancy },
  ): Promise<string> {
    return publishEvent(
      this.producer,
      { service: 'payment', topicPrefix: this.topicPrefix },
      type,
      payload,
      opts,
    );
  }

  /** A PaymentSucceeded (a new payment id unless given); resolves with the event and its id. */
  async paymentSucceeded(
    over: Partial<PaymentSucceeded> = {},
    opts: { eventId?: string } = {},
  ): Promise<{ event: PaymentSucceeded; eventId: string }> {
    const event: PaymentSucceeded = {
      paymentId: randomUUID(),
      tenancy: { operatorId: 'op-1', projectId: 'proj-1', merchantId: 'm-1' },
      merchantId: 'm-1',
      scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
      amount: { currency: 'CNY', amountMinor: 10_000n },
      channel: 'sandbox-1',
      occurredAt: toTimestamp(new Date()),
      channelTransactionId: `ch-${randomUUID()}`,
      profitSharing: false,
      payerRef: 'resident-1',
      checkoutId: '',
      ...over,
    };
    const eventId = await this.publish(PaymentEvents.PaymentSucceeded, event, {
      key: event.paymentId,
      eventId: opts.eventId,
      tenancy: event.tenancy,
    });
    return { event, eventId };
  }

  /** A refund payment made on its own (no settlement instruction). */
  async refundSucceeded(
    payment: PaymentSucceeded,
    amount: Money,
    opts: { refundId?: string; eventId?: string; instructionId?: string } = {},
  ): Promise<string> {
    return this.publish(
      PaymentEvents.RefundSucceeded,
      {
        refundId: opts.refundId ?? randomUUID(),
        paymentId: payment.paymentId,
        tenancy: payment.tenancy,
        merchantId: payment.merchantId,
        scenario: payment.scenario,
        amount,
        refundedTotal: amount,
        channel: payment.channel,
        channelRefundId: `cr-${randomUUID()}`,
        occurredAt: toTimestamp(new Date()),
        instructionId: opts.instructionId ?? '',
      },
      { key: payment.paymentId, eventId: opts.eventId, tenancy: payment.tenancy },
    );
  }

  /** Settlement's events of one order (key), optionally of one kind, in the order published. */
  eventsOf<T = unknown>(key: string, name?: string): T[] {
    return this.seen.filter((e) => e.key === key && (!name || e.name === name)).map((e) => e.payload as T);
  }

  /** Waits until settlement has published `count` events of that kind for the order. */
  async waitForEvents<T = unknown>(key: string, name: string, count = 1, timeoutMs = 30_000): Promise<T[]> {
    return waitFor(
      `${count} ${name} of ${key}`,
      async () => {
        this.check();
        const found = this.eventsOf<T>(key, name);
        return found.length >= count ? found : undefined;
      },
      timeoutMs,
      50,
    );
  }

  // ---- answers, as payment's instruction executor sends them ----

  /** Publishes payment's answer to instruction `i`, keyed by its payment like payment's own events. */
  private async answer<T>(
    i: { paymentId: string; tenancy?: Tenancy },
    type: EventType<T>,
    payload: T,
  ): Promise<void> {
    await this.publish(type, payload, { key: i.paymentId, tenancy: i.tenancy });
  }

  async answerSplit(i: ChannelSplitRequested, ok: boolean, reason = 'NOT_ENOUGH'): Promise<void> {
    if (!this.claim(i.instructionId)) return;
    const common = {
      instructionId: i.instructionId,
      paymentId: i.paymentId,
      tenancy: i.tenancy,
      channel: 'sandbox-1',
    };
    const at = toTimestamp(new Date());
    if (ok)
      await this.answer(i, PaymentEvents.ChannelSplitSucceeded, {
        ...common,
        receivers: i.receivers.map((r) => ({ account: r.account, amount: r.amount })),
        occurredAt: at,
      });
    else await this.answer(i, PaymentEvents.ChannelSplitFailed, { ...common, reason, occurredAt: at });
  }

  async answerSplitReturn(i: ChannelSplitReturnRequested, ok: boolean, reason = 'NOT_ENOUGH'): Promise<void> {
    if (!this.claim(i.instructionId)) return;
    const common = {
      instructionId: i.instructionId,
      paymentId: i.paymentId,
      tenancy: i.tenancy,
      account: i.account,
    };
    const at = toTimestamp(new Date());
    if (ok)
      await this.answer(i, PaymentEvents.ChannelSplitReturnSucceeded, {
        ...common,
        amount: i.amount,
        occurredAt: at,
      });
    else await this.answer(i, PaymentEvents.ChannelSplitReturnFailed, { ...common, reason, occurredAt: at });
  }

  async answerRefund(i: ChannelRefundRequested, ok: boolean, reason = 'CHANNEL_REFUSED'): Promise<void> {
    if (!this.claim(i.instructionId)) return;
    const refundId = randomUUID();
    const common = {
      refundId,
      paymentId: i.paymentId,
      tenancy: i.tenancy,
      merchantId: i.tenancy?.merchantId ?? '',
      amount: i.amount,
      channel: 'sandbox-1',
      occurredAt: toTimestamp(new Date()),
      instructionId: i.instructionId,
    };
    if (ok)
      await this.answer(i, PaymentEvents.RefundSucceeded, {
        ...common,
        scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
        refundedTotal: i.amount,
        channelRefundId: `cr-${refundId}`,
      });
    else await this.answer(i, PaymentEvents.RefundFailed, { ...common, reason });
  }

  private claim(instructionId: string): boolean {
    if (this.answered.has(instructionId)) return false;
    this.answered.add(instructionId);
    return true;
  }

  private async onInstruction(e: SeenEvent): Promise<void> {
    switch (e.name) {
      case 'ChannelSplitRequested':
        if (this.policy.split !== 'manual')
          await this.answerSplit(e.payload as ChannelSplitRequested, this.policy.split === 'succeed');
        return;
      case 'ChannelSplitReturnRequested':
        if (this.policy.splitReturn !== 'manual')
          await this.answerSplitReturn(
            e.payload as ChannelSplitReturnRequested,
            this.policy.splitReturn === 'succeed',
          );
        return;
      case 'ChannelRefundRequested':
        if (this.policy.refund !== 'manual')
          await this.answerRefund(e.payload as ChannelRefundRequested, this.policy.refund === 'succeed');
        return;
      default:
        return;
    }
  }
}
