import { randomUUID } from 'crypto';
import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import {
  DomainError,
  InfrastructureError,
  Logger,
  LOGGER,
  Outbox,
  OUTBOX,
  OutboundError,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { PaymentStatus, RefundStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import { PaymentEvents } from '@citybase/contracts/events';
import type { PaymentConfig } from '../config';
import { isFinal } from '../payments/payments.domain';
import { PaymentsService } from '../payments/payments.service';
import { findById as findPayment, type PaymentRow } from '../payments/payments.store';
import { PaymentTransitions } from '../payments/payments.transitions';
import { RefundsService } from '../refunds/refunds.service';
import type { RefundRow } from '../refunds/refunds.store';
import { moneyDue } from './checkouts.domain';
import {
  CheckoutRow,
  expirePaymentNow,
  findCheckout,
  findCheckoutRefundOfPaymentRefund,
  finishCheckoutRefund,
  markPaymentOutcome,
  patchCheckout,
  releaseLease,
  retryLater,
  SagaPatch,
  takeLease,
} from './checkouts.store';
import { CheckoutPorts } from './checkouts.ports';
import { decide, nextStep, reached, ReleaseReasons, SagaNews, Step } from './checkouts.transitions';
import { emitCheckoutRefunded } from './checkouts.events';

/** Steps one drive() runs at most (a saga has at most 7). */
const MAX_STEPS = 10;
const MAX_BACKOFF_MS = 60_000;

/** Points in a saga where CITYBASE_CRASH_AT makes the process die at once (chaos tests only). */
export type CrashPoint =
  | 'after_coupon_reserved'
  | 'after_points_reserved'
  | 'after_channel_order'
  | 'after_payment_succeeded'
  | 'after_points_confirmed'
  | 'after_coupon_confirmed';

/** What one drive() ended with. */
export interface DriveResult {
  checkout: CheckoutRow;
  /** The callee did not answer (retry later with the same ids): UNAVAILABLE to a request. */
  unavailable?: InfrastructureError;
}

/**
 * Carries out the checkout saga (checkouts.transitions.ts) step by step: each step's call is made
 * outside any transaction with a request id derived from the checkout id and the step, and its
 * outcome is persisted (compare-and-set on the row's version) before the next step. One driver at
 * a time holds a saga (a lease on the row); the request path drives its own checkout, the
 * recovery job (checkouts.job.ts) whatever is due: steps to retry, payments' outcomes, expiries.
 */
@Injectable()
export class CheckoutSaga implements OnModuleInit {
  private readonly pointValues = new Map<string, { value: bigint; currency: string; at: number }>();

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: PaymentConfig,
    private readonly ports: CheckoutPorts,
    private readonly payments: PaymentsService,
    private readonly transitions: PaymentTransitions,
    private readonly refunds: RefundsService,
  ) {}

  onModuleInit(): void {
    // a checkout's payment reaching a final status makes the saga due in the same commit
    this.transitions.onFinalStatus(async (client, payment) => {
      const checkoutId = await markPaymentOutcome(client, payment.payment_id);
      if (checkoutId) setImmediate(() => void this.driveQuietly(checkoutId));
    });
    // a checkout refund's money part ending ends the checkout refund in the same commit
    this.refunds.onFinalStatus((client, refund) => this.onPaymentRefundFinal(client, refund));
  }

  /** Drives a saga as far as it goes now, if no other driver holds it. */
  async drive(checkoutId: string, redriven = false): Promise<DriveResult> {
    const leased = await takeLease(this.pool, checkoutId, this.config.PAYMENT_CHECKOUT_LEASE_MS);
    if (!leased) {
      const row = await findCheckout(this.pool, checkoutId);
      if (!row) throw new Error(`checkout ${checkoutId} does not exist`);
      return { checkout: row };
    }
    return this.driveLeased(leased, redriven);
  }

  /**
   * Drives a saga whose lease the caller holds (`leased`: the row as the lease was taken, by the
   * request path or the job); releases the lease. `redriven`: this drive is itself the one a
   * previous driver started for news that came during its lease.
   */
  async driveLeased(leased: CheckoutRow, redriven = false): Promise<DriveResult> {
    const checkoutId = leased.checkout_id;
    let row = leased;
    try {
      for (let i = 0; i < MAX_STEPS; i++) {
        let after: CheckoutRow | undefined;
        try {
          after = await this.step(row);
        } catch (err) {
          if (err instanceof InfrastructureError) {
            const delay = Math.min(
              MAX_BACKOFF_MS,
              this.config.PAYMENT_CHECKOUT_INTERVAL_MS * 2 ** Math.min(row.attempts, 10),
            );
            await retryLater(this.pool, checkoutId, delay, err.message);
            this.logger.warn(
              { checkout_id: checkoutId, step: row.step, err: err.message },
              'checkout step got no answer; retried later',
            );
            return { checkout: (await findCheckout(this.pool, checkoutId)) ?? row, unavailable: err };
          }
          throw err;
        }
        if (!after) {
          // moved by another path meanwhile (a cancel, the payment's outcome): look again
          after = await findCheckout(this.pool, checkoutId);
          if (!after) throw new Error(`checkout ${checkoutId} vanished`);
          if (after.version === row.version) return { checkout: after };
        } else if (after.step === row.step && after.version === row.version) {
          return { checkout: after }; // nothing to do now (waiting for the payment, or done)
        }
        row = after;
        if (row.step === 'DONE') return { checkout: row };
      }
      return { checkout: row };
    } finally {
      const due = await releaseLease(this.pool, checkoutId).catch(() => false);
      // news came while this driver held the saga (its own drive found the lease taken): drive on
      // now instead of at the job's next pass; once, so a saga with nothing to do cannot loop here
      if (due && !redriven) setImmediate(() => void this.driveQuietly(checkoutId, true));
    }
  }

  private async driveQuietly(checkoutId: string, redriven = false): Promise<void> {
    try {
      await this.drive(checkoutId, redriven);
    } catch (err) {
      this.logger.error({ err, checkout_id: checkoutId }, 'checkout saga step failed');
    }
  }

  /**
   * One step at the row's current state. Answers the row after (the same row when there is
   * nothing to do now), or undefined when the compare-and-set lost to another path.
   */
  private async step(row: CheckoutRow): Promise<CheckoutRow | undefined> {
    const expired = row.expires_at.getTime() < Date.now();
    switch (row.step) {
      case 'CLAIM_COUPON':
      case 'RESERVE_COUPON':
      case 'RESERVE_POINTS':
        if (expired) return this.turn(row, { kind: 'expired' });
        return this.forward(row);
      case 'OPEN_PAYMENT':
        return this.openPayment(row, expired);
      case 'AWAIT_PAYMENT':
        return this.awaitPayment(row);
      case 'CONFIRM':
        return this.confirm(row);
      case 'RELEASE':
        return this.release(row);
      case 'DONE':
        return row;
    }
  }

  /** The forward steps before the payment: claim, reserve the coupon, reserve the points. */
  private async forward(row: CheckoutRow): Promise<CheckoutRow | undefined> {
    const id = row.checkout_id;
    const tenancy = { operatorId: row.operator_id, projectId: row.project_id, merchantId: row.merchant_id };
    try {
      switch (row.step) {
        case 'CLAIM_COUPON': {
          const res = await this.ports.marketing.claimCoupon({
            requestId: `${id}:claim-coupon`,
            // the campaign's operator (a project's campaign is found by its code as well)
            tenancy: { operatorId: row.operator_id, projectId: '', merchantId: '' },
            campaignId: '',
            code: row.coupon_code,
            userId: row.user_id,
            householdId: '',
          });
          const couponId = res.coupon?.couponId ?? '';
          return this.patch(row, { coupon_id: couponId, step: nextStep(view(row)) });
        }
        case 'RESERVE_COUPON': {
          const res = await this.ports.marketing.reserveCoupon({
            requestId: `${id}:reserve-coupon`,
            userId: row.user_id,
            couponId: row.coupon_id,
            basket: {
              tenancy,
              scenario: row.scenario,
              total: { currency: row.currency, amountMinor: row.total_minor },
              itemCodes: row.item_codes,
            },
            reference: id,
            ttlSeconds: row.reservation_ttl_seconds,
          });
          const r = res.redemption;
          const discount = r?.discount?.amountMinor ?? 0n;
          const after = await this.patch(row, {
            coupon_redemption_id: r?.redemptionId ?? '',
            discount_minor: discount > row.total_minor ? row.total_minor : discount,
            step: nextStep(view(row)),
          });
          if (after) this.crashAt('after_coupon_reserved');
          return after;
        }
        case 'RESERVE_POINTS': {
          const pointValue = await this.pointValue(row.operator_id, row.currency);
          const due = moneyDue(row.total_minor, row.discount_minor, row.points, pointValue);
          if (!due) {
            return this.turn(
              row,
              { kind: 'refused', reason: ReleaseReasons.pointsExceedDue },
              {
                refusal_kind: 'invalid_argument',
                refusal_code: 'CHECKOUT_POINTS_EXCEED_DUE',
                refusal_field: 'points',
                refusal_message: `points: value (${row.points} x ${pointValue}) must not exceed total minus discount (${row.total_minor - row.discount_minor})`,
              },
            );
          }
          const res = await this.ports.points.reservePoints({
            requestId: `${id}:reserve-points`,
            tenancy,
            holderId: row.points_holder_id,
            points: row.points,
            reference: id,
            ttlSeconds: row.reservation_ttl_seconds,
            redeemedAt: tenancy,
          });
          const after = await this.patch(row, {
            points_reservation_id: res.reservation?.reservationId ?? '',
            point_value_minor: pointValue,
            points_value_minor: due.pointsValueMinor,
            money_minor: due.moneyMinor,
            step: nextStep(view(row)),
          });
          if (after) this.crashAt('after_points_reserved');
          return after;
        }
        case 'OPEN_PAYMENT':
        case 'AWAIT_PAYMENT':
        case 'CONFIRM':
        case 'RELEASE':
        case 'DONE':
          return row;
      }
    } catch (err) {
      // the callee's refusal (OutboundError) or a rule of ours (the programme's point value)
      if (err instanceof DomainError) {
        const reason =
          row.step === 'RESERVE_POINTS' ? ReleaseReasons.pointsRefused : ReleaseReasons.couponRefused;
        return this.turn(row, { kind: 'refused', reason }, refusalOf(err));
      }
      throw err;
    }
  }

  /**
   * The money part: without points the money is what the coupon leaves; nothing to pay goes to
   * CONFIRM at once; else the payment is inserted (with the checkout's payment_id, one commit) and
   * opened at the routed channel through payments' own path.
   */
  private async openPayment(row: CheckoutRow, expired: boolean): Promise<CheckoutRow | undefined> {
    let inserted: PaymentRow | undefined;
    if (row.payment_id === null) {
      if (expired) return this.turn(row, { kind: 'expired' });
      const money = row.points > 0n ? row.money_minor : row.total_minor - row.discount_minor;
      if (money <= 0n) return this.patch(row, { money_minor: 0n, step: 'CONFIRM', dueInMs: 0 });
      const paymentId = randomUUID();
      const remaining = Math.max(1, Math.ceil((row.expires_at.getTime() - Date.now()) / 1000));
      const after = await withTransaction(this.pool, async (client) => {
        const patched = await patchCheckout(client, row.checkout_id, row.version, {
          money_minor: money,
          payment_id: paymentId,
          dueInMs: this.config.PAYMENT_CHECKOUT_LEASE_MS,
        });
        if (!patched) return undefined;
        inserted = await this.payments.insertIntent(
          client,
          paymentId,
          {
            requestId: `${row.checkout_id}:payment`,
            operatorId: row.operator_id,
            projectId: row.project_id,
            merchantId: row.merchant_id,
            scenario: row.scenario,
            currency: row.currency,
            amountMinor: money,
            payerRef: row.payer_ref,
            description: row.description || `checkout ${row.checkout_id}`,
            expiresInSeconds: remaining,
            profitSharing: row.profit_sharing,
            checkoutId: row.checkout_id,
          },
          async (type, payload, opts) => {
            await this.outbox.enqueue(client, type, payload, opts);
          },
        );
        return patched;
      });
      if (!after) return undefined;
      row = after;
    }
    const payment = await this.payments.openAtChannel(row.payment_id as string, inserted);
    this.crashAt('after_channel_order');
    const news = paymentNews(payment);
    if (news) return this.turn(row, news);
    // open at the channel: wait for its outcome (the payment's transition makes the saga due)
    return this.patch(row, { step: 'AWAIT_PAYMENT', status: 'AWAITING_PAYMENT', dueInMs: null });
  }

  private async awaitPayment(row: CheckoutRow): Promise<CheckoutRow | undefined> {
    const payment = await findPayment(this.pool, row.payment_id as string);
    if (!payment) throw new Error(`payment ${row.payment_id} of checkout ${row.checkout_id} is missing`);
    const news = paymentNews(payment);
    if (news) return this.turn(row, news);
    if (row.expires_at.getTime() + this.config.PAYMENT_RECONCILE_INTERVAL_MS < Date.now()) {
      // past its expiry and still open: the channel-poll job closes it at the channel now
      await withTransaction(this.pool, (client) => expirePaymentNow(client, payment.payment_id));
    }
    // not due any more: the payment's outcome makes it due (markPaymentOutcome). A row that is
    // not due is left as it is: rewriting it would move its version and drive it round again
    if (row.next_attempt_at === null) return row;
    return this.patch(row, { dueInMs: null });
  }

  /**
   * Payment succeeded (or nothing to pay): both reservations confirmed, then COMPLETED. The coupon
   * first: it was reserved first, so it runs out first, and its refusal leaves nothing confirmed.
   * A callee without an answer is retried (backoff); a refusal (the reservation ran out or was
   * cancelled) turns the saga to RELEASE, which refunds the money (CONFIRM_REFUSED).
   */
  private async confirm(row: CheckoutRow): Promise<CheckoutRow | undefined> {
    const id = row.checkout_id;
    const tenancy = { operatorId: row.operator_id, projectId: row.project_id, merchantId: row.merchant_id };
    try {
      if (row.coupon_redemption_id !== '' && !row.coupon_confirmed) {
        await this.ports.marketing.confirmCouponReservation({
          requestId: `${id}:confirm-coupon`,
          tenancy,
          redemptionId: row.coupon_redemption_id,
        });
        const after = await this.patch(row, { coupon_confirmed: true });
        if (!after) return undefined;
        row = after;
        this.crashAt('after_coupon_confirmed');
      }
      if (row.points_reservation_id !== '' && !row.points_confirmed) {
        await this.ports.points.confirmReservation({
          requestId: `${id}:confirm-points`,
          tenancy,
          reservationId: row.points_reservation_id,
        });
        const after = await this.patch(row, { points_confirmed: true });
        if (!after) return undefined;
        row = after;
        this.crashAt('after_points_confirmed');
      }
    } catch (err) {
      if (err instanceof OutboundError && (err.kind === 'failed_precondition' || err.kind === 'not_found')) {
        // the reservation ended (expired, cancelled) or is unknown: it can never be confirmed
        this.logger.warn(
          { checkout_id: id, code: err.code, err: err.message },
          'a reservation of a paid checkout was refused confirmation: released, the money refunded',
        );
        return this.turn(row, { kind: 'confirm_refused' });
      }
      if (err instanceof OutboundError) {
        // our own call is refused (permission, credentials, a request it finds invalid): a
        // misconfiguration an operator fixes, not an answer about the reservation; retried meanwhile
        this.logger.error(
          { checkout_id: id, code: err.code, err: err.message, alert: 'CHECKOUT_CONFIRM_REFUSED' },
          'a confirmation of a paid checkout was refused for a reason other than the reservation',
        );
        throw new InfrastructureError('unavailable', `confirm refused: ${err.message}`, err);
      }
      throw err;
    }
    return this.finish(row, 'COMPLETED');
  }

  /**
   * No part kept: whatever may have been reserved is cancelled, then RELEASED. Released from
   * CONFIRM (a reservation refused confirmation after the payment succeeded), what was not
   * confirmed is cancelled and the money is refunded through the payments room's refund path.
   */
  private async release(row: CheckoutRow): Promise<CheckoutRow | undefined> {
    const id = row.checkout_id;
    const from = (row.release_from || 'CLAIM_COUPON') as Step;
    const tenancy = { operatorId: row.operator_id, projectId: row.project_id, merchantId: row.merchant_id };
    if (
      !row.coupon_cancelled &&
      !row.coupon_confirmed &&
      row.coupon_id !== '' &&
      reached(from, 'RESERVE_COUPON')
    ) {
      let redemptionId = row.coupon_redemption_id;
      if (redemptionId === '') redemptionId = await this.learn(() => this.reserveCouponAgain(row));
      if (redemptionId !== '') {
        await this.tolerateRefusal(() =>
          this.ports.marketing.cancelCouponReservation({
            requestId: `${id}:cancel-coupon`,
            tenancy,
            redemptionId,
          }),
        );
      }
      const after = await this.patch(row, { coupon_cancelled: true, coupon_redemption_id: redemptionId });
      if (!after) return undefined;
      row = after;
    }
    if (
      !row.points_cancelled &&
      !row.points_confirmed &&
      row.points > 0n &&
      reached(from, 'RESERVE_POINTS')
    ) {
      let reservationId = row.points_reservation_id;
      if (reservationId === '') reservationId = await this.learn(() => this.reservePointsAgain(row));
      if (reservationId !== '') {
        await this.tolerateRefusal(() =>
          this.ports.points.cancelReservation({ requestId: `${id}:cancel-points`, tenancy, reservationId }),
        );
      }
      const after = await this.patch(row, { points_cancelled: true, points_reservation_id: reservationId });
      if (!after) return undefined;
      row = after;
    }
    if (row.coupon_confirmed) {
      // the coupon was redeemed, then the points refused (they ran out although reserved after the
      // coupon, or an operator cancelled them): marketing rolls the redemption back when it
      // consumes this checkout's CheckoutReleased (docs/payment-checkout.md)
      this.logger.warn(
        { checkout_id: id, coupon_redemption_id: row.coupon_redemption_id },
        "a released checkout's coupon was confirmed already: marketing gives it back on CheckoutReleased",
      );
    }
    if (row.points_confirmed) {
      // the points are confirmed last, so no refusal can follow them: a bug if it happens
      this.logger.error(
        { checkout_id: id, alert: 'CHECKOUT_PART_KEPT_ON_RELEASE' },
        'a released checkout had its points confirmed already: an operator must give them back',
      );
    }
    if (from === 'CONFIRM' && row.payment_id !== null && row.money_minor > 0n) {
      const after = await this.refundMoney(row);
      if (!after) return undefined;
      row = after;
    }
    return this.finish(row, 'RELEASED');
  }

  /**
   * The money of a checkout released after its payment succeeded goes back in full through the
   * payments room's refund path (RefundPayment's rules under the payment's row lock), accepted in
   * the commit that records it on the checkout; started at the channel after commit. Its request
   * id is `<checkout>:refund-on-confirm-failure`, and a retry finds it on the row and starts it
   * again (a started refund is left to the channel-poll job).
   */
  private async refundMoney(row: CheckoutRow): Promise<CheckoutRow | undefined> {
    let after: CheckoutRow | undefined = row;
    if (row.money_refund_id === null) {
      const refundId = randomUUID();
      after = await withTransaction(this.pool, async (client) => {
        const patched = await patchCheckout(client, row.checkout_id, row.version, {
          money_refund_id: refundId,
        });
        if (!patched) return undefined;
        await this.refunds.refundForCheckout(client, refundId, {
          requestId: `${row.checkout_id}:refund-on-confirm-failure`,
          paymentId: row.payment_id as string,
          currency: row.currency,
          amountMinor: row.money_minor,
          reason: ReleaseReasons.confirmRefused,
        });
        return patched;
      });
      if (!after) return undefined;
    }
    await this.refunds.startRefund(after.money_refund_id as string);
    return after;
  }

  /**
   * A reservation whose call may have reached the callee without its answer being persisted: the
   * same request again (same request id) answers it; a refusal means nothing is held.
   */
  private async learn(call: () => Promise<string>): Promise<string> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof OutboundError) return '';
      throw err;
    }
  }

  private async reserveCouponAgain(row: CheckoutRow): Promise<string> {
    const res = await this.ports.marketing.reserveCoupon({
      requestId: `${row.checkout_id}:reserve-coupon`,
      userId: row.user_id,
      couponId: row.coupon_id,
      basket: {
        tenancy: { operatorId: row.operator_id, projectId: row.project_id, merchantId: row.merchant_id },
        scenario: row.scenario,
        total: { currency: row.currency, amountMinor: row.total_minor },
        itemCodes: row.item_codes,
      },
      reference: row.checkout_id,
      ttlSeconds: row.reservation_ttl_seconds,
    });
    return res.redemption?.redemptionId ?? '';
  }

  private async reservePointsAgain(row: CheckoutRow): Promise<string> {
    const tenancy = { operatorId: row.operator_id, projectId: row.project_id, merchantId: row.merchant_id };
    const res = await this.ports.points.reservePoints({
      requestId: `${row.checkout_id}:reserve-points`,
      tenancy,
      holderId: row.points_holder_id,
      points: row.points,
      reference: row.checkout_id,
      ttlSeconds: row.reservation_ttl_seconds,
      redeemedAt: tenancy,
    });
    return res.reservation?.reservationId ?? '';
  }

  /** A cancel the callee refuses (already ended: expired or cancelled) leaves nothing held. */
  private async tolerateRefusal(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      if (!(err instanceof OutboundError)) throw err;
      this.logger.info({ code: err.code, err: err.message }, 'cancel of a reservation refused: nothing held');
    }
  }

  /** News applied to the saga (checkouts.transitions.ts decide). */
  private async turn(
    row: CheckoutRow,
    news: SagaNews,
    extra: SagaPatch = {},
  ): Promise<CheckoutRow | undefined> {
    const d = decide(row.step, news);
    switch (d.kind) {
      case 'none':
        this.logger.warn(
          { checkout_id: row.checkout_id, step: row.step, news: news.kind, why: d.why },
          'checkout news ignored',
        );
        return this.patch(row, { dueInMs: null });
      case 'close_payment':
        if (row.payment_id)
          await withTransaction(this.pool, (client) => expirePaymentNow(client, row.payment_id as string));
        return this.patch(row, {
          release_reason: d.releaseReason,
          step: 'AWAIT_PAYMENT',
          status: 'AWAITING_PAYMENT',
          dueInMs: null,
        });
      case 'go':
        if (d.step === 'CONFIRM') {
          const after = await this.patch(row, {
            step: 'CONFIRM',
            release_reason: '',
            dueInMs: this.config.PAYMENT_CHECKOUT_LEASE_MS,
          });
          if (after && news.kind === 'payment_succeeded') this.crashAt('after_payment_succeeded');
          return after;
        }
        return this.patch(row, {
          ...extra,
          step: d.step,
          // a cancel asked while the payment was open keeps its reason
          release_reason:
            row.release_reason !== '' && news.kind === 'payment_failed'
              ? row.release_reason
              : d.releaseReason,
          release_from: row.step,
          dueInMs: this.config.PAYMENT_CHECKOUT_LEASE_MS,
        });
    }
  }

  /** The last step: COMPLETED or RELEASED and its event, in one commit. */
  private finish(row: CheckoutRow, status: 'COMPLETED' | 'RELEASED'): Promise<CheckoutRow | undefined> {
    return withTransaction(this.pool, async (client) => {
      const after = await patchCheckout(client, row.checkout_id, row.version, {
        step: 'DONE',
        status,
        completed: status === 'COMPLETED',
        dueInMs: null,
      });
      if (!after) return undefined;
      await this.emitOutcome(client, after);
      this.logger.info(
        { checkout_id: after.checkout_id, status, reason: after.release_reason || undefined },
        'checkout finished',
      );
      return after;
    });
  }

  private async emitOutcome(client: PoolClient, c: CheckoutRow): Promise<void> {
    const tenancy = { operatorId: c.operator_id, projectId: c.project_id, merchantId: c.merchant_id };
    const base = {
      checkoutId: c.checkout_id,
      tenancy,
      merchantId: c.merchant_id,
      scenario: c.scenario,
      userId: c.user_id,
      parts: partsOf(c),
      paymentId: c.payment_id ?? '',
      couponRedemptionId: c.coupon_redemption_id,
      pointsReservationId: c.points_reservation_id,
      pointsHolderId: c.points_holder_id,
      occurredAt: toTimestamp(c.updated_at),
      couponId: c.coupon_id,
    };
    const opts = { key: c.checkout_id, subject: c.checkout_id, tenancy };
    if (c.status === 'COMPLETED') {
      await this.outbox.enqueue(
        client,
        PaymentEvents.CheckoutCompleted,
        { ...base, profitSharing: c.profit_sharing },
        opts,
      );
    } else {
      await this.outbox.enqueue(
        client,
        PaymentEvents.CheckoutReleased,
        { ...base, reason: c.release_reason, paymentRefundId: c.money_refund_id ?? '' },
        opts,
      );
    }
  }

  private async patch(row: CheckoutRow, patch: SagaPatch): Promise<CheckoutRow | undefined> {
    const status = patch.status ?? (patch.step ? statusForStep(patch.step) : undefined);
    return patchCheckout(this.pool, row.checkout_id, row.version, { ...patch, ...(status && { status }) });
  }

  /** The programme's point value (points' GetProgramme), cached PAYMENT_POINT_VALUE_CACHE_MS. */
  async pointValue(operatorId: string, currency: string): Promise<bigint> {
    const cached = this.pointValues.get(operatorId);
    if (cached && Date.now() - cached.at < this.config.PAYMENT_POINT_VALUE_CACHE_MS) return cached.value;
    const res = await this.ports.points.getProgramme({
      tenancy: { operatorId, projectId: '', merchantId: '' },
    });
    const pv = res.programme?.pointValue;
    if (!pv || pv.amountMinor <= 0n) {
      throw DomainError.precondition(
        'POINTS_PROGRAMME_HAS_NO_VALUE',
        `points: the programme of ${operatorId} has no point value`,
      );
    }
    if (pv.currency !== currency) {
      throw DomainError.precondition(
        'POINTS_CURRENCY_MISMATCH',
        `points: the programme's point value is in ${pv.currency}`,
      );
    }
    this.pointValues.set(operatorId, { value: pv.amountMinor, currency: pv.currency, at: Date.now() });
    return pv.amountMinor;
  }

  /** Chaos tests only: dies at once (like SIGKILL) when CITYBASE_CRASH_AT names this point. */
  private crashAt(point: CrashPoint): void {
    if (this.config.CITYBASE_CRASH_AT !== '' && this.config.CITYBASE_CRASH_AT === point) {
      this.logger.warn({ point }, 'CITYBASE_CRASH_AT: dying here');
      process.kill(process.pid, 'SIGKILL');
    }
  }

  /** A payment refund ended: the checkout refund whose money part it is ends with it. */
  private async onPaymentRefundFinal(client: PoolClient, refund: RefundRow): Promise<void> {
    const cr = await findCheckoutRefundOfPaymentRefund(client, refund.refund_id);
    if (!cr) return;
    const succeeded = refund.status === RefundStatus.REFUND_STATUS_SUCCEEDED;
    const done = await finishCheckoutRefund(client, cr, succeeded, refund.failure_reason);
    if (!done) return;
    if (succeeded) await emitCheckoutRefunded(this.outbox, client, done.checkout, done.refund);
    this.logger.info(
      { checkout_id: cr.checkout_id, checkout_refund_id: cr.checkout_refund_id, succeeded },
      'checkout refund finished',
    );
  }
}

