import { Inject, Injectable } from '@nestjs/common';
import {
  EventConsumer,
  EventContext,
  EventSubscriber,
  Logger,
  LOGGER,
  PoolClient,
  Subscribe,
} from '@citybase/platform';
import { PaymentEvents } from '@citybase/contracts/events';
import type {
  ChannelSplitFailed,
  CheckoutCompleted,
  CheckoutRefunded,
  CheckoutReleased,
  ChannelSplitReturnFailed,
  ChannelSplitReturnSucceeded,
  ChannelSplitSucceeded,
  PaymentSucceeded,
  RefundFailed,
  RefundSucceeded,
} from '@citybase/contracts/citybase/payment/v1/events';
import { EscrowCheckouts } from './escrow.checkouts';
import { findInstruction, InstructionKind, lockOrder } from './escrow.store';
import { EscrowRefunds } from './escrow.refunds';
import { EscrowTransitions } from './escrow.transitions';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Outcome = { succeeded: true } | { succeeded: false; reason: string };
const SUCCEEDED: Outcome = { succeeded: true };
/** A refusal: the event's reason, or the default code when the event carries none. */
const failed = (reason: string, otherwise: string): Outcome => ({
  succeeded: false,
  reason: reason || otherwise,
});

/**
 * Payment's events as escrow applies them, each inside the inbox transaction of the consumer
 * `settlement.escrow` (so each applies once per event id). Events about orders or instructions
 * settlement does not know are logged and skipped: payment publishes them for every payment.
 */
