import { Inject, Injectable } from '@nestjs/common';
import {
  Logger,
  LOGGER,
  Outbox,
  OUTBOX,
  PG_POOL,
  Pool,
  PoolClient,
  SERVICE_CONFIG,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { PaymentStatus } from '@citybase/contracts/citybase/payment/v1/payment';
import { PaymentEvents } from '@citybase/contracts/events';
import type { ChannelOrder } from '../channels/channel-adapter';
import type { PaymentConfig } from '../config';
import { nextCheckDelayMs } from '../shared/jobs';
import { decideOrder, isFinal, OPEN_STATUSES, PaymentTransition } from './payments.domain';
import {
  ChannelOrderState,
  compareAndSetStatus,
  lockById,
  lockEndingRouting,
  PaymentRow,
  setChannelOrderState,
} from './payments.store';

/** What to write of an order's state at a channel. */
interface OrderMemory {
  channelId: string;
  state: ChannelOrderState;
  detail?: string;
}

/** What the channel's answer says of its order, to remember (nothing for an open order: the routing step and the transition to processing record that). */
function orderMemory(channelId: string, order: ChannelOrder): OrderMemory | undefined {
  switch (order.status) {
    case 'SUCCESS':
      return { channelId, state: 'paid', detail: order.transactionId ?? '' };
    case 'CLOSED':
      return { channelId, state: 'closed' };
    case 'PAYERROR':
      return { channelId, state: 'closed', detail: order.failureReason ?? 'PAYERROR' };
    case 'NOTPAY':
      return undefined;
  }
}

/**
 * Runs inside the transaction of a payment's move to a final status (after its event is written):
 * a checkout paying with this payment becomes due for its next step in the same commit.
 */
export type FinalStatusHook = (client: PoolClient, payment: PaymentRow) => Promise<void>;

export interface TransitionResult {
  payment: PaymentRow;
  /** False when nothing changed (already in that state, out of order, or another source won). */
  changed: boolean;
}

/**
 * The one place a payment's status changes. Every source of news about an order (the channel's
 * notification, the client's ConfirmPayment, the channel-poll job's query or close, the answer to
 * opening it) goes through applyChannelOrder: a compare-and-set on the status, with the event of a
 * final status written to the outbox in the same transaction, so each outcome is applied and
 * published exactly once whatever the order and number of the news.
 */
@Injectable()
export class PaymentTransitions {
  private readonly finalHooks: FinalStatusHook[] = [];

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: PaymentConfig,
  ) {}

  /** Registers a hook run in the transaction of every move to a final status (checkouts). */
  onFinalStatus(hook: FinalStatusHook): void {
    this.finalHooks.push(hook);
  }

  /**
   * Applies the channel's view of the order in its own transaction. `endsRouting`: the caller holds
   * the payment's routing lease and is done with it once this is applied (it is released in the
   * same transaction).
   */
  applyChannelOrder(
    paymentId: string,
    channelId: string,
    order: ChannelOrder,
    opts: { endsRouting?: boolean } = {},
  ): Promise<TransitionResult> {
    return withTransaction(this.pool, async (client) =>
      this.applyChannelOrderIn(
        client,
        paymentId,
        channelId,
        order,
        opts.endsRouting ? await lockEndingRouting(client, paymentId) : undefined,
      ),
    );
  }

  /**
   * Applies the channel's view of the order inside the caller's transaction; `locked`: the payment
   * if the caller has locked it already in this transaction.
   */
  async applyChannelOrderIn(
    client: PoolClient,
    paymentId: string,
    channelId: string,
    order: ChannelOrder,
    locked?: PaymentRow,
  ): Promise<TransitionResult> {
    const payment = locked ?? (await lockById(client, paymentId));
    if (!payment) throw new Error(`payment ${paymentId} does not exist`);
    if (order.paymentId !== paymentId) {
      this.logger.error(
        { payment_id: paymentId, channel: channelId, order_payment_id: order.paymentId },
        'channel answered about another order; ignored',
      );
      return { payment, changed: false };
    }
    const decision = decideOrder(
      { status: payment.status, channel: payment.channel, amountMinor: payment.amount_minor },
      channelId,
      order,
      new Date(),
    );
    const remembered = orderMemory(channelId, order);
    if (decision.kind !== 'transition' && remembered) await this.remember(client, paymentId, remembered);
    switch (decision.kind) {
      case 'none':
        this.logger.debug(
          { payment_id: paymentId, channel: channelId, order: order.status, why: decision.why },
          'order news changes nothing',
        );
        return { payment, changed: false };
      case 'anomaly':
        // Money moved where it should not have: an operator must look at it; no status change here.
        this.logger.error(
          {
            payment_id: paymentId,
            channel: channelId,
            order: order.status,
            why: decision.why,
            alert: 'PAYMENT_ANOMALY',
          },
          'channel reports an order state that must not happen',
        );
        return { payment, changed: false };
      case 'transition':
        return this.transition(client, payment, decision.transition, remembered);
    }
  }

  /** A channel call had no answer (timeout, connection lost): the outcome is unknown until queried. */
  markUnknown(paymentId: string, channelId: string): Promise<TransitionResult> {
    return withTransaction(this.pool, async (client) => {
      const payment = await lockById(client, paymentId);
      if (!payment) throw new Error(`payment ${paymentId} does not exist`);
      if (isFinal(payment.status) || payment.status === PaymentStatus.PAYMENT_STATUS_UNKNOWN) {
        return { payment, changed: false };
      }
      return this.transition(client, payment, {
        from: [PaymentStatus.PAYMENT_STATUS_CREATED, PaymentStatus.PAYMENT_STATUS_PROCESSING],
        to: PaymentStatus.PAYMENT_STATUS_UNKNOWN,
        channel: payment.channel || channelId,
      });
    });
  }

  /** Routing found no channel that would open the order: the payment fails with `reason`. */
  fail(paymentId: string, reason: string): Promise<TransitionResult> {
    return withTransaction(this.pool, async (client) => {
      const payment = await lockById(client, paymentId);
      if (!payment) throw new Error(`payment ${paymentId} does not exist`);
      return this.transition(client, payment, {
        from: [PaymentStatus.PAYMENT_STATUS_CREATED, PaymentStatus.PAYMENT_STATUS_UNKNOWN],
        to: PaymentStatus.PAYMENT_STATUS_FAILED,
        channel: payment.channel,
        completedAt: new Date(),
        failureReason: reason,
      });
    });
  }

  /** An intent past its expiry with no order at any channel (nothing to close): it expires. */
  expireUnrouted(paymentId: string): Promise<TransitionResult> {
    return withTransaction(this.pool, async (client) => {
      const payment = await lockById(client, paymentId);
      if (!payment) throw new Error(`payment ${paymentId} does not exist`);
      return this.transition(client, payment, {
        from: OPEN_STATUSES,
        to: PaymentStatus.PAYMENT_STATUS_EXPIRED,
        channel: payment.channel,
        completedAt: new Date(),
        failureReason: 'EXPIRED',
      });
    });
  }

  /**
   * The compare-and-set of `t`, with the order's state at the channel written in the same
   * statement: what the channel said of it (`remembered`, written whether or not the status
   * changes), or 'open' at the payment's channel when it moves to processing.
   */
  private async transition(
    client: PoolClient,
    before: PaymentRow,
    t: PaymentTransition,
    remembered?: OrderMemory,
  ): Promise<TransitionResult> {
    const opens: OrderMemory | undefined =
      t.to === PaymentStatus.PAYMENT_STATUS_PROCESSING && t.channel !== ''
        ? { channelId: t.channel, state: 'open' }
        : undefined;
    if (remembered && opens) await this.remember(client, before.payment_id, remembered);
    const after = await compareAndSetStatus(
      client,
      before.payment_id,
      t,
      nextCheckDelayMs(0, this.config.PAYMENT_RECONCILE_INTERVAL_MS),
      opens ?? remembered,
    );
    if (!after) {
      if (remembered && !opens) await this.remember(client, before.payment_id, remembered);
      return { payment: before, changed: false };
    }
    await this.publish(client, after);
    if (isFinal(after.status)) for (const hook of this.finalHooks) await hook(client, after);
    this.logger.info(
      {
        payment_id: after.payment_id,
        from: before.status,
        to: after.status,
        channel: after.channel,
        reason: after.failure_reason || undefined,
      },
      'payment status changed',
    );
    return { payment: after, changed: true };
  }

  private remember(client: PoolClient, paymentId: string, m: OrderMemory): Promise<void> {
    return setChannelOrderState(client, paymentId, m.channelId, m.state, m.detail);
  }

  private async publish(client: PoolClient, p: PaymentRow): Promise<void> {
    const tenancy = { operatorId: p.operator_id, projectId: p.project_id, merchantId: p.merchant_id };
    const opts = { key: p.payment_id, subject: p.payment_id, tenancy };
    const base = {
      paymentId: p.payment_id,
      tenancy,
      merchantId: p.merchant_id,
      scenario: p.scenario,
      amount: { currency: p.currency, amountMinor: p.amount_minor },
      channel: p.channel,
      occurredAt: toTimestamp(p.completed_at ?? p.updated_at),
      checkoutId: p.checkout_id,
    };
    switch (p.status) {
      case PaymentStatus.PAYMENT_STATUS_SUCCEEDED:
        await this.outbox.enqueue(
          client,
          PaymentEvents.PaymentSucceeded,
          {
            ...base,
            channelTransactionId: p.channel_transaction_id,
            profitSharing: p.profit_sharing,
            payerRef: p.payer_ref,
          },
          opts,
        );
        return;
      case PaymentStatus.PAYMENT_STATUS_FAILED:
        await this.outbox.enqueue(
          client,
          PaymentEvents.PaymentFailed,
          { ...base, reason: p.failure_reason },
          opts,
        );
        return;
      case PaymentStatus.PAYMENT_STATUS_EXPIRED:
        await this.outbox.enqueue(client, PaymentEvents.PaymentExpired, base, opts);
        return;
      case PaymentStatus.PAYMENT_STATUS_CREATED:
      case PaymentStatus.PAYMENT_STATUS_PROCESSING:
      case PaymentStatus.PAYMENT_STATUS_UNKNOWN:
      case PaymentStatus.PAYMENT_STATUS_UNSPECIFIED:
      case PaymentStatus.UNRECOGNIZED:
        return; // only final statuses are published
    }
  }
}
