import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Producer } from 'kafkajs';
import { cityPeriod, toTimestamp } from '@citybase/platform';
import { publishEvent, testEndpoints, uniqueName, waitFor } from '@citybase/platform/testing';
import type { CheckoutRefunded } from '@citybase/contracts/citybase/payment/v1/events';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import { LotSource, Reservation } from '@citybase/contracts/citybase/points/v1/points';
import { PaymentEvents } from '@citybase/contracts/events';
import { checkPointsInvariants } from '../src/invariants';
import {
  eventsOf,
  PointsClient,
  PointsHarness,
  POINTS_SCOPES,
  seedBudget,
  seedProgramme,
  startAccountsHarness,
} from './accounts-harness';
import { OPERATOR_SCOPES } from './points-harness';

const at = (operatorId: string, projectId = '', merchantId = '') => ({ operatorId, projectId, merchantId });
const CNY = (amountMinor: bigint) => ({ currency: 'CNY', amountMinor });

/**
 * Returns on checkout refunds (docs/points.md "Returns on checkout refunds"): payment's
 * CheckoutRefunded published onto the payment topic as payment's relay would (generated type,
 * key = checkout id); the points come back as AVAILABLE lots of the issuers and budgets the
 * redemption took them from, once per refund; the invariants after every test.
 */
