import { Inject, Injectable } from '@nestjs/common';
import {
  CitybaseClaims,
  EnqueueOptions,
  inDbStage,
  inTenancy,
  Logger,
  LOGGER,
  Mutations,
  PG_POOL,
  Pool,
  PoolClient,
  toTimestamp,
} from '@citybase/platform';
import { PaymentStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import type { EventType } from '@citybase/contracts/event-types';
import { PaymentEvents } from '@citybase/contracts/events';
import { ChannelRejectedError, ChannelUnavailableError } from '../channels/channel-adapter';
import { ChannelRouter } from '../channels/channel-router';
import { CreatePaymentCommand, FailureReasons, isFinal } from './payments.domain';
import { PaymentErrors } from './payments.errors';
import { isNoSuchOrder, PaymentRouting } from './payments.routing';
import { findById, insertPayment, PaymentRow } from './payments.store';
import { PaymentTransitions } from './payments.transitions';

/** Routing failures that CreatePayment reports as FAILED_PRECONDITION (the payment is stored failed). */
const NOT_ROUTABLE: readonly string[] = [FailureReasons.noChannel, FailureReasons.channelsRejected];

@Injectable()
export class PaymentsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly mutations: Mutations,
    private readonly routing: PaymentRouting,
    private readonly transitions: PaymentTransitions,
    private readonly router: ChannelRouter,
  ) {}

  /**
   * Creates the intent and its PaymentCreated event in one mutation (ADR 0007), then opens the order
   * at a channel (after commit: a channel call never holds a transaction open). The request key's
   * resource is the new payment: a retry (same client, request id and request) gets that payment
   * as it is now, re-driving the channel step if it had not completed; the same key with a
   * different request is refused. Concurrent identical requests wait on the key of the first and
   * then replay it, so they make one payment and one event.
   */
  async createPayment(claims: CitybaseClaims, cmd: CreatePaymentCommand): Promise<PaymentRow> {
    const stored = await inDbStage('create', () =>
      this.mutations.run({
        method: 'PaymentService.CreatePayment',
        claims,
        requestId: cmd.requestId,
        command: cmd,
        execute: async ({ client, resourceId, emit, note }) => {
          const created = await this.insertIntent(client, resourceId, cmd, emit);
          note({
            payment_id: created.payment_id,
            project_id: created.project_id,
            scenario: created.scenario,
          });
          return created;
        },
        replay: async ({ client, resourceId, note }) => {
          note({ payment_id: resourceId });
          // payments are never deleted
          const existing = await findById(client, resourceId);
          if (!existing) throw new Error(`payment ${resourceId} of a replayed request is missing`);
          return existing;
        },
        done: 'payment created',
      }),
    );
    const payment = needsRouting(stored)
      ? await inDbStage('channel_order', () => this.routing.route(stored.payment_id))
      : stored;
    if (
      payment.status === PaymentStatus.PAYMENT_STATUS_FAILED &&
      NOT_ROUTABLE.includes(payment.failure_reason)
    ) {
      throw PaymentErrors.notRoutable(payment.payment_id, payment.failure_reason);
    }
    return payment;
  }

  /**
   * Inserts a payment intent and its PaymentCreated event in the caller's transaction: the one way
   * an intent is made (CreatePayment, and a checkout's money part). Open it at a channel after
   * commit with `openAtChannel`.
   */
  async insertIntent(
    client: PoolClient,
    paymentId: string,
    cmd: CreatePaymentCommand,
    emit: <E>(type: EventType<E>, payload: E, opts: EnqueueOptions) => Promise<void>,
  ): Promise<PaymentRow> {
    // a routing's lease outlives the first check: the channel-poll job only re-drives a routing that died
    const created = await insertPayment(client, paymentId, cmd, this.routing.leaseMs);
    const tenancy = {
      operatorId: created.operator_id,
      projectId: created.project_id,
      merchantId: created.merchant_id,
    };
    await emit(
      PaymentEvents.PaymentCreated,
      {
        paymentId: created.payment_id,
        tenancy,
        merchantId: created.merchant_id,
        scenario: created.scenario,
        amount: { currency: created.currency, amountMinor: created.amount_minor },
        channel: created.channel,
        occurredAt: toTimestamp(created.created_at),
        checkoutId: created.checkout_id,
      },
      { key: created.payment_id, subject: created.payment_id, tenancy },
    );
    return created;
  }

  /**
   * Opens a committed intent's order at a routed channel unless that was done already. `known`:
   * the intent as the caller's own committed transaction inserted it (not read again).
   */
  async openAtChannel(paymentId: string, known?: PaymentRow): Promise<PaymentRow> {
    const stored = known ?? (await findById(this.pool, paymentId));
    if (!stored) throw new Error(`payment ${paymentId} does not exist`);
    return needsRouting(stored) ? this.routing.route(paymentId) : stored;
  }

  /** The payment if it lies in the caller's tenancy; NOT_FOUND otherwise, exactly like a missing one. */
  async getPayment(claims: CitybaseClaims, paymentId: string): Promise<PaymentRow> {
    const row = await findById(this.pool, paymentId);
    if (!row || !inTenancy(claims, { operatorId: row.operator_id, projectId: row.project_id })) {
      throw PaymentErrors.notFound(paymentId);
    }
    return row;
  }

  /**
   * The client says the payer paid: ask the channel and apply its answer through the same
   * transition as a notification. No answer from the channel: the payment is unknown until the
   * channel-poll job gets one.
   */
  async confirmPayment(claims: CitybaseClaims, paymentId: string): Promise<PaymentRow> {
    const payment = await this.getPayment(claims, paymentId);
    if (isFinal(payment.status)) return payment;
    if (needsRouting(payment)) return this.routing.route(paymentId);
    const routed = await this.router.account(this.pool, {
      projectId: payment.project_id,
      channelId: payment.channel,
    });
    if (!routed) {
      this.logger.error(
        { payment_id: paymentId, channel: payment.channel },
        'no account at the payment channel',
      );
      return payment;
    }
    try {
      const order = await routed.adapter.queryOrder(routed.account, paymentId);
      return (await this.transitions.applyChannelOrder(paymentId, payment.channel, order)).payment;
    } catch (err) {
      if (err instanceof ChannelUnavailableError) {
        this.logger.warn(
          { payment_id: paymentId, err: err.message },
          'no answer from the channel confirming a payment',
        );
        return (await this.transitions.markUnknown(paymentId, payment.channel)).payment;
      }
      if (err instanceof ChannelRejectedError) {
        this.logger.warn(
          { payment_id: paymentId, code: err.code, no_such_order: isNoSuchOrder(err) },
          'channel refused the query',
        );
        return (await findById(this.pool, paymentId)) ?? payment;
      }
      throw err;
    }
  }
}

/** Not routed yet: created, or unknown because opening the order got no answer. */
export function needsRouting(p: PaymentRow): boolean {
  return (
    p.status === PaymentStatus.PAYMENT_STATUS_CREATED ||
    (p.status === PaymentStatus.PAYMENT_STATUS_UNKNOWN && p.pay_url === '')
  );
}
