import { Inject, Injectable } from '@nestjs/common';
import { Logger, LOGGER, PG_POOL, Pool, SERVICE_CONFIG } from '@citybase/platform';
import { ChannelRejectedError, ChannelUnavailableError } from '../channels/channel-adapter';
import { ChannelRouter, RoutedChannel } from '../channels/channel-router';
import type { PaymentConfig } from '../config';
import { FailureReasons } from './payments.domain';
import {
  ChannelOrderRow,
  ChannelOrderState,
  findWithRoutingState,
  PaymentRow,
  recordChannelOrderAttempt,
  releaseRoutingLease,
  setChannelOrderState,
  takeRoutingLease,
} from './payments.store';
import { PaymentTransitions } from './payments.transitions';

/** The routing lease this caller holds; released with the transaction that applies the channel's answer. */
interface RoutingLease {
  released: boolean;
}

type OpenOutcome = { kind: 'done'; payment: PaymentRow } | { kind: 'refused' } | { kind: 'uncertain' };

/** At most this many channels are tried for one payment (the first and its fallbacks). */
export const MAX_CHANNELS_TRIED = 4;

/** An order may exist at the channel: opened (its answer not yet applied) or asked without an answer. */
function mayHaveOrder(state: ChannelOrderState | undefined): boolean {
  return state === 'pending' || state === 'open';
}

/** A refusal meaning the channel has no such order (nothing to close, nothing to pay). */
export function isNoSuchOrder(err: unknown): boolean {
  return err instanceof ChannelRejectedError && /NOT_EXIST|NOT_FOUND/.test(err.code);
}