describe('points returned on checkout refunds (in-process, Kafka, PostgreSQL; payment on its topic)', () => {
  let h: PointsHarness;
  let producer: Producer;
  let op: string;
  let pa: string; // a project of op that issues points
  let client: PointsClient;

  beforeAll(async () => {
    h = await startAccountsHarness();
    producer = new Kafka({
      clientId: uniqueName('fake-payment'),
      brokers: testEndpoints.kafkaBrokers(),
      logLevel: logLevel.NOTHING,
    }).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    op = uniqueName('op');
    pa = uniqueName('pa');
    client = h.clientOf({ operators: [op] }, [...POINTS_SCOPES, ...OPERATOR_SCOPES]);
    await seedProgramme(h, op, { pointValue: CNY(10n) });
    await seedBudget(h, op, 10_000_000n);
    await client.setBudget({
      requestId: uniqueName('budget'),
      tenancy: at(op, pa),
      period: cityPeriod(new Date()),
      allotted: 1_000_000n,
    });
  }, 120_000);

  afterAll(async () => {
    await producer?.disconnect();
    await h?.stop();
  });

  afterEach(async () => {
    expect(await checkPointsInvariants(h.pool)).toEqual([]);
  });

  /** A holder with 200 points of the operator (expiring later) and 100 of project pa, 300 spent at a checkout. */
  async function spentAtCheckout(): Promise<{
    holder: string;
    checkoutId: string;
    reservation: Reservation;
  }> {
    const holder = uniqueName('user');
    const checkoutId = randomUUID();
    const issue = (points: bigint, projectId: string, days: number) =>
      client.issuePoints({
        requestId: uniqueName('issue'),
        tenancy: at(op, projectId),
        holderId: holder,
        points,
        reason: 'GOODWILL',
        expiresAt: toTimestamp(new Date(Date.now() + days * 86_400_000)),
      });
    await issue(200n, '', 200);
    await issue(100n, pa, 100);
    const { reservation } = await client.reservePoints({
      requestId: uniqueName('reserve'),
      tenancy: at(op),
      holderId: holder,
      points: 300n,
      reference: checkoutId,
      ttlSeconds: 0,
      redeemedAt: at(op, pa, 'm-1'),
    });
    await client.confirmReservation({
      requestId: uniqueName('confirm'),
      tenancy: at(op),
      reservationId: reservation!.reservationId,
    });
    return { holder, checkoutId, reservation: reservation! };
  }

  const refunded = (
    checkoutId: string,
    reservation: Reservation,
    refundId: string,
    points: bigint,
    soFar: bigint,
  ): CheckoutRefunded => {
    const parts = (p: bigint) => ({
      total: CNY(p * 10n),
      discount: CNY(0n),
      points: p,
      pointsValue: CNY(p * 10n),
      money: CNY(0n),
    });
    return {
      checkoutId,
      refundId,
      tenancy: at(op, pa, 'm-1'),
      merchantId: 'm-1',
      parts: parts(points),
      refundedTotal: parts(soFar),
      couponRestored: soFar === 300n,
      paymentRefundId: '',
      pointsReservationId: reservation.reservationId,
      pointsHolderId: reservation.holderId,
      couponRedemptionId: '',
      occurredAt: toTimestamp(new Date()),
      scenario: PaymentScenario.PAYMENT_SCENARIO_GOODS,
      paymentId: '',
      couponId: '',
    };
  };

  const publish = async (e: CheckoutRefunded, eventId?: string) => {
    const id = await publishEvent(
      producer,
      { service: 'payment', topicPrefix: h.topicPrefix },
      PaymentEvents.CheckoutRefunded,
      e,
      { key: e.checkoutId, eventId },
    );
    await waitFor(
      `event ${id} in the points.checkouts inbox`,
      async () => {
        const { rowCount } = await h.pool.query(
          `SELECT 1 FROM inbox WHERE consumer = 'points.checkouts' AND event_id = $1`,
          [id],
        );
        return rowCount === 1 ? true : undefined;
      },
      60_000,
      25,
    );
    return id;
  };

  const available = async (holder: string) =>
    (await client.getBalance({ tenancy: at(op), holderId: holder })).available;
  const returnedLots = async (holder: string) =>
    (
      await h.pool.query<{ issuer: string; amount: bigint; budget: string; from_budget: string }>(
        `SELECT t.issuer_operator_id || '/' || t.issuer_project_id AS issuer, t.amount, t.budget_id AS budget,
                s.budget_id AS from_budget
           FROM lots t JOIN lots s ON s.lot_id = t.from_lot_id JOIN accounts a ON a.account_id = t.account_id
          WHERE t.source = $1 AND a.holder_id = $2 ORDER BY t.amount`,
        [LotSource.LOT_SOURCE_RETURNED, holder],
      )
    ).rows;

  it('a partial then a full refund give the points back as available lots of their issuers and budgets, once each', async () => {
    const { holder, checkoutId, reservation } = await spentAtCheckout();
    expect(await available(holder)).toBe(0n);
    const first = randomUUID();
    const eventId = await publish(refunded(checkoutId, reservation, first, 90n, 90n));
    // the latest-expiring lot (the operator's) comes back first
    expect(await available(holder)).toBe(90n);
    expect(await returnedLots(holder)).toEqual([expect.objectContaining({ issuer: `${op}/`, amount: 90n })]);
    // redelivered, and the same refund under a new event id: nothing more
    await publish(refunded(checkoutId, reservation, first, 90n, 90n), eventId);
    await publish(refunded(checkoutId, reservation, first, 90n, 90n));
    expect(await available(holder)).toBe(90n);
    await publish(refunded(checkoutId, reservation, randomUUID(), 210n, 300n));
    expect(await available(holder)).toBe(300n);
    const lots = await returnedLots(holder);
    expect(lots.map((l) => [l.issuer, l.amount])).toEqual([
      [`${op}/`, 90n],
      [`${op}/${pa}`, 100n],
      [`${op}/`, 110n],
    ]);
    for (const l of lots) expect(l.budget).toBe(l.from_budget);
    // PointsReturned for settlement: per new lot its issuer and value, where the points were spent
    const events = (await eventsOf(h.pool, 'PointsReturned')).filter((e) => e.reference === checkoutId);
    expect(
      events.map((e) => [e.points, e.value?.amountMinor, e.lots.map((l) => [l.issuer?.projectId, l.points])]),
    ).toEqual([
      [90n, 900n, [['', 90n]]],
      [
        210n,
        2_100n,
        [
          ['', 110n],
          [pa, 100n],
        ],
      ],
    ]);
    expect(events[0]!.redeemedAt).toEqual(at(op, pa, 'm-1'));
    // the points can be spent again
    const { reservation: again } = await client.reservePoints({
      requestId: uniqueName('reserve'),
      tenancy: at(op),
      holderId: holder,
      points: 300n,
      reference: randomUUID(),
      ttlSeconds: 0,
      redeemedAt: undefined,
    });
    expect(again?.points).toBe(300n);
  }, 120_000);

  it('a checkout refund without points returns nothing', async () => {
    const { holder, checkoutId, reservation } = await spentAtCheckout();
    await publish(refunded(checkoutId, reservation, randomUUID(), 0n, 0n));
    expect(await available(holder)).toBe(0n);
    expect(await returnedLots(holder)).toEqual([]);
  }, 120_000);
});
