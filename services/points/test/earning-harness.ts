// Set-up of the earning suites: the points service (in-process) with its jobs slowed down, a
// Kafka producer publishing payment's events onto the payment topic exactly as payment's relay
// would (as settlement's tests do), a wait for an event in the `points.earning` inbox, and a second
// EarningService on the same database standing for another replica (runs the release pass).
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Producer } from 'kafkajs';
import { toTimestamp } from '@citybase/platform';
import { publishEvent, testEndpoints, uniqueName, waitFor } from '@citybase/platform/testing';
import type { PaymentSucceeded, RefundSucceeded } from '@citybase/contracts/citybase/payment/v1/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { PaymentEvents } from '@citybase/contracts/events';
import { EarningService } from '../src/earning/earning.service';
import { replicaParts } from './accounts-harness';
import { PointsHarness, startPointsHarness } from './points-harness';

export interface EarningHarness extends PointsHarness {
  /** Publishes a PaymentSucceeded (new payment id unless given); waits until earning applied it. */
  paid(
    over?: Partial<PaymentSucceeded>,
    opts?: { eventId?: string },
  ): Promise<PaymentSucceeded & { eventId: string }>;
  /** Publishes a RefundSucceeded of the payment; waits until earning applied it. */
  refunded(payment: PaymentSucceeded, refundedTotal: bigint, opts?: { eventId?: string }): Promise<string>;
  /** Publishes without waiting (resolves with the event id); `applied` waits for it. */
  publishPaid(over?: Partial<PaymentSucceeded>): Promise<{ event: PaymentSucceeded; eventId: string }>;
  applied(eventId: string): Promise<void>;
  /** Another replica's earning service: runs the release pass on demand. */
  jobs: EarningService;
}

export async function startEarningHarness(): Promise<EarningHarness> {
  const h = await startPointsHarness('points-earning', {
    POINTS_HOLD_EXPIRY_INTERVAL_MS: '600000',
    POINTS_LOT_EXPIRY_INTERVAL_MS: '600000',
    POINTS_RELEASE_INTERVAL_MS: '600000',
    POINTS_EXPIRY_NOTICE_INTERVAL_MS: '600000',
    POINTS_TIER_INTERVAL_MS: '600000',
  });
  let producer: Producer;
  /** Per payment, the refunded total of the refunds published so far. */
  const refundedSoFar = new Map<string, bigint>();
  try {
    producer = new Kafka({
      clientId: uniqueName('fake-payment'),
      brokers: testEndpoints.kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    }).producer({ allowAutoTopicCreation: false });
    await producer.connect();
  } catch (err) {
    await h.stop();
    throw err;
  }
  h.onStop(() => producer.disconnect());
  const source = { service: 'payment', topicPrefix: h.topicPrefix };
  const applied = async (eventId: string) => {
    await waitFor(
      `event ${eventId} in the points.earning inbox`,
      async () => {
        const { rowCount } = await h.pool.query(
          `SELECT 1 FROM inbox WHERE consumer = 'points.earning' AND event_id = $1`,
          [eventId],
        );
        return rowCount === 1 ? true : undefined;
      },
      30_000,
      50,
    );
  };
  const publishPaid = async (over: Partial<PaymentSucceeded> = {}, opts: { eventId?: string } = {}) => {
    const event: PaymentSucceeded = {
      paymentId: randomUUID(),
      tenancy: { operatorId: 'op-1', projectId: '', merchantId: 'm-1' },
      merchantId: 'm-1',
      scenario: PaymentScenario.PAYMENT_SCENARIO_PROPERTY_FEE,
      amount: { currency: 'CNY', amountMinor: 10_000n },
      channel: 'sandbox-1',
      occurredAt: toTimestamp(new Date()),
      channelTransactionId: `ch-${randomUUID()}`,
      profitSharing: false,
      payerRef: 'resident-1',
      checkoutId: '',
      ...over,
    };
    const eventId = await publishEvent(producer, source, PaymentEvents.PaymentSucceeded, event, {
      key: event.paymentId,
      tenancy: event.tenancy,
      eventId: opts.eventId,
    });
    return { event, eventId };
  };
  const r = replicaParts(h);
  return {
    ...h,
    publishPaid,
    applied,
    async paid(over = {}, opts = {}) {
      const { event, eventId } = await publishPaid(over, opts);
      await applied(eventId);
      return { ...event, eventId };
    },
    async refunded(payment, refundedTotal, opts = {}) {
      // as payment's events are: `amount` this refund, `refunded_total` all of them so far
      const before = refundedSoFar.get(payment.paymentId) ?? 0n;
      if (refundedTotal > before) refundedSoFar.set(payment.paymentId, refundedTotal);
      const refund: RefundSucceeded = {
        refundId: randomUUID(),
        paymentId: payment.paymentId,
        tenancy: payment.tenancy,
        merchantId: payment.merchantId,
        scenario: payment.scenario,
        amount: { currency: 'CNY', amountMinor: refundedTotal > before ? refundedTotal - before : 0n },
        refundedTotal: { currency: 'CNY', amountMinor: refundedTotal },
        channel: payment.channel,
        channelRefundId: `rf-${randomUUID()}`,
        occurredAt: toTimestamp(new Date()),
        instructionId: '',
      };
      const eventId = await publishEvent(producer, source, PaymentEvents.RefundSucceeded, refund, {
        key: payment.paymentId,
        tenancy: payment.tenancy,
        eventId: opts.eventId,
      });
      await applied(eventId);
      return eventId;
    },
    jobs: new EarningService(
      h.pool as never,
      r.outbox,
      r.logger,
      r.mutations(),
      r.budgets(),
      r.programmes(),
      r.tiers(),
    ),
  };
}
