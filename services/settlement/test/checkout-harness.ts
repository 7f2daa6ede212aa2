// Set-up of the checkout suite: the settlement service (in-process) on its own database and topic
// namespace, and a Kafka producer publishing payment's, points' and marketing's events onto their
// topics exactly as their outbox relays would (CloudEvents headers, protobuf payload of the
// generated types, the producers' keys), with a wait for an event in settlement's inbox. The
// builders below make a checkout's events as payment, points and marketing write them.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Producer } from 'kafkajs';
import { EventType, toTimestamp } from '@citybase/platform';
import {
  publishEvent,
  ServiceHarness,
  startServiceHarness,
  testEndpoints,
  uniqueName,
  waitFor,
} from '@citybase/platform/testing';
import { SettlementServiceService } from '@citybase/contracts/citybase/settlement/v1/settlement';
import type {
  CheckoutCompleted,
  CheckoutRefunded,
  CheckoutReleased,
  PaymentSucceeded,
  RefundFailed,
  RefundSucceeded,
} from '@citybase/contracts/citybase/payment/v1/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import type {
  ClearingObligationCreated,
  IssuerPoints,
  PointsRedeemed,
  PointsReturned,
} from '@citybase/contracts/citybase/points/v1/events';
import type { CouponRedeemed, CouponReleased } from '@citybase/contracts/citybase/marketing/v1/events';
import { FundingSource, RedemptionStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { MarketingEvents, PaymentEvents, PointsEvents } from '@citybase/contracts/events';
import { definition } from '../src/definition';
import { clearAccountCache } from '../src/ledger/ledger.store';
import { ESCROW_SCOPES } from './escrow-harness';

export type Producing = 'payment' | 'points' | 'marketing';

export interface CheckoutHarness extends ServiceHarness<typeof SettlementServiceService> {
  /** Publishes an event of `service` (its topic); resolves with its event id. */
  publish<T>(
    service: Producing,
    type: EventType<T>,
    payload: T,
    opts: { key: string; eventId?: string },
  ): Promise<string>;
  /** Waits until one of settlement's consumers applied the event. */
  applied(eventId: string): Promise<void>;
}

export async function startCheckoutHarness(): Promise<CheckoutHarness> {
  clearAccountCache();
  const h = await startServiceHarness({
    definition,
    grpcService: SettlementServiceService,
    label: 'checkout',
    env: () => ({
      DATABASE_POOL_SIZE: '10',
      SETTLEMENT_POINTS_CLEARING_INTERVAL_MS: '86400000',
      SETTLEMENT_AUTO_CONFIRM_INTERVAL_MS: '600000',
      LOG_LEVEL: 'warn',
    }),
    poolSize: 12,
    scopes: ESCROW_SCOPES,
  });
  h.onStop(() => clearAccountCache());
  let producer: Producer;
  try {
    producer = new Kafka({
      clientId: uniqueName('fake-producers'),
      brokers: testEndpoints.kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    }).producer({ allowAutoTopicCreation: false });
    await producer.connect();
  } catch (err) {
    await h.stop();
    throw err;
  }
  h.onStop(() => producer.disconnect());
  return {
    ...h,
    publish: (service, type, payload, opts) =>
      publishEvent(producer, { service, topicPrefix: h.topicPrefix }, type, payload, opts),
    async applied(eventId) {
      await waitFor(
        `event ${eventId} in settlement's inbox`,
        async () => {
          const { rowCount } = await h.pool.query(`SELECT 1 FROM inbox WHERE event_id = $1`, [eventId]);
          return rowCount === 1 ? true : undefined;
        },
        60_000,
        25,
      );
    },
  };
}

export const CNY = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });

