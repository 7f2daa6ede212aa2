import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, Subscribe } from '@citybase/platform';
import { PaymentEvents } from '@citybase/contracts/events';
import { EarningService } from './earning.service';

/**
 * Payment's events as earning applies them, each inside the inbox transaction of the consumer
 * `points.earning` (ADR 0004: each applies once per event id): a payment earns, a refund takes back.
 */
@EventConsumer('points.earning')
@Injectable()
export class EarningEventHandlers implements EventSubscriber {
  constructor(private readonly earning: EarningService) {}

  subscribe(on: Subscribe): void {
    on(PaymentEvents.PaymentSucceeded, (client, event, ctx) =>
      this.earning.earn(client, event, ctx.envelope.id),
    );
    on(PaymentEvents.RefundSucceeded, (client, event, ctx) =>
      this.earning.reverse(client, event, ctx.envelope.id),
    );
  }
}
