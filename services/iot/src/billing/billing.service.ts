import { Inject, Injectable } from '@nestjs/common';
import {
  Logger,
  LOGGER,
  OutboundError,
  PG_POOL,
  Pool,
  PoolClient,
  withTransaction,
} from '@citybase/platform';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
import {
  billedCheckout,
  billedPayment,
  BillingPurpose,
  billingCallId,
  CheckoutChoice,
  nextAttemptDelayMs,
  PaymentOutcome,
} from './billing.domain';
import { BillingPorts } from './billing.ports';
import {
  BillingCallRow,
  callAnswered,
  callFailed,
  checkoutCallAnswered,
  findCall,
  insertCall,
  leaseDueCalls,
  lockCall,
  lockCallByCheckout,
  lockCallByPayment,
  lockPaymentKey,
  recordUnmatched,
  setOutcome,
  setPayUrl,
  takeUnmatched,
} from './billing.store';

/** Payment's answers that refuse a CreatePayment or CreateCheckout for good; anything else is tried again. */
const REFUSALS = new Set(['invalid_argument', 'failed_precondition', 'not_found', 'already_exists']);
const CALL_LEASE_MS = 30_000;

const SCENARIO: Record<BillingPurpose, PaymentScenario> = {
  PARKING: PaymentScenario.PAYMENT_SCENARIO_PARKING,
  CHARGING: PaymentScenario.PAYMENT_SCENARIO_EV_CHARGING,
};

/** A checkout's longest expiry (payment's MAX_EXPIRES_IN_SECONDS, docs/payment-checkout.md). */
const CHECKOUT_MAX_EXPIRES_IN_SECONDS = 3000;

/** What a room does when its payment is created or ends, in the transaction that records it. */
export interface BillingSubscriber {
  paymentCreated(client: PoolClient, subjectId: string, paymentId: string): Promise<void>;
  /** A checkout call answered (rooms that ask for checkouts). */
  checkoutCreated?(client: PoolClient, subjectId: string, checkoutId: string): Promise<void>;
  /** `paymentId`: the payment that paid (a checkout's money part; empty when it had none). */
  paymentOutcome(
    client: PoolClient,
    subjectId: string,
    outcome: PaymentOutcome,
    paymentId: string,
  ): Promise<void>;
}

/**
 * iot's payments (docs/iot.md "Billing"). A room records the need for a payment in its own
 * transaction (`request`), the call to payment's CreatePayment is made after the commit (and by
 * the billing job until answered), with a request id derived from the session, so a session makes
 * exactly one payment whoever asks and however often. Payment's outcomes (consumer iot.billing)
 * are handed to the room once per payment.
 */
