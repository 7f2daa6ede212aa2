import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { status } from '@grpc/grpc-js';
import { errorCode, grpcError } from '@citybase/platform/testing';
import {
  AccountKind,
  EscrowStatus,
  RefundDestination,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { MarketingEvents, PaymentEvents, PointsEvents } from '@citybase/contracts/events';
import { RedemptionStatus } from '@citybase/contracts/citybase/marketing/v1/marketing';
import { checkLedgerInvariants } from '../src/ledger/invariants';
import {
  checkoutCase,
  CheckoutCase,
  CheckoutHarness,
  checkoutRefunded,
  checkoutReleased,
  CNY,
  couponRedeemed,
  couponRolledBack,
  moneyRefunded,
  moneyRefundFailed,
  pointsReturned,
  publishStep,
  RefundParts,
  startCheckoutHarness,
  Step,
  total,
} from './checkout-harness';
import { balance, SettlementClient } from './escrow-harness';
import { splitRule } from './spec-helpers';

const K = AccountKind;
const OP = 'op-checkout';

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((p) => [x, ...p]));
}

/**
 * The ledger transactions of one checkout (every key naming one of its ids), with its ids, project
 * and merchant replaced by names: two checkouts posted the same way give the same picture.
 */
async function ledgerOf(pool: Pool, c: CheckoutCase): Promise<string[]> {
  const names = new Map<string, string>([
    [c.checkoutId, 'CHECKOUT'],
    [c.redemptionId, 'REDEMPTION'],
    [c.reservationId, 'RESERVATION'],
    ...c.lots.map((l, i): [string, string] => [l.lotId, `LOT${i}`]),
    ...(c.paymentId ? [[c.paymentId, 'PAYMENT'] as [string, string]] : []),
  ]);
  const { rows } = await pool.query<{ key: string; kind: number; owner: string; amount: string }>(
    `SELECT t.idempotency_key AS key, a.kind, a.operator_id || '/' || a.project_id || '/' || a.merchant_id AS owner,
            sum(e.amount_minor)::text AS amount
       FROM ledger_transactions t JOIN ledger_entries e USING (tx_id) JOIN ledger_accounts a USING (account_id)
      WHERE t.idempotency_key LIKE ANY ($1::text[])
      GROUP BY 1, 2, 3`,
    [[...names.keys()].map((id) => `%${id}%`)],
  );
  const rename = (s: string) => {
    let out = s;
    for (const [id, name] of names) out = out.split(id).join(name);
    return out.split(c.merchantId).join('MERCHANT').split(c.projectId).join('PROJECT');
  };
  return rows.map((r) => `${rename(r.key)} ${r.kind} ${rename(r.owner)} ${r.amount}`).sort();
}

async function transactionCount(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger_transactions');
  return rows[0]!.n;
}

/**
 * Checkouts in the ledger (docs/settlement-checkout.md): payment's, points' and marketing's events
 * published onto their topics as their relays would, with the generated event types; the ledger
 * check after every test.
 */