/** One checkout: its ids, tenancy and parts, and the lots its points came from. */
export interface CheckoutCase {
  checkoutId: string;
  /** '' when the money part is 0. */
  paymentId: string;
  redemptionId: string;
  reservationId: string;
  campaignId: string;
  holder: string;
  operatorId: string;
  projectId: string;
  merchantId: string;
  discount: bigint;
  points: bigint;
  pointValue: bigint;
  money: bigint;
  /** The points' lots by issuer (the first is the place's own project). */
  lots: IssuerPoints[];
  funder: { operatorId: string; projectId: string; merchantId: string };
}

export const pointsValue = (c: CheckoutCase) => c.points * c.pointValue;
export const total = (c: CheckoutCase) => c.discount + pointsValue(c) + c.money;

/** A checkout at (operator, project, merchant) paying with a coupon, points of two issuers and money. */
export function checkoutCase(
  operatorId: string,
  projectId: string,
  over: Partial<Pick<CheckoutCase, 'discount' | 'money'>> & { otherIssuerProject?: string } = {},
): CheckoutCase {
  const pointValue = 10n;
  const own = 200n;
  const other = 100n;
  const money = over.money ?? 5_500n;
  return {
    checkoutId: randomUUID(),
    paymentId: money > 0n ? randomUUID() : '',
    redemptionId: randomUUID(),
    reservationId: randomUUID(),
    campaignId: randomUUID(),
    holder: `user-${randomUUID().slice(0, 8)}`,
    operatorId,
    projectId,
    merchantId: `m-${projectId}`,
    discount: over.discount ?? 1_500n,
    points: own + other,
    pointValue,
    money,
    lots: [
      {
        lotId: randomUUID(),
        issuer: { operatorId, projectId, merchantId: '' },
        points: own,
        value: CNY(own * pointValue),
      },
      {
        lotId: randomUUID(),
        issuer: { operatorId, projectId: over.otherIssuerProject ?? `${projectId}-issuer`, merchantId: '' },
        points: other,
        value: CNY(other * pointValue),
      },
    ],
    // the merchant funds its own coupon: a subsidy account of its own, so each test sees its own
    funder: { operatorId, projectId, merchantId: `m-${projectId}` },
  };
}

const place = (c: CheckoutCase) => ({
  operatorId: c.operatorId,
  projectId: c.projectId,
  merchantId: c.merchantId,
});
const parts = (c: CheckoutCase) => ({
  total: CNY(total(c)),
  discount: CNY(c.discount),
  points: c.points,
  pointsValue: CNY(pointsValue(c)),
  money: CNY(c.money),
});

/** Payment's CheckoutCompleted (key = checkout id). */
export const checkoutCompleted = (c: CheckoutCase): CheckoutCompleted => ({
  checkoutId: c.checkoutId,
  tenancy: place(c),
  merchantId: c.merchantId,
  scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
  userId: c.holder,
  parts: parts(c),
  paymentId: c.paymentId,
  couponRedemptionId: c.redemptionId,
  pointsReservationId: c.reservationId,
  pointsHolderId: c.holder,
  profitSharing: false,
  occurredAt: toTimestamp(new Date()),
  couponId: randomUUID(),
});

/**
 * Payment's CheckoutReleased (key = checkout id) of a checkout released after its payment succeeded
 * (CONFIRM_REFUSED): its money refunded by payment's refund `paymentRefundId`.
 */
export const checkoutReleased = (c: CheckoutCase, paymentRefundId: string): CheckoutReleased => ({
  checkoutId: c.checkoutId,
  tenancy: place(c),
  merchantId: c.merchantId,
  scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
  userId: c.holder,
  parts: parts(c),
  paymentId: c.paymentId,
  couponRedemptionId: c.redemptionId,
  pointsReservationId: c.reservationId,
  pointsHolderId: c.holder,
  reason: 'CONFIRM_REFUSED',
  occurredAt: toTimestamp(new Date()),
  couponId: randomUUID(),
  paymentRefundId,
});

/** Payment's RefundFailed of a refund asked of payment directly (key = payment id). */
export const moneyRefundFailed = (c: CheckoutCase, refundId: string, amount: bigint): RefundFailed => ({
  refundId,
  paymentId: c.paymentId,
  tenancy: place(c),
  merchantId: c.merchantId,
  amount: CNY(amount),
  channel: 'sandbox',
  reason: 'CHANNEL_REFUSED',
  occurredAt: toTimestamp(new Date()),
  instructionId: '',
});