@EventConsumer('settlement.escrow')
@Injectable()
export class EscrowEventHandlers implements EventSubscriber {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly transitions: EscrowTransitions,
    private readonly refunds: EscrowRefunds,
    private readonly checkouts: EscrowCheckouts,
  ) {}

  async onPaymentSucceeded(client: PoolClient, e: PaymentSucceeded, ctx: EventContext): Promise<void> {
    await this.transitions.escrowPayment(client, e, ctx.envelope.id);
    // a checkout's money part: its coupon and points parts join the order (docs/settlement-checkout.md)
    if (e.checkoutId !== '') await this.checkouts.orderCreated(client, e.checkoutId.toLowerCase());
  }

  onCheckoutCompleted(client: PoolClient, e: CheckoutCompleted, ctx: EventContext): Promise<void> {
    return this.checkouts.completed(client, e, ctx.envelope.id);
  }

  onCheckoutRefunded(client: PoolClient, e: CheckoutRefunded, ctx: EventContext): Promise<void> {
    return this.checkouts.refunded(client, e, ctx.envelope.id);
  }

  onCheckoutReleased(client: PoolClient, e: CheckoutReleased, ctx: EventContext): Promise<void> {
    return this.checkouts.released(client, e, ctx.envelope.id);
  }

  /** Payments held, refunds, and the channel's answers to settlement's instructions. */
  subscribe(on: Subscribe): void {
    on(PaymentEvents.PaymentSucceeded, (client, event, ctx) => this.onPaymentSucceeded(client, event, ctx));
    on(PaymentEvents.CheckoutCompleted, (client, event, ctx) => this.onCheckoutCompleted(client, event, ctx));
    on(PaymentEvents.CheckoutRefunded, (client, event, ctx) => this.onCheckoutRefunded(client, event, ctx));
    on(PaymentEvents.CheckoutReleased, (client, event, ctx) => this.onCheckoutReleased(client, event, ctx));
    on(PaymentEvents.RefundSucceeded, (client, event) => this.onRefundSucceeded(client, event));
    on(PaymentEvents.RefundFailed, (client, event, ctx) => this.onRefundFailed(client, event, ctx));
    on(PaymentEvents.ChannelSplitSucceeded, (client, event) => this.onChannelSplitSucceeded(client, event));
    on(PaymentEvents.ChannelSplitFailed, (client, event) => this.onChannelSplitFailed(client, event));
    on(PaymentEvents.ChannelSplitReturnSucceeded, (client, event) =>
      this.onChannelSplitReturnSucceeded(client, event),
    );
    on(PaymentEvents.ChannelSplitReturnFailed, (client, event) =>
      this.onChannelSplitReturnFailed(client, event),
    );
  }

  async onRefundSucceeded(client: PoolClient, e: RefundSucceeded): Promise<void> {
    if (e.instructionId !== '') {
      await this.answer(client, 'refund', e.instructionId, SUCCEEDED);
      return;
    }
    // a refund asked of payment directly
    const orderId = e.paymentId.toLowerCase();
    if (!UUID.test(orderId)) return;
    const order = await lockOrder(client, orderId);
    if (!order) {
      this.logger.debug({ payment_id: e.paymentId }, 'refund of a payment not in escrow; ignored');
      return;
    }
    await this.refunds.applyExternalRefund(client, order, e);
  }

  async onRefundFailed(client: PoolClient, e: RefundFailed, ctx: EventContext): Promise<void> {
    if (e.instructionId === '') {
      // a refund asked of payment directly that failed moved no money; for a checkout's order it
      // may be a released checkout's money that escrow must now give back
      const orderId = e.paymentId.toLowerCase();
      if (!UUID.test(orderId)) return;
      const order = await lockOrder(client, orderId);
      if (order?.checkout_id) await this.checkouts.paymentRefundFailedFor(client, order, e, ctx.envelope.id);
      return;
    }
    await this.answer(client, 'refund', e.instructionId, failed(e.reason, 'REFUND_FAILED'));
  }

  async onChannelSplitSucceeded(client: PoolClient, e: ChannelSplitSucceeded): Promise<void> {
    await this.answer(client, 'split', e.instructionId, SUCCEEDED);
  }

  async onChannelSplitFailed(client: PoolClient, e: ChannelSplitFailed): Promise<void> {
    await this.answer(client, 'split', e.instructionId, failed(e.reason, 'CHANNEL_SPLIT_FAILED'));
  }

  async onChannelSplitReturnSucceeded(client: PoolClient, e: ChannelSplitReturnSucceeded): Promise<void> {
    await this.answer(client, 'split_return', e.instructionId, SUCCEEDED);
  }

  async onChannelSplitReturnFailed(client: PoolClient, e: ChannelSplitReturnFailed): Promise<void> {
    await this.answer(
      client,
      'split_return',
      e.instructionId,
      failed(e.reason, 'CHANNEL_SPLIT_RETURN_FAILED'),
    );
  }

  /**
   * Finds the instruction an answer is about, locks its order, and applies the answer where that
   * kind of instruction is handled (refunds and split returns by the refund saga, splits by the
   * transitions).
   */
  private async answer(
    client: PoolClient,
    kind: InstructionKind,
    instructionId: string,
    outcome: Outcome,
  ): Promise<void> {
    const id = instructionId.toLowerCase();
    const instruction = UUID.test(id) ? await findInstruction(client, id) : undefined;
    if (!instruction || instruction.kind !== kind) {
      this.logger.debug(
        { instruction_id: instructionId, kind },
        'answer to an instruction escrow did not send; ignored',
      );
      return;
    }
    const order = await lockOrder(client, instruction.order_id);
    if (!order)
      throw new Error(`instruction ${id} names order ${instruction.order_id}, which does not exist`);
    // re-read under the order's lock: the answer may have been applied meanwhile
    const current = await findInstruction(client, id);
    if (current?.status !== 'pending') return;
    switch (kind) {
      case 'refund':
        return this.refunds.applyRefundAnswer(client, order, current, outcome);
      case 'split':
        return this.transitions.applySplitAnswer(client, order, current, outcome);
      case 'split_return':
        return this.refunds.applySplitReturnAnswer(client, order, current, outcome);
    }
  }
}
