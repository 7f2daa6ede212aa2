import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Counter, Registry } from 'prom-client';
import { fromTimestamp, Logger, LOGGER, METRICS_REGISTRY, PoolClient } from '@citybase/platform';
import type { Money } from '@citybase/contracts/citybase/common/v1/common';
import type {
  CheckoutCompleted,
  CheckoutRefunded,
  CheckoutReleased,
  RefundFailed,
} from '@citybase/contracts/citybase/payment/v1/events';
import {
  AccountKind,
  ChannelSplitStatus,
  EscrowStatus,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import type { AccountKey } from '../ledger/ledger.service';
import { SplitRulesService } from '../split-rules/split-rules.service';
import {
  checkoutOfPart,
  CheckoutRow,
  claimPart,
  insertCheckout,
  insertCheckoutRefund,
  insertFailedPaymentRefund,
  insertPart,
  insertRelease,
  lockCheckout,
  lockPart,
  lockRelease,
  markRefundApplied,
  PartSource,
  paymentRefundFailed,
  RedeemedPartRow,
  releaseOfOrder,
  setPartRolledBack,
  setReleaseRefund,
  waitingRefunds,
} from './escrow.checkouts.store';
import { autoConfirmAt } from './escrow.domain';
import { CheckoutPartName, partEscrowedPosting } from './escrow.postings';
import { EscrowRefunds } from './escrow.refunds';
import { EscrowOrderRow, insertOrder, lockOrder, updateOrder } from './escrow.store';
import { EscrowTransitions } from './escrow.transitions';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const PART_OF: Record<PartSource, CheckoutPartName> = { coupon: 'discount', points: 'points' };

/** A coupon or points redemption as its event announces it (CouponRedeemed, PointsRedeemed). */
export interface RedeemedPart {
  source: PartSource;
  /** The coupon redemption's or the points reservation's id. */
  sourceId: string;
  eventId: string;
  reference: string;
  /** Where it was redeemed: its value was credited to this place's merchant payable. */
  place: { operatorId: string; projectId: string; merchantId: string };
  /** The coupon's funder (coupons only). */
  funder?: { operatorId: string; projectId: string; merchantId: string };
  currency: string;
  amountMinor: bigint;
  /** The redemption's own posting (undefined for a value of 0). */
  txId: string | undefined;
}

export const payableOf = (
  p: Pick<RedeemedPartRow, 'currency' | 'place_operator_id' | 'place_project_id' | 'place_merchant_id'>,
): AccountKey => ({
  kind: AccountKind.ACCOUNT_KIND_MERCHANT_PAYABLE,
  currency: p.currency,
  operatorId: p.place_operator_id,
  projectId: p.place_project_id,
  merchantId: p.place_merchant_id,
});

export const funderSubsidyOf = (
  p: Pick<RedeemedPartRow, 'currency' | 'funder_operator_id' | 'funder_project_id' | 'funder_merchant_id'>,
): AccountKey => ({
  kind: AccountKind.ACCOUNT_KIND_MARKETING_SUBSIDY,
  currency: p.currency,
  operatorId: p.funder_operator_id,
  projectId: p.funder_project_id,
  merchantId: p.funder_merchant_id,
});

/**
 * The escrow order of a checkout (docs/settlement-checkout.md): payment's CheckoutCompleted names
 * the checkout's payment, coupon redemption and points reservation; PaymentSucceeded, CouponRedeemed
 * and PointsRedeemed bring the parts, in any order. Each fact is recorded when it arrives, then
 * `advance` does what has become possible, under the checkout's row lock and the order's: link the
 * order (the payment's, or a zero-money checkout's own), move each part that arrived from the place's
 * payable into the order (once: `checkout:<id>:escrow:<part>`), and once every part is in, apply
 * the checkout refunds waiting for them. Everything runs in the caller's inbox transaction.
 */
@Injectable()
export class EscrowCheckouts {
  private readonly anomalies: Counter<'kind'>;

  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    private readonly transitions: EscrowTransitions,
    private readonly refunds: EscrowRefunds,
    private readonly splitRules: SplitRulesService,
  ) {
    this.anomalies = new Counter({
      name: 'settlement_checkout_anomalies_total',
      help: "A checkout's part its order could no longer take (the order completed or was refunded before the part arrived)",
      labelNames: ['kind'],
      registers: [registry],
    });
  }

  // ---- the facts, as their events bring them ----

  /** CheckoutCompleted: the checkout, and a zero-money checkout's own order (paid 0; its parts make it). */
  async completed(client: PoolClient, e: CheckoutCompleted, eventId: string): Promise<void> {
    const checkoutId = e.checkoutId.toLowerCase();
    const parts = e.parts;
    const operatorId = e.tenancy?.operatorId ?? '';
    const projectId = e.tenancy?.projectId ?? '';
    const currency = parts?.total?.currency ?? '';
    const minor = (m: Money | undefined) => m?.amountMinor ?? 0n;
    const paymentId = e.paymentId.toLowerCase();
    if (
      !UUID.test(checkoutId) ||
      !operatorId ||
      !projectId ||
      !currency ||
      minor(parts?.total) <= 0n ||
      !e.occurredAt ||
      (paymentId !== '' && !UUID.test(paymentId))
    )
      throw new Error(
        `CheckoutCompleted ${e.checkoutId}: checkout_id (a UUID), tenancy, parts with a positive total, occurred_at and a UUID payment_id (or none) are required`,
      );
    const merchantId = e.merchantId || e.tenancy?.merchantId || '';
    const orderId = paymentId || checkoutId;
    await insertCheckout(client, {
      checkout_id: checkoutId,
      event_id: eventId,
      operator_id: operatorId,
      project_id: projectId,
      merchant_id: merchantId,
      currency,
      order_id: orderId,
      payment_id: paymentId,
      coupon_redemption_id: e.couponRedemptionId,
      points_reservation_id: e.pointsReservationId,
      total_minor: minor(parts?.total),
      discount_minor: minor(parts?.discount),
      points: parts?.points ?? 0n,
      points_value_minor: minor(parts?.pointsValue),
      money_minor: minor(parts?.money),
    });
    if (!paymentId) {
      // nothing paid at the channel: the order is the checkout's own, holding only its parts
      const terms = await this.splitRules.termsFor(client, { operatorId, projectId, merchantCategory: '' });
      const paidAt = fromTimestamp(e.occurredAt);
      await insertOrder(client, {
        order_id: checkoutId,
        operator_id: operatorId,
        project_id: projectId,
        merchant_id: merchantId,
        merchant_category: '',
        payer_ref: e.userId,
        channel_id: '',
        channel_transaction_id: '',
        currency,
        status: EscrowStatus.ESCROW_STATUS_HELD,
        paid_minor: 0n,
        held_minor: 0n,
        profit_sharing: false,
        channel_split_status: ChannelSplitStatus.CHANNEL_SPLIT_STATUS_NOT_NEEDED,
        paid_at: paidAt,
        auto_confirm_at: autoConfirmAt(paidAt, terms.autoConfirmHours),
        escrow_tx_id: null,
        payment_event_id: eventId,
        checkout_id: checkoutId,
        parts_pending: true,
      });
    }
    await this.advance(client, checkoutId);
  }

  /** CheckoutRefunded: its discount and points parts wait until the order has every part. */
  async refunded(client: PoolClient, e: CheckoutRefunded, eventId: string): Promise<void> {
    const checkoutId = e.checkoutId.toLowerCase();
    const currency = e.parts?.total?.currency ?? '';
    if (!UUID.test(checkoutId) || !e.refundId || !currency)
      throw new Error(
        `CheckoutRefunded ${e.checkoutId}: checkout_id (a UUID), refund_id and parts are required`,
      );
    await insertCheckoutRefund(client, {
      checkout_id: checkoutId,
      refund_id: e.refundId,
      event_id: eventId,
      currency,
      discount_minor: e.parts?.discount?.amountMinor ?? 0n,
      points: e.parts?.points ?? 0n,
      points_value_minor: e.parts?.pointsValue?.amountMinor ?? 0n,
      money_minor: e.parts?.money?.amountMinor ?? 0n,
      coupon_restored: e.couponRestored,
    });
    await this.advance(client, checkoutId);
  }

  /** A coupon or points redemption (checkout or not); a checkout that named it takes it. */
  async partRedeemed(client: PoolClient, p: RedeemedPart): Promise<void> {
    await insertPart(client, {
      source: p.source,
      source_id: p.sourceId,
      event_id: p.eventId,
      reference: p.reference,
      place_operator_id: p.place.operatorId,
      place_project_id: p.place.projectId,
      place_merchant_id: p.place.merchantId,
      funder_operator_id: p.funder?.operatorId ?? '',
      funder_project_id: p.funder?.projectId ?? '',
      funder_merchant_id: p.funder?.merchantId ?? '',
      currency: p.currency,
      amount_minor: p.amountMinor,
      tx_id: p.txId ?? null,
    });
    const checkoutId = await checkoutOfPart(client, p.source, p.sourceId);
    if (checkoutId) await this.advance(client, checkoutId);
  }

  /** A checkout's money part is in escrow (PaymentSucceeded naming it): its parts join the order. */
  async orderCreated(client: PoolClient, checkoutId: string): Promise<void> {
    await this.advance(client, checkoutId);
    await this.settleRelease(client, checkoutId);
  }

  /**
   * CheckoutReleased: the checkout kept none of its parts. Its order (the payment's, once
   * PaymentSucceeded arrived) never completes and its money goes back to the payer (settleRelease).
   * Its coupon and points parts are not the order's: a coupon redemption confirmed before the
   * release is rolled back by marketing (CouponReleased, not by a checkout refund), which reverses
   * its posting like any rollback.
   */
  async released(client: PoolClient, e: CheckoutReleased, eventId: string): Promise<void> {
    const checkoutId = e.checkoutId.toLowerCase();
    const paymentId = e.paymentId.toLowerCase();
    const operatorId = e.tenancy?.operatorId ?? '';
    if (!UUID.test(checkoutId) || !operatorId || (paymentId !== '' && !UUID.test(paymentId)))
      throw new Error(
        `CheckoutReleased ${e.checkoutId}: checkout_id (a UUID), tenancy and a UUID payment_id (or none) are required`,
      );
    await insertRelease(client, {
      checkout_id: checkoutId,
      event_id: eventId,
      operator_id: operatorId,
      project_id: e.tenancy?.projectId ?? '',
      order_id: paymentId || null,
      payment_refund_id: e.paymentRefundId,
      reason: e.reason,
      coupon_redemption_id: e.couponRedemptionId,
      points_reservation_id: e.pointsReservationId,
    });
    await this.settleRelease(client, checkoutId);
  }

  /**
   * RefundFailed of a refund asked of payment directly, for a checkout's order: recorded, and if
   * the checkout was released (payment's refund of its money failed at the channel) escrow refunds
   * the order instead.
   */
  async paymentRefundFailedFor(
    client: PoolClient,
    order: EscrowOrderRow,
    e: RefundFailed,
    eventId: string,
  ): Promise<void> {
    await insertFailedPaymentRefund(client, {
      paymentRefundId: e.refundId,
      orderId: order.order_id,
      eventId,
      reason: e.reason,
    });
    const checkoutId = await releaseOfOrder(client, order.order_id);
    if (checkoutId) await this.settleRelease(client, checkoutId);
  }

  /** A coupon redemption outside a checkout rolled back: its reversing posting. */
  partRolledBack(client: PoolClient, source: PartSource, sourceId: string, txId: string): Promise<void> {
    return setPartRolledBack(client, { source, sourceId, txId });
  }

  /** The recorded part of a redemption, if any (for refunds and rollbacks). */
  part(client: PoolClient, source: PartSource, sourceId: string): Promise<RedeemedPartRow | undefined> {
    return lockPart(client, source, sourceId);
  }

  // ---- what has become possible ----

  /**
   * A released checkout's order, once both are known (under the release's row lock, then the
   * order's): marked released (it never completes, the auto-confirm job skips it); then, while it
   * still holds money, that money goes back to the payer. Payment refunds it itself
   * (`payment_refund_id`; its RefundSucceeded empties the order as any refund asked of payment);
   * only when that refund failed at the channel, or payment refunds nothing, escrow refunds what
   * the order holds through the channel (origin `checkout_release`, once: its id on the release).
   */
  private async settleRelease(client: PoolClient, checkoutId: string): Promise<void> {
    const release = await lockRelease(client, checkoutId);
    if (!release?.order_id) return;
    let order = await lockOrder(client, release.order_id);
    if (!order) return; // the payment's PaymentSucceeded has not arrived yet
    if (order.checkout_id !== release.checkout_id)
      throw new Error(
        `released checkout ${checkoutId}: its order ${order.order_id} is checkout ${order.checkout_id ?? '(none)'}'s`,
      );
    if (!order.checkout_released)
      order = await updateOrder(client, order.order_id, { checkout_released: true, parts_pending: false });
    if (release.escrow_refund_id !== null) return;
    const open =
      order.status === EscrowStatus.ESCROW_STATUS_HELD ||
      order.status === EscrowStatus.ESCROW_STATUS_DISPUTED;
    const left = order.held_minor - order.refund_pending_minor;
    if (!open || left <= 0n) return;
    if (release.payment_refund_id !== '' && !(await paymentRefundFailed(client, release.payment_refund_id)))
      return; // payment's refund of the money is on its way
    if (order.resolution_refund_id !== null) return; // a dispute's refund is giving it back
    const refundId = randomUUID();
    await this.refunds.startRefund(client, order, {
      refundId,
      origin: 'checkout_release',
      amountMinor: left,
      destination: 'original',
      reason: `checkout ${checkoutId} released (${release.reason || 'no reason'}); payment did not refund it`,
      requestedBy: 'settlement',
    });
    await setReleaseRefund(client, checkoutId, refundId);
    this.logger.warn(
      { checkout_id: checkoutId, order_id: order.order_id, amount_minor: left.toString() },
      "a released checkout's money was not refunded by payment: escrow refunds it through the channel",
    );
  }

  private async advance(client: PoolClient, checkoutId: string): Promise<void> {
    const checkout = await lockCheckout(client, checkoutId);
    if (!checkout) return;
    let order = await lockOrder(client, checkout.order_id);
    if (!order) return; // the payment's PaymentSucceeded has not arrived yet
    // the order is the checkout's from its creation (PaymentSucceeded names the checkout, or
    // CheckoutCompleted made a zero-money checkout's own order): one way to escrow the money part
    if (
      order.checkout_id !== checkout.checkout_id ||
      order.currency !== checkout.currency ||
      order.operator_id !== checkout.operator_id
    )
      throw new Error(
        `checkout ${checkout.checkout_id}: its order ${order.order_id} is checkout ${order.checkout_id ?? '(none)'}'s in ${order.operator_id}/${order.currency}, not ${checkout.operator_id}/${checkout.currency}: a PaymentSucceeded without checkout_id?`,
      );
    let pending = false;
    for (const [source, sourceId] of [
      ['coupon', checkout.coupon_redemption_id],
      ['points', checkout.points_reservation_id],
    ] as const) {
      // a part the checkout did not use is not waited for
      if (!sourceId || (source === 'points' && checkout.points === 0n)) continue;
      const part = await lockPart(client, source, sourceId);
      if (!part) {
        pending = true;
        continue;
      }
      if (part.checkout_id === null) order = await this.take(client, checkout, order, part);
    }
    if (order.parts_pending !== pending)
      order = await updateOrder(client, order.order_id, { parts_pending: pending });
    if (pending) return;
    for (const r of await waitingRefunds(client, checkout.checkout_id)) {
      const coupon = checkout.coupon_redemption_id
        ? await lockPart(client, 'coupon', checkout.coupon_redemption_id)
        : undefined;
      const points = checkout.points_reservation_id
        ? await lockPart(client, 'points', checkout.points_reservation_id)
        : undefined;
      const escrowRefundId = await this.refunds.applyCheckoutRefund(client, order, {
        checkoutId: checkout.checkout_id,
        refundId: r.refund_id,
        discountMinor: r.discount_minor,
        funder: coupon ? funderSubsidyOf(coupon) : undefined,
        pointsValueMinor: r.points_value_minor,
        pointsPlace: points ? payableOf(points) : undefined,
      });
      await markRefundApplied(client, {
        checkoutId: checkout.checkout_id,
        refundId: r.refund_id,
        escrowRefundId: escrowRefundId ?? null,
      });
      order = (await lockOrder(client, order.order_id)) ?? order;
    }
  }

  /**
   * The part joins the order: moved from the place's payable into escrow, the order's paid and
   * held grow by it. An order that already completed or was refunded cannot take it any more: the
   * part stays with the place's payable (the merchant is owed it unsplit), counted and logged.
   */
  private async take(
    client: PoolClient,
    checkout: CheckoutRow,
    order: EscrowOrderRow,
    part: RedeemedPartRow,
  ): Promise<EscrowOrderRow> {
    const name = PART_OF[part.source];
    const open =
      order.status === EscrowStatus.ESCROW_STATUS_HELD ||
      order.status === EscrowStatus.ESCROW_STATUS_DISPUTED;
    if (part.amount_minor === 0n || !open || part.currency !== order.currency) {
      if (part.amount_minor > 0n) {
        this.anomalies.inc({ kind: open ? 'currency' : 'order_closed' });
        this.logger.error(
          {
            checkout_id: checkout.checkout_id,
            order_id: order.order_id,
            part: name,
            amount_minor: part.amount_minor.toString(),
            order_status: order.status,
            alert: 'CHECKOUT_PART_NOT_ESCROWED',
          },
          "a checkout's part arrived after its order could take it: it stays with the place's merchant payable",
        );
      }
      await claimPart(client, {
        source: part.source,
        sourceId: part.source_id,
        checkoutId: checkout.checkout_id,
        claimTxId: null,
      });
      return order;
    }
    const tx = await this.transitions.post(
      client,
      order,
      partEscrowedPosting(checkout.checkout_id, name, payableOf(part), part.amount_minor),
    );
    await claimPart(client, {
      source: part.source,
      sourceId: part.source_id,
      checkoutId: checkout.checkout_id,
      claimTxId: tx.txId,
    });
    return updateOrder(client, order.order_id, {
      paid_minor: order.paid_minor + part.amount_minor,
      held_minor: order.held_minor + part.amount_minor,
      ...(name === 'discount'
        ? { discount_minor: order.discount_minor + part.amount_minor }
        : { points_minor: order.points_minor + part.amount_minor }),
    });
  }
}