/** Payment's PaymentSucceeded of the money part (key = payment id). */
export const paymentSucceeded = (c: CheckoutCase): PaymentSucceeded => ({
  paymentId: c.paymentId,
  tenancy: place(c),
  merchantId: c.merchantId,
  scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
  amount: CNY(c.money),
  channel: 'sandbox',
  occurredAt: toTimestamp(new Date()),
  channelTransactionId: `ch-${c.paymentId}`,
  profitSharing: false,
  payerRef: c.holder,
  checkoutId: c.checkoutId,
});

/** Points' PointsRedeemed (key = holder), redeemed_at = the checkout's place, reference = the checkout. */
export const pointsRedeemed = (c: CheckoutCase): PointsRedeemed => ({
  reservationId: c.reservationId,
  tenancy: place(c),
  holderId: c.holder,
  points: c.points,
  reference: c.checkoutId,
  occurredAt: toTimestamp(new Date()),
  value: CNY(pointsValue(c)),
  lots: c.lots,
  redeemedAt: place(c),
});

/** The ClearingObligationCreated of each lot of another issuer than the place (same points transaction). */
export const obligations = (c: CheckoutCase): ClearingObligationCreated[] =>
  c.lots
    .filter((l) => l.issuer?.projectId !== c.projectId || l.issuer.operatorId !== c.operatorId)
    .map((l) => ({
      // one obligation per (reservation, issuer): stable across redeliveries (the lot's id stands for it)
      obligationId: l.lotId,
      reservationId: c.reservationId,
      debtor: l.issuer,
      creditor: place(c),
      points: l.points,
      value: l.value,
      occurredAt: toTimestamp(new Date()),
    }));

const redemption = (c: CheckoutCase, status: RedemptionStatus) => ({
  redemptionId: c.redemptionId,
  couponId: randomUUID(),
  status,
  redeemedAt: place(c),
  reference: c.checkoutId,
  basketTotal: CNY(total(c)),
  discount: CNY(c.discount),
  createdAt: toTimestamp(new Date()),
  expiresAt: undefined,
  endedAt: toTimestamp(new Date()),
});

/** Marketing's CouponRedeemed (key = campaign id), funded by the merchant. */
export const couponRedeemed = (c: CheckoutCase): CouponRedeemed => ({
  redemption: redemption(c, RedemptionStatus.REDEMPTION_STATUS_CONFIRMED),
  campaignId: c.campaignId,
  userId: c.holder,
  funding: FundingSource.FUNDING_SOURCE_MERCHANT,
  funder: c.funder,
  offline: false,
  occurredAt: toTimestamp(new Date()),
});

/** Marketing's CouponReleased of a rolled-back redemption. */
export const couponRolledBack = (c: CheckoutCase, byCheckoutRefund: boolean): CouponReleased => ({
  redemption: redemption(c, RedemptionStatus.REDEMPTION_STATUS_ROLLED_BACK),
  campaignId: c.campaignId,
  userId: c.holder,
  funding: FundingSource.FUNDING_SOURCE_MERCHANT,
  funder: c.funder,
  occurredAt: toTimestamp(new Date()),
  byCheckoutRefund,
});

/** Parts of one refund (payment computes them; settlement applies them as they are). */
export interface RefundParts {
  discount: bigint;
  points: bigint;
  money: bigint;
}