describe('settlement checkouts (in-process service, Kafka, PostgreSQL; payment, points, marketing on their topics)', () => {
  let h: CheckoutHarness;
  let app: SettlementClient;

  beforeAll(async () => {
    h = await startCheckoutHarness();
    app = h.clientOf({ operators: [OP] });
  }, 120_000);

  afterEach(async () => {
    const report = await checkLedgerInvariants(h.pool);
    expect(report.violations).toEqual([]);
  });

  afterAll(async () => {
    await h?.stop();
  });

  const publish = (c: CheckoutCase, steps: readonly Step[], eventIds?: Map<string, string>) =>
    steps.reduce<Promise<void>>(
      (p, step) => p.then(() => publishStep(h, c, step, { eventIds })),
      Promise.resolve(),
    );

  it("every order of a checkout's four events gives the same ledger, with the full price in its order", async () => {
    const orders = permutations<Step>(['completed', 'payment', 'points', 'coupon']);
    expect(orders).toHaveLength(24);
    let first: string[] | undefined;
    for (const [i, order] of orders.entries()) {
      const c = checkoutCase(OP, `perm-${i}`);
      await publish(c, order);
      const { order: escrow } = await app.getEscrowOrder({ orderId: c.checkoutId });
      expect(escrow).toMatchObject({
        orderId: c.paymentId,
        checkoutId: c.checkoutId,
        status: EscrowStatus.ESCROW_STATUS_HELD,
        paid: CNY(10_000n),
        held: CNY(10_000n),
        paidParts: { money: CNY(5_500n), discount: CNY(1_500n), pointsValue: CNY(3_000n) },
        partsPending: false,
      });
      // the parts passed through the place's payable and left it
      expect(
        await balance(h.pool, K.ACCOUNT_KIND_MERCHANT_PAYABLE, {
          operatorId: OP,
          projectId: c.projectId,
          merchantId: c.merchantId,
        }),
      ).toBe(0n);
      expect(await balance(h.pool, K.ACCOUNT_KIND_ESCROW, { operatorId: OP, projectId: c.projectId })).toBe(
        10_000n,
      );
      const ledger = await ledgerOf(h.pool as unknown as Pool, c);
      if (first) expect({ order, ledger }).toEqual({ order, ledger: first });
      else first = ledger;
    }
    expect(first).toHaveLength(14);
    const { positions } = await app.getEscrowPositions({ operatorId: OP, projectId: 'perm-0' });
    expect(positions[0]).toMatchObject({
      paid: CNY(10_000n),
      paidParts: { money: CNY(5_500n), discount: CNY(1_500n), pointsValue: CNY(3_000n) },
    });
  }, 600_000);

  it('a redelivered event, or the same fact under a new event id, posts nothing more', async () => {
    const c = checkoutCase(OP, 'dup');
    const ids = new Map<string, string>();
    await publish(c, ['points', 'coupon', 'payment', 'completed'], ids);
    const before = await transactionCount(h.pool as unknown as Pool);
    const ledger = await ledgerOf(h.pool as unknown as Pool, c);
    const steps: Step[] = ['completed', 'payment', 'points', 'coupon'];
    // the same events again (the inbox skips them), then the same facts under new event ids
    for (const step of steps) await publishStep(h, c, step, { eventIds: ids });
    for (const step of steps) await publishStep(h, c, step, { newEventIds: true, eventIds: new Map() });
    expect(await transactionCount(h.pool as unknown as Pool)).toBe(before);
    expect(await ledgerOf(h.pool as unknown as Pool, c)).toEqual(ledger);
    expect((await app.getEscrowOrder({ orderId: c.checkoutId })).order?.paid).toEqual(CNY(10_000n));
  }, 120_000);

  it("PaymentSucceeded names its checkout: the order is the checkout's at once and cannot complete with the money only", async () => {
    const c = checkoutCase(OP, 'named');
    await publish(c, ['payment']);
    let { order } = await app.getEscrowOrder({ orderId: c.paymentId });
    expect(order).toMatchObject({ checkoutId: c.checkoutId, partsPending: true, paid: CNY(5_500n) });
    const early = await grpcError(app.completeOrder({ requestId: randomUUID(), orderId: c.paymentId }));
    expect([early.code, errorCode(early)]).toEqual([status.FAILED_PRECONDITION, 'CHECKOUT_PARTS_PENDING']);
    await publish(c, ['points', 'coupon', 'completed']);
    ({ order } = await app.getEscrowOrder({ orderId: c.checkoutId }));
    expect(order).toMatchObject({ orderId: c.paymentId, partsPending: false, paid: CNY(10_000n) });
  }, 120_000);

  it('a zero-money checkout has its own order; it completes only with every part, a refund waiting for a part applies once it arrives', async () => {
    const c = checkoutCase(OP, 'zero', { money: 0n, discount: 7_000n });
    expect(total(c)).toBe(10_000n);
    await app.setSplitRule({
      requestId: randomUUID(),
      rule: splitRule({ operatorId: OP, projectId: 'zero' }),
    });
    await publish(c, ['completed', 'points']);
    let { order } = await app.getEscrowOrder({ orderId: c.checkoutId });
    expect(order).toMatchObject({ orderId: c.checkoutId, paid: CNY(3_000n), partsPending: true });
    const pending = await grpcError(app.completeOrder({ requestId: randomUUID(), orderId: c.checkoutId }));
    expect([pending.code, errorCode(pending)]).toEqual([
      status.FAILED_PRECONDITION,
      'CHECKOUT_PARTS_PENDING',
    ]);
    // a partial refund before the coupon part arrived: it waits
    const refundId = randomUUID();
    const part: RefundParts = { discount: 700n, points: 30n, money: 0n };
    const id = await h.publish(
      'payment',
      PaymentEvents.CheckoutRefunded,
      checkoutRefunded(c, refundId, part, part, ''),
      {
        key: c.checkoutId,
      },
    );
    await h.applied(id);
    expect((await app.getEscrowOrder({ orderId: c.checkoutId })).order?.refunded).toEqual(CNY(0n));
    const returned = await h.publish(
      'points',
      PointsEvents.PointsReturned,
      pointsReturned(c, refundId, 30n),
      {
        key: c.holder,
      },
    );
    await h.applied(returned);
    await publishStep(h, c, 'coupon');
    ({ order } = await app.getEscrowOrder({ orderId: c.checkoutId }));
    expect(order).toMatchObject({
      paid: CNY(10_000n),
      refunded: CNY(1_000n),
      held: CNY(9_000n),
      paidParts: { money: CNY(0n), discount: CNY(7_000n), pointsValue: CNY(3_000n) },
      refundedParts: { money: CNY(0n), discount: CNY(700n), pointsValue: CNY(300n) },
      partsPending: false,
    });
    // the funder's expense is what is left of the discount; 30 points are the other issuer's again
    expect(await balance(h.pool, K.ACCOUNT_KIND_MARKETING_SUBSIDY, c.funder)).toBe(6_300n);
    expect(
      await balance(h.pool, K.ACCOUNT_KIND_POINTS_LIABILITY, { operatorId: OP, projectId: 'zero-issuer' }),
    ).toBe(-1_000n + 300n);
    ({ order } = await app.completeOrder({ requestId: randomUUID(), orderId: c.checkoutId }));
    expect(order?.status).toBe(EscrowStatus.ESCROW_STATUS_COMPLETED);
    expect(order?.released).toEqual(CNY(9_000n));
    // 5 % commission, 10 % property share, 3 % tax of the full 9,000 left
    expect(order?.split).toEqual([
      { role: 'merchant', amount: CNY(7_380n) },
      { role: 'property', amount: CNY(900n) },
      { role: 'commission', amount: CNY(450n) },
      { role: 'tax', amount: CNY(270n) },
    ]);
    expect(await balance(h.pool, K.ACCOUNT_KIND_ESCROW, { operatorId: OP, projectId: 'zero' })).toBe(0n);
    // a checkout's order is refunded through payment's RefundCheckout only
    const refused = await grpcError(
      app.refundOrder({
        requestId: randomUUID(),
        orderId: c.checkoutId,
        amount: CNY(100n),
        destination: RefundDestination.REFUND_DESTINATION_ORIGINAL,
        reason: 'returned',
      }),
    );
    expect([refused.code, errorCode(refused)]).toEqual([status.FAILED_PRECONDITION, 'ORDER_IS_CHECKOUT']);
  }, 120_000);

  it('partial then full refund after the split: every part back where it came from, the coupon rollback posts nothing more', async () => {
    // an operator of its own: commission and tax are per operator
    const OP = 'op-checkout-refund';
    const app = h.clientOf({ operators: [OP] });
    const c = checkoutCase(OP, 'refund');
    await app.setSplitRule({
      requestId: randomUUID(),
      rule: splitRule({ operatorId: OP, projectId: 'refund' }),
    });
    await publish(c, ['payment', 'coupon', 'points', 'completed']);
    // the app names the checkout; its order is the payment's
    const { order: completed } = await app.completeOrder({ requestId: randomUUID(), orderId: c.checkoutId });
    expect(completed?.orderId).toBe(c.paymentId);
    const at = { operatorId: OP, projectId: 'refund' };
    const refundOnce = async (p: RefundParts, soFar: RefundParts) => {
      const returnedBefore = soFar.points - p.points;
      const refundId = randomUUID();
      const paymentRefundId = randomUUID();
      const events: string[] = [];
      events.push(
        await h.publish(
          'payment',
          PaymentEvents.RefundSucceeded,
          moneyRefunded(c, paymentRefundId, p.money, soFar.money),
          {
            key: c.paymentId,
          },
        ),
      );
      events.push(
        await h.publish(
          'payment',
          PaymentEvents.CheckoutRefunded,
          checkoutRefunded(c, refundId, p, soFar, paymentRefundId),
          {
            key: c.checkoutId,
          },
        ),
      );
      events.push(
        await h.publish(
          'points',
          PointsEvents.PointsReturned,
          pointsReturned(c, refundId, p.points, returnedBefore),
          {
            key: c.holder,
          },
        ),
      );
      for (const e of events) await h.applied(e);
    };
    // 30 % of the full price: payer's share 8,500 x 0.3 = 2,550 of which points floor(2550*3000/8500)
    // = 900 = 90 points, money 1,650; discount 450
    await refundOnce(
      { discount: 450n, points: 90n, money: 1_650n },
      { discount: 450n, points: 90n, money: 1_650n },
    );
    let { order } = await app.getEscrowOrder({ orderId: c.checkoutId });
    expect(order).toMatchObject({
      status: EscrowStatus.ESCROW_STATUS_COMPLETED,
      released: CNY(7_000n),
      refunded: CNY(3_000n),
      refundedParts: { money: CNY(1_650n), discount: CNY(450n), pointsValue: CNY(900n) },
    });
    expect(await balance(h.pool, K.ACCOUNT_KIND_MARKETING_SUBSIDY, c.funder)).toBe(1_050n);
    await refundOnce(
      { discount: 1_050n, points: 210n, money: 3_850n },
      { discount: 1_500n, points: 300n, money: 5_500n },
    );
    const rolledBack = await h.publish(
      'marketing',
      MarketingEvents.CouponReleased,
      couponRolledBack(c, true),
      {
        key: c.campaignId,
      },
    );
    await h.applied(rolledBack);
    ({ order } = await app.getEscrowOrder({ orderId: c.checkoutId }));
    expect(order).toMatchObject({
      released: CNY(0n),
      refunded: CNY(10_000n),
      refundedParts: { money: CNY(5_500n), discount: CNY(1_500n), pointsValue: CNY(3_000n) },
      split: [],
    });
    // every account the checkout touched is back at zero: the split parts, the place's payable, the
    // channel, the escrow, the issuers' liability (own and through clearing), clearing
    const zero = [
      [K.ACCOUNT_KIND_MERCHANT_PAYABLE, { ...at, merchantId: c.merchantId }],
      [K.ACCOUNT_KIND_PROPERTY_SHARE, at],
      [K.ACCOUNT_KIND_PLATFORM_COMMISSION, { operatorId: OP }],
      [K.ACCOUNT_KIND_TAX_PAYABLE, { operatorId: OP }],
      [K.ACCOUNT_KIND_ESCROW, at],
      [K.ACCOUNT_KIND_MARKETING_SUBSIDY, c.funder],
      [K.ACCOUNT_KIND_CHANNEL_CLEARING, { ...at, ownerRef: 'sandbox' }],
      [K.ACCOUNT_KIND_POINTS_LIABILITY, at],
      [K.ACCOUNT_KIND_POINTS_LIABILITY, { operatorId: OP, projectId: 'refund-issuer' }],
      [K.ACCOUNT_KIND_POINTS_CLEARING, at],
      [K.ACCOUNT_KIND_POINTS_CLEARING, { operatorId: OP, projectId: 'refund-issuer' }],
    ] as const;
    for (const [kind, key] of zero)
      expect({ kind: K[kind], key, balance: await balance(h.pool, kind, key) }).toEqual({
        kind: K[kind],
        key,
        balance: 0n,
      });
    const { rows } = await h.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ledger_transactions WHERE idempotency_key = $1`,
      [`coupon:rolled-back:${c.redemptionId}`],
    );
    expect(rows[0]!.n).toBe(0);
  }, 120_000);

  /** What a released checkout's project holds in the ledger, by transaction kind and account kind (no ids). */
  const releasePicture = async (c: CheckoutCase) => {
    const { rows } = await h.pool.query<{ kind: string; account: number; amount: string }>(
      `SELECT t.kind, a.kind AS account, sum(e.amount_minor)::text AS amount
         FROM ledger_transactions t JOIN ledger_entries e USING (tx_id) JOIN ledger_accounts a USING (account_id)
        WHERE a.operator_id = $1 AND a.project_id = $2
        GROUP BY 1, 2 ORDER BY 1, 2`,
      [c.operatorId, c.projectId],
    );
    return rows.map((r) => `${r.kind} ${K[r.account]} ${r.amount}`).sort();
  };
  type ReleaseStep = 'payment' | 'refund-failed' | 'released' | 'coupon' | 'coupon-rolled-back';
  const releaseStep = async (c: CheckoutCase, step: ReleaseStep, paymentRefundId: string) => {
    switch (step) {
      case 'payment':
      case 'coupon':
        return publishStep(h, c, step);
      case 'refund-failed':
        return h.applied(
          await h.publish(
            'payment',
            PaymentEvents.RefundFailed,
            moneyRefundFailed(c, paymentRefundId, c.money),
            {
              key: c.paymentId,
            },
          ),
        );
      case 'released':
        return h.applied(
          await h.publish('payment', PaymentEvents.CheckoutReleased, checkoutReleased(c, paymentRefundId), {
            key: c.checkoutId,
          }),
        );
      case 'coupon-rolled-back':
        // marketing rolls a released checkout's confirmed coupon back (not by a checkout refund)
        return h.applied(
          await h.publish('marketing', MarketingEvents.CouponReleased, couponRolledBack(c, false), {
            key: c.campaignId,
          }),
        );
    }
  };
  const holdsAfterRelease = (c: CheckoutCase) =>
    [
      [K.ACCOUNT_KIND_ESCROW, { operatorId: OP, projectId: c.projectId }],
      [K.ACCOUNT_KIND_MERCHANT_PAYABLE, { operatorId: OP, projectId: c.projectId, merchantId: c.merchantId }],
      [K.ACCOUNT_KIND_MARKETING_SUBSIDY, c.funder],
      [K.ACCOUNT_KIND_CHANNEL_CLEARING, { operatorId: OP, projectId: c.projectId, ownerRef: 'sandbox' }],
    ] as const;

  it("a checkout released after its payment succeeded whose money refund failed: escrow refunds the order, the coupon's posting is reversed, in every order of its events", async () => {
    // payment's events of one payment keep their order, and so do marketing's of one campaign
    const orders = permutations<ReleaseStep>([
      'payment',
      'refund-failed',
      'released',
      'coupon',
      'coupon-rolled-back',
    ])
      .filter((o) => o.indexOf('payment') < o.indexOf('refund-failed'))
      .filter((o) => o.indexOf('coupon') < o.indexOf('coupon-rolled-back'));
    expect(orders).toHaveLength(30);
    let first: string[] | undefined;
    for (const [i, order] of orders.entries()) {
      const c = checkoutCase(OP, `rel-${i}`, { discount: 1_000n, money: 6_000n });
      const paymentRefundId = randomUUID();
      for (const step of order) await releaseStep(c, step, paymentRefundId);
      // the order never completes; escrow asked the channel for the money back, once
      let { order: escrow } = await app.getEscrowOrder({ orderId: c.checkoutId });
      expect({ order, escrow }).toMatchObject({
        order,
        escrow: {
          orderId: c.paymentId,
          checkoutId: c.checkoutId,
          status: EscrowStatus.ESCROW_STATUS_HELD,
          paid: CNY(6_000n),
          partsPending: false,
        },
      });
      const early = await grpcError(app.completeOrder({ requestId: randomUUID(), orderId: c.paymentId }));
      expect([early.code, errorCode(early)]).toEqual([status.FAILED_PRECONDITION, 'CHECKOUT_RELEASED']);
      const { rows } = await h.pool.query<{ instruction_id: string; amount_minor: bigint }>(
        `SELECT i.instruction_id, i.amount_minor FROM escrow_refunds r
           JOIN escrow_channel_instructions i ON i.refund_id = r.refund_id AND i.kind = 'refund'
          WHERE r.order_id = $1 AND r.origin = 'checkout_release'`,
        [c.paymentId],
      );
      expect({ order, rows }).toEqual({
        order,
        rows: [{ instruction_id: expect.any(String), amount_minor: 6_000n }],
      });
      // payment carries the instruction out
      await h.applied(
        await h.publish(
          'payment',
          PaymentEvents.RefundSucceeded,
          { ...moneyRefunded(c, randomUUID(), 6_000n, 6_000n), instructionId: rows[0]!.instruction_id },
          { key: c.paymentId },
        ),
      );
      ({ order: escrow } = await app.getEscrowOrder({ orderId: c.checkoutId }));
      expect(escrow).toMatchObject({
        status: EscrowStatus.ESCROW_STATUS_REFUNDED,
        held: CNY(0n),
        refunded: CNY(6_000n),
      });
      // nothing of the checkout is left anywhere: escrow, the place, the funder, the channel
      for (const [kind, key] of holdsAfterRelease(c))
        expect({ order, kind: K[kind], balance: await balance(h.pool, kind, key) }).toEqual({
          order,
          kind: K[kind],
          balance: 0n,
        });
      const picture = await releasePicture(c);
      if (first) expect({ order, picture }).toEqual({ order, picture: first });
      else first = picture;
    }
    // the money in and back out through the channel; the coupon's discount posted and reversed
    expect(first).toEqual([
      'coupon_redeemed ACCOUNT_KIND_MARKETING_SUBSIDY 1000',
      'coupon_redeemed ACCOUNT_KIND_MERCHANT_PAYABLE -1000',
      'coupon_rolled_back ACCOUNT_KIND_MARKETING_SUBSIDY -1000',
      'coupon_rolled_back ACCOUNT_KIND_MERCHANT_PAYABLE 1000',
      'payment_escrowed ACCOUNT_KIND_CHANNEL_CLEARING 6000',
      'payment_escrowed ACCOUNT_KIND_ESCROW -6000',
      'refund ACCOUNT_KIND_CHANNEL_CLEARING -6000',
      'refund ACCOUNT_KIND_ESCROW 6000',
    ]);
  }, 600_000);

  it('a released checkout whose money payment refunded: the order is emptied by that refund, escrow asks nothing', async () => {
    const orders: ReleaseStep[][] = [
      ['payment', 'released'],
      ['released', 'payment'],
    ];
    for (const [i, order] of orders.entries()) {
      const c = checkoutCase(OP, `rel-ok-${i}`, { discount: 1_000n, money: 6_000n });
      const paymentRefundId = randomUUID();
      for (const step of order) await releaseStep(c, step, paymentRefundId);
      const { order: held } = await app.getEscrowOrder({ orderId: c.checkoutId });
      expect(held).toMatchObject({ status: EscrowStatus.ESCROW_STATUS_HELD, refundPending: CNY(0n) });
      const refused = await grpcError(app.completeOrder({ requestId: randomUUID(), orderId: c.checkoutId }));
      expect(errorCode(refused)).toBe('CHECKOUT_RELEASED');
      await h.applied(
        await h.publish(
          'payment',
          PaymentEvents.RefundSucceeded,
          moneyRefunded(c, paymentRefundId, 6_000n, 6_000n),
          {
            key: c.paymentId,
          },
        ),
      );
      const { order: done } = await app.getEscrowOrder({ orderId: c.checkoutId });
      expect(done).toMatchObject({ status: EscrowStatus.ESCROW_STATUS_REFUNDED, refunded: CNY(6_000n) });
      const { rows } = await h.pool.query(
        `SELECT 1 FROM escrow_refunds WHERE order_id = $1 AND origin <> 'payment'`,
        [c.paymentId],
      );
      expect(rows).toHaveLength(0);
    }
  }, 120_000);

  it('a coupon redeemed outside a checkout: the funder pays the place; a rollback by a payment refund reverses it, other releases post nothing', async () => {
    const c = checkoutCase(OP, 'counter', { discount: 800n });
    const redeemed = couponRedeemed(c);
    redeemed.redemption!.reference = `scan:${randomUUID()}`;
    const place = { operatorId: OP, projectId: 'counter', merchantId: c.merchantId };
    const subsidyBefore = await balance(h.pool, K.ACCOUNT_KIND_MARKETING_SUBSIDY, c.funder);
    await h.applied(
      await h.publish('marketing', MarketingEvents.CouponRedeemed, redeemed, { key: c.campaignId }),
    );
    expect(await balance(h.pool, K.ACCOUNT_KIND_MERCHANT_PAYABLE, place)).toBe(800n);
    expect(await balance(h.pool, K.ACCOUNT_KIND_MARKETING_SUBSIDY, c.funder)).toBe(subsidyBefore + 800n);
    // a held reservation's release and a checkout refund's rollback post nothing
    const cancelled = couponRolledBack(c, false);
    cancelled.redemption!.status = RedemptionStatus.REDEMPTION_STATUS_CANCELLED;
    await h.applied(
      await h.publish('marketing', MarketingEvents.CouponReleased, cancelled, { key: c.campaignId }),
    );
    await h.applied(
      await h.publish('marketing', MarketingEvents.CouponReleased, couponRolledBack(c, true), {
        key: c.campaignId,
      }),
    );
    expect(await balance(h.pool, K.ACCOUNT_KIND_MERCHANT_PAYABLE, place)).toBe(800n);
    // a payment's full refund rolled it back: reversed once, however often announced
    for (let i = 0; i < 2; i++)
      await h.applied(
        await h.publish('marketing', MarketingEvents.CouponReleased, couponRolledBack(c, false), {
          key: c.campaignId,
        }),
      );
    expect(await balance(h.pool, K.ACCOUNT_KIND_MERCHANT_PAYABLE, place)).toBe(0n);
    expect(await balance(h.pool, K.ACCOUNT_KIND_MARKETING_SUBSIDY, c.funder)).toBe(subsidyBefore);
  }, 120_000);
});