function view(row: CheckoutRow) {
  return {
    step: row.step,
    couponCode: row.coupon_code,
    couponId: row.coupon_id,
    points: row.points,
    moneyMinor: row.money_minor,
  };
}

function statusForStep(step: Step): 'PENDING' | 'AWAITING_PAYMENT' | undefined {
  switch (step) {
    case 'CLAIM_COUPON':
    case 'RESERVE_COUPON':
    case 'RESERVE_POINTS':
    case 'OPEN_PAYMENT':
      return 'PENDING';
    case 'AWAIT_PAYMENT':
      return 'AWAITING_PAYMENT';
    case 'CONFIRM':
    case 'RELEASE':
    case 'DONE':
      return undefined;
  }
}

/** What a payment's status says to the saga (undefined: still open). */
function paymentNews(p: PaymentRow): SagaNews | undefined {
  if (!isFinal(p.status)) return undefined;
  if (p.status === PaymentStatus.PAYMENT_STATUS_SUCCEEDED) return { kind: 'payment_succeeded' };
  return { kind: 'payment_failed', expired: p.status === PaymentStatus.PAYMENT_STATUS_EXPIRED };
}

function refusalOf(err: DomainError): SagaPatch {
  return {
    refusal_kind: err.kind,
    refusal_code: err.code,
    refusal_field: err.detail.field ?? '',
    refusal_message: err.message.slice(0, 500),
  };
}

/** The parts of a checkout as the events and the API carry them. */
export function partsOf(c: CheckoutRow) {
  const money = (amountMinor: bigint) => ({ currency: c.currency, amountMinor });
  return {
    total: money(c.total_minor),
    discount: money(c.discount_minor),
    points: c.points,
    pointsValue: money(c.points_value_minor),
    money: money(c.money_minor),
  };
}