@Injectable()
export class BillingService {
  private readonly subscribers = new Map<BillingPurpose, BillingSubscriber>();

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly ports: BillingPorts,
  ) {}

  register(purpose: BillingPurpose, subscriber: BillingSubscriber): void {
    this.subscribers.set(purpose, subscriber);
  }

  /** Records the payment a session needs (once per session), in the caller's transaction. */
  async request(
    client: PoolClient,
    r: {
      purpose: BillingPurpose;
      subjectId: string;
      operatorId: string;
      projectId: string;
      merchantId: string;
      currency: string;
      amountMinor: bigint;
      payerRef: string;
      description: string;
      expiresInSeconds: number;
      attempt?: number;
      /** Through payment's CreateCheckout with these points and coupon, paid by `userId`. */
      checkout?: CheckoutChoice & { userId: string };
    },
  ): Promise<string> {
    const callId = billingCallId(r.purpose, r.subjectId, r.attempt);
    await insertCall(client, {
      call_id: callId,
      purpose: r.purpose,
      subject_id: r.subjectId,
      operator_id: r.operatorId,
      project_id: r.projectId,
      merchant_id: r.merchantId,
      currency: r.currency,
      amount_minor: r.amountMinor,
      payer_ref: r.payerRef,
      description: r.description.slice(0, 200),
      expires_in_s: r.checkout
        ? Math.min(r.expiresInSeconds, CHECKOUT_MAX_EXPIRES_IN_SECONDS)
        : r.expiresInSeconds,
      kind: r.checkout ? 'CHECKOUT' : 'PAYMENT',
      user_id: r.checkout?.userId ?? '',
      points: r.checkout?.points ?? 0n,
      points_holder_id: r.checkout?.pointsHolderId ?? '',
      coupon_code: r.checkout?.couponCode ?? '',
      coupon_id: r.checkout?.couponId ?? '',
    });
    return callId;
  }

  /** One call as it stands. */
  call(callId: string): Promise<BillingCallRow | undefined> {
    return findCall(this.pool, callId);
  }

  /**
   * Where the payer pays a checkout call's money part: CreateCheckout may answer before the saga
   * opened the payment (no pay URL yet), so payment's GetCheckout is asked until it has one;
   * empty when payment cannot say now, once the checkout is final, or with nothing to pay in money.
   */
  async checkoutPayUrl(call: BillingCallRow): Promise<string> {
    if (call.kind !== 'CHECKOUT' || !call.checkout_id) return '';
    if (call.pay_url) return call.pay_url;
    try {
      const { checkout } = await this.ports.payment.getCheckout({ checkoutId: call.checkout_id });
      const payUrl = checkout?.payUrl ?? '';
      if (payUrl) await setPayUrl(this.pool, call.call_id, payUrl);
      return payUrl;
    } catch (err) {
      this.logger.warn(
        { call_id: call.call_id, err: err instanceof Error ? err.message : String(err) },
        'GetCheckout failed',
      );
      return '';
    }
  }

  /** Makes a due call now (after the caller's commit); a failure is left to the job. */
  async callNow(callId: string): Promise<void> {
    const call = await findCall(this.pool, callId);
    if (call?.status === 'DUE') await this.makeCall(call);
  }

  async makeDueCalls(limit: number): Promise<number> {
    const calls = await leaseDueCalls(this.pool, limit, CALL_LEASE_MS);
    for (const call of calls) await this.makeCall(call);
    return calls.length;
  }

  private async makeCall(call: BillingCallRow): Promise<void> {
    if (call.kind === 'CHECKOUT') return this.makeCheckoutCall(call);
    const fields = {
      call_id: call.call_id,
      purpose: call.purpose,
      subject_id: call.subject_id,
      attempts: call.attempts + 1,
    };
    try {
      const { payment } = await this.ports.payment.createPayment({
        requestId: call.call_id,
        tenancy: { operatorId: call.operator_id, projectId: call.project_id, merchantId: call.merchant_id },
        merchantId: call.merchant_id,
        scenario: SCENARIO[call.purpose],
        amount: { currency: call.currency, amountMinor: call.amount_minor },
        payerRef: call.payer_ref,
        description: call.description,
        expiresInSeconds: call.expires_in_s,
        profitSharing: false,
      });
      if (!payment) throw new Error('payment answered CreatePayment without the payment');
      await withTransaction(this.pool, async (client) => {
        await lockPaymentKey(client, payment.paymentId);
        const locked = await lockCall(client, call.call_id);
        if (locked?.status !== 'DUE') return;
        await callAnswered(client, call.call_id, payment.paymentId);
        await this.subscriber(call.purpose).paymentCreated(client, call.subject_id, payment.paymentId);
        // an outcome that arrived before the payment id was known
        const early = await takeUnmatched(client, payment.paymentId);
        if (early)
          await this.applyOutcome(
            client,
            { ...locked, payment_id: payment.paymentId },
            early,
            payment.paymentId,
          );
      });
      this.logger.info({ ...fields, payment_id: payment.paymentId }, 'payment created');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const refused = err instanceof OutboundError && REFUSALS.has(err.kind);
      await callFailed(this.pool, call.call_id, message, nextAttemptDelayMs(call.attempts), refused);
      this.logger.warn({ ...fields, err: message, refused }, 'CreatePayment failed');
    }
  }

  /**
   * CreateCheckout for a call of kind CHECKOUT, request id = call id (payment's idempotency answers a
   * repeat with the same checkout). Its end comes as CheckoutCompleted / CheckoutReleased.
   */
  private async makeCheckoutCall(call: BillingCallRow): Promise<void> {
    const fields = { call_id: call.call_id, subject_id: call.subject_id, attempts: call.attempts + 1 };
    try {
      const { checkout } = await this.ports.payment.createCheckout({
        requestId: call.call_id,
        tenancy: { operatorId: call.operator_id, projectId: call.project_id, merchantId: call.merchant_id },
        merchantId: call.merchant_id,
        scenario: SCENARIO[call.purpose],
        total: { currency: call.currency, amountMinor: call.amount_minor },
        itemCodes: [],
        userId: call.user_id,
        pointsHolderId: call.points_holder_id,
        couponId: call.coupon_id,
        couponCode: call.coupon_code,
        points: call.points,
        payerRef: call.payer_ref,
        description: call.description,
        expiresInSeconds: call.expires_in_s,
        profitSharing: false,
      });
      if (!checkout) throw new Error('payment answered CreateCheckout without the checkout');
      await withTransaction(this.pool, async (client) => {
        await lockPaymentKey(client, checkout.checkoutId);
        const locked = await lockCall(client, call.call_id);
        if (locked?.status !== 'DUE') return;
        await checkoutCallAnswered(client, call.call_id, checkout.checkoutId, checkout.payUrl);
        await this.subscriber(call.purpose).checkoutCreated?.(client, call.subject_id, checkout.checkoutId);
        // an end that arrived before the checkout id was known
        const early = await takeUnmatched(client, checkout.checkoutId);
        if (early)
          await this.applyOutcome(
            client,
            { ...locked, checkout_id: checkout.checkoutId },
            early,
            early === 'SUCCEEDED' ? checkout.paymentId : '',
          );
      });
      this.logger.info({ ...fields, checkout_id: checkout.checkoutId }, 'checkout created');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const refused = err instanceof OutboundError && REFUSALS.has(err.kind);
      await withTransaction(this.pool, async (client) => {
        await callFailed(client, call.call_id, message, nextAttemptDelayMs(call.attempts), refused);
        // a refused checkout (e.g. points beyond the balance, an unknown coupon code) pays nothing
        if (refused && (await setOutcome(client, call.call_id, 'RELEASED')))
          await this.subscriber(call.purpose).paymentOutcome(client, call.subject_id, 'RELEASED', '');
      });
      this.logger.warn({ ...fields, err: message, refused }, 'CreateCheckout failed');
    }
  }

  // ---- payment's events (in the inbox's transaction of consumer iot.billing) ----

  async paymentEnded(
    client: PoolClient,
    e: { paymentId: string; scenario: PaymentScenario; checkoutId: string },
    outcome: PaymentOutcome,
  ): Promise<void> {
    if (!billedPayment(e)) return;
    await lockPaymentKey(client, e.paymentId);
    const call = await lockCallByPayment(client, e.paymentId);
    if (!call) {
      // ours or another service's parking payment: applied if our CreatePayment answer brings it
      await recordUnmatched(client, e.paymentId, outcome);
      return;
    }
    await this.applyOutcome(client, call, outcome, e.paymentId);
  }

  /** CheckoutCompleted (SUCCEEDED) or CheckoutReleased (RELEASED) of an EV charging checkout. */
  async checkoutEnded(
    client: PoolClient,
    e: { checkoutId: string; scenario: PaymentScenario; paymentId: string },
    outcome: 'SUCCEEDED' | 'RELEASED',
  ): Promise<void> {
    if (!billedCheckout(e)) return;
    await lockPaymentKey(client, e.checkoutId);
    const call = await lockCallByCheckout(client, e.checkoutId);
    if (!call) {
      // ours before CreateCheckout's answer, or a checkout another client made
      await recordUnmatched(client, e.checkoutId, outcome);
      return;
    }
    await this.applyOutcome(client, call, outcome, e.paymentId);
  }

  private async applyOutcome(
    client: PoolClient,
    call: BillingCallRow,
    outcome: PaymentOutcome,
    paymentId: string,
  ): Promise<void> {
    if (!(await setOutcome(client, call.call_id, outcome))) return; // already applied
    await this.subscriber(call.purpose).paymentOutcome(client, call.subject_id, outcome, paymentId);
    this.logger.info(
      { call_id: call.call_id, payment_id: paymentId, checkout_id: call.checkout_id, outcome },
      'payment outcome applied',
    );
  }

  private subscriber(purpose: BillingPurpose): BillingSubscriber {
    const s = this.subscribers.get(purpose);
    if (!s) throw new Error(`no billing subscriber for ${purpose}`);
    return s;
  }
}
