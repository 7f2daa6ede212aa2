import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, Subscribe } from '@citybase/platform';
import { PaymentEvents } from '@citybase/contracts/events';
import { RedemptionsService } from './redemptions.service';

/**
 * Payment's refunds as redemptions apply them, each inside the inbox transaction of the consumer
 * `marketing.redemptions` (ADR 0004: each applies once per event id): a full refund of a payment
 * rolls back the coupon redemptions that reference it; a checkout refund that restores the coupon
 * (CheckoutRefunded coupon_restored) rolls back the checkout's redemption, and so does a checkout
 * released after its coupon was confirmed (CheckoutReleased: a later part refused confirmation).
 */
@EventConsumer('marketing.redemptions')
@Injectable()
export class RedemptionEventHandlers implements EventSubscriber {
  constructor(private readonly redemptions: RedemptionsService) {}

  subscribe(on: Subscribe): void {
    on(PaymentEvents.RefundSucceeded, (client, event, ctx) =>
      this.redemptions.rollBackOnRefund(client, event, ctx.envelope.id),
    );
    on(PaymentEvents.CheckoutRefunded, (client, event, ctx) =>
      this.redemptions.rollBackOnCheckoutRefund(client, event, ctx.envelope.id),
    );
    on(PaymentEvents.CheckoutReleased, (client, event, ctx) =>
      this.redemptions.rollBackOnCheckoutRelease(client, event, ctx.envelope.id),
    );
  }
}