/** Payment's CheckoutRefunded (key = checkout id). */
export const checkoutRefunded = (
  c: CheckoutCase,
  refundId: string,
  p: RefundParts,
  so_far: RefundParts,
  paymentRefundId: string,
): CheckoutRefunded => {
  const asParts = (r: RefundParts) => ({
    total: CNY(r.discount + r.points * c.pointValue + r.money),
    discount: CNY(r.discount),
    points: r.points,
    pointsValue: CNY(r.points * c.pointValue),
    money: CNY(r.money),
  });
  return {
    checkoutId: c.checkoutId,
    refundId,
    tenancy: place(c),
    merchantId: c.merchantId,
    parts: asParts(p),
    refundedTotal: asParts(so_far),
    couponRestored: so_far.discount === c.discount && so_far.points === c.points && so_far.money === c.money,
    paymentRefundId,
    pointsReservationId: c.reservationId,
    pointsHolderId: c.holder,
    couponRedemptionId: c.redemptionId,
    occurredAt: toTimestamp(new Date()),
    scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
    paymentId: c.paymentId,
    couponId: '',
  };
};

/** Payment's RefundSucceeded of the money part, asked of payment directly (no instruction). */
export const moneyRefunded = (
  c: CheckoutCase,
  refundId: string,
  amount: bigint,
  soFar: bigint,
): RefundSucceeded => ({
  refundId,
  paymentId: c.paymentId,
  tenancy: place(c),
  merchantId: c.merchantId,
  scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
  amount: CNY(amount),
  refundedTotal: CNY(soFar),
  channel: 'sandbox',
  channelRefundId: `chr-${refundId}`,
  occurredAt: toTimestamp(new Date()),
  instructionId: '',
});

/**
 * Points' PointsReturned (key = holder): new lots of the issuers the redemption took from, the other
 * issuer's first; `already` points of the reservation were returned by earlier refunds.
 */
export const pointsReturned = (
  c: CheckoutCase,
  returnId: string,
  points: bigint,
  already = 0n,
): PointsReturned => {
  const lots: IssuerPoints[] = [];
  let skip = already;
  let left = points;
  for (const l of [...c.lots].reverse()) {
    const free = l.points - (skip < l.points ? skip : l.points);
    skip -= l.points - free;
    const n = left < free ? left : free;
    if (n > 0n) lots.push({ lotId: randomUUID(), issuer: l.issuer, points: n, value: CNY(n * c.pointValue) });
    left -= n;
  }
  return {
    returnId,
    reservationId: c.reservationId,
    tenancy: { operatorId: c.operatorId, projectId: '', merchantId: '' },
    holderId: c.holder,
    points,
    reference: c.checkoutId,
    redeemedAt: place(c),
    lots,
    value: CNY(points * c.pointValue),
    occurredAt: toTimestamp(new Date()),
  };
};

/** The steps that bring a checkout's four facts (points: its redemption and obligations). */
export type Step = 'completed' | 'payment' | 'points' | 'coupon';

export async function publishStep(
  h: CheckoutHarness,
  c: CheckoutCase,
  step: Step,
  opts: { newEventIds?: boolean; eventIds?: Map<string, string> } = {},
): Promise<void> {
  const send = async <T>(service: Producing, type: EventType<T>, payload: T, key: string, name: string) => {
    const reuse = opts.newEventIds ? undefined : opts.eventIds?.get(name);
    const id = await h.publish(service, type, payload, { key, eventId: reuse });
    opts.eventIds?.set(name, id);
    await h.applied(id);
  };
  switch (step) {
    case 'completed':
      return send(
        'payment',
        PaymentEvents.CheckoutCompleted,
        checkoutCompleted(c),
        c.checkoutId,
        'completed',
      );
    case 'payment':
      if (!c.paymentId) return;
      return send('payment', PaymentEvents.PaymentSucceeded, paymentSucceeded(c), c.paymentId, 'payment');
    case 'coupon':
      return send('marketing', MarketingEvents.CouponRedeemed, couponRedeemed(c), c.campaignId, 'coupon');
    case 'points': {
      await send('points', PointsEvents.PointsRedeemed, pointsRedeemed(c), c.holder, 'points');
      let i = 0;
      for (const o of obligations(c))
        await send('points', PointsEvents.ClearingObligationCreated, o, c.holder, `obligation-${i++}`);
      return;
    }
  }
}
