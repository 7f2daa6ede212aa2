import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, Subscribe } from '@citybase/platform';
import { PaymentEvents } from '@citybase/contracts/events';
import { AccountsService } from './accounts.service';

/**
 * Payment's checkout refunds as accounts apply them, each inside the inbox transaction of the
 * consumer `points.checkouts` (ADR 0004: each applies once per event id): the refund's points go
 * back to their holder (docs/points.md "Returns on checkout refunds").
 */
@EventConsumer('points.checkouts')
@Injectable()
export class CheckoutRefundHandlers implements EventSubscriber {
  constructor(private readonly accounts: AccountsService) {}

  subscribe(on: Subscribe): void {
    on(PaymentEvents.CheckoutRefunded, (client, event, ctx) =>
      this.accounts.returnOnCheckoutRefund(client, event, ctx.envelope.id),
    );
  }
}