/** The URL a channel posts this payment's notifications (orders and refunds) to. */
export function notifyUrl(publicUrl: string, channelId: string, paymentId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/channels/${encodeURIComponent(channelId)}/notifications/${paymentId}`;
}

/**
 * Opens a payment's order at a channel: the routing rules' candidates in order, falling back to the
 * next on a refusal or on no answer.
 *
 * Never paid twice at two channels: the payer only ever gets the pay_url of the one channel the
 * payment is routed to (payments.channel). Before falling back from a channel that gave no answer
 * (an order may exist there), its order is closed best-effort; if even that gets no answer, the
 * possible order is remembered (payment_channel_orders, state pending) and the channel-poll job closes it
 * later. If such an order is reported paid anyway while the payment is still open, that payment is
 * what succeeded (the transition moves it to that channel and the other order is closed); after the
 * payment is final, it is logged as an anomaly (alert PAYMENT_ANOMALY) for an operator to refund.
 *
 * One caller routes a payment at a time (a lease on the row): concurrent retries of CreatePayment
 * and the channel-poll job wait for it or leave it alone.
 */
@Injectable()
export class PaymentRouting {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SERVICE_CONFIG) private readonly config: PaymentConfig,
    private readonly router: ChannelRouter,
    private readonly transitions: PaymentTransitions,
  ) {}

  /** Longest a routing can take: two calls (open, close) per channel tried, plus slack. */
  get leaseMs(): number {
    return MAX_CHANNELS_TRIED * 2 * this.config.PAYMENT_CHANNEL_TIMEOUT_MS + 5_000;
  }

  /**
   * Routes the payment if it is not routed yet (created, or unknown without an order answer) and
   * returns it as it is afterwards. If another caller is routing it, waits for that one.
   */
  async route(paymentId: string): Promise<PaymentRow> {
    const leased = await takeRoutingLease(this.pool, paymentId, this.leaseMs);
    if (!leased) return this.awaitRouting(paymentId);
    const lease = { released: false };
    try {
      return await this.routeLeased(leased.payment, leased.tried, lease);
    } finally {
      if (!lease.released) await releaseRoutingLease(this.pool, paymentId);
    }
  }

  private async routeLeased(
    payment: PaymentRow,
    tried: ChannelOrderRow[],
    lease: RoutingLease,
  ): Promise<PaymentRow> {
    const paymentId = payment.payment_id;
    const candidates = await this.router.candidates(this.pool, {
      operatorId: payment.operator_id,
      projectId: payment.project_id,
      scenario: payment.scenario,
      amountMinor: payment.amount_minor,
    });
    const state = new Map(tried.map((o) => [o.channel_id, o.state]));
    // A channel where an order may already exist comes first (opening it again is idempotent);
    // channels that refused or closed this order are not asked again.
    const ordered = [
      ...candidates.filter((c) => mayHaveOrder(state.get(c.account.channelId))),
      ...candidates.filter((c) => !state.has(c.account.channelId)),
    ].slice(0, MAX_CHANNELS_TRIED);
    const stillPending = [...state].filter(([, s]) => mayHaveOrder(s)).map(([id]) => id);
    if (ordered.length === 0 && stillPending.length === 0) {
      const reason =
        candidates.length === 0 && tried.length === 0
          ? FailureReasons.noChannel
          : FailureReasons.channelsRejected;
      this.logger.info(
        { payment_id: paymentId, project_id: payment.project_id, reason },
        'payment not routable',
      );
      return (await this.transitions.fail(paymentId, reason)).payment;
    }

    let uncertain: string | undefined = stillPending.find(
      (id) => !ordered.some((c) => c.account.channelId === id),
    );
    for (const [i, candidate] of ordered.entries()) {
      const channelId = candidate.account.channelId;
      const hasNext = i < ordered.length - 1;
      const outcome = await this.open(payment, candidate, hasNext, lease);
      if (outcome.kind === 'done') return outcome.payment;
      if (outcome.kind === 'uncertain') uncertain ??= channelId;
    }
    if (uncertain !== undefined) {
      // No channel answered for sure: unknown until the channel-poll job asks the channel again.
      return (await this.transitions.markUnknown(paymentId, uncertain)).payment;
    }
    return (await this.transitions.fail(paymentId, FailureReasons.channelsRejected)).payment;
  }

  /**
   * Tries to open the order at one channel. `done`: the channel answered (the payment was updated
   * from its answer); `refused`: definitely no order there, try the next; `uncertain`: an order may
   * exist there.
   */
  private async open(
    payment: PaymentRow,
    channel: RoutedChannel,
    hasNext: boolean,
    lease: RoutingLease,
  ): Promise<OpenOutcome> {
    const { account, adapter } = channel;
    const paymentId = payment.payment_id;
    const channelId = account.channelId;
    await recordChannelOrderAttempt(this.pool, paymentId, channelId);
    try {
      const order = await adapter.createOrder(account, {
        paymentId,
        amountMinor: payment.amount_minor,
        currency: payment.currency,
        description: payment.description,
        notifyUrl: notifyUrl(this.config.PAYMENT_PUBLIC_URL, channelId, paymentId),
        expiresAt: payment.expires_at,
        profitSharing: payment.profit_sharing,
      });
      // the order's state becomes 'open' with the transition to processing (or what the answer
      // says of it); the lease ends in the same transaction
      const applied = await this.transitions.applyChannelOrder(paymentId, channelId, order, {
        endsRouting: true,
      });
      lease.released = true;
      return { kind: 'done', payment: applied.payment };
    } catch (err) {
      if (err instanceof ChannelRejectedError) {
        this.logger.warn(
          { payment_id: paymentId, channel: channelId, code: err.code },
          'channel refused the order; falling back',
        );
        await setChannelOrderState(this.pool, paymentId, channelId, 'rejected', err.code);
        return { kind: 'refused' };
      }
      if (!(err instanceof ChannelUnavailableError)) throw err;
      this.logger.warn(
        { payment_id: paymentId, channel: channelId, err: err.message },
        'no answer from the channel opening the order',
      );
      // With nowhere to fall back to, the order is left as it is: the channel-poll job asks the channel.
      if (!hasNext) return { kind: 'uncertain' };
      return this.closeBeforeFallback(payment, channel);
    }
  }

  private async closeBeforeFallback(
    payment: PaymentRow,
    { account, adapter }: RoutedChannel,
  ): Promise<OpenOutcome> {
    const paymentId = payment.payment_id;
    const channelId = account.channelId;
    try {
      const order = await adapter.closeOrder(account, paymentId);
      switch (order.status) {
        case 'SUCCESS': // paid there after all: that is the payment's outcome
          return {
            kind: 'done',
            payment: (await this.transitions.applyChannelOrder(paymentId, channelId, order)).payment,
          };
        case 'CLOSED':
        case 'PAYERROR':
          await setChannelOrderState(this.pool, paymentId, channelId, 'closed', 'closed before fallback');
          return { kind: 'refused' };
        case 'NOTPAY':
          return { kind: 'uncertain' };
      }
    } catch (err) {
      if (isNoSuchOrder(err)) {
        await setChannelOrderState(this.pool, paymentId, channelId, 'closed', 'no order');
        return { kind: 'refused' };
      }
      if (!(err instanceof ChannelUnavailableError) && !(err instanceof ChannelRejectedError)) throw err;
      // Fall back anyway: this order's pay_url was never given out; the channel-poll job closes it.
      this.logger.warn(
        { payment_id: paymentId, channel: channelId },
        'order may exist at the channel; falling back, closing it later',
      );
      return { kind: 'uncertain' };
    }
  }

  /** Waits (at most one lease) for another caller's routing to finish; returns the payment then. */
  private async awaitRouting(paymentId: string): Promise<PaymentRow> {
    const deadline = Date.now() + this.leaseMs;
    for (;;) {
      const row = await findWithRoutingState(this.pool, paymentId);
      if (!row) throw new Error(`payment ${paymentId} does not exist`);
      if (!row.routing || Date.now() > deadline) {
        const { routing: _routing, ...payment } = row;
        return payment;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
