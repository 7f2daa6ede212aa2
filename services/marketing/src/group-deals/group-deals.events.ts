import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, Subscribe } from '@citybase/platform';
import { PaymentEvents } from '@citybase/contracts/events';
import { GroupDealsService } from './group-deals.service';

/**
 * Payment's events as group buying applies them, each inside the inbox transaction of the consumer
 * `marketing.group-deals` (once per event id): a participant's payment succeeded, failed or
 * expired, or was refunded.
 */
@EventConsumer('marketing.group-deals')
@Injectable()
export class GroupDealsEventHandlers implements EventSubscriber {
  constructor(private readonly deals: GroupDealsService) {}

  subscribe(on: Subscribe): void {
    on(PaymentEvents.PaymentSucceeded, (client, event) => this.deals.paymentSucceeded(client, event));
    on(PaymentEvents.PaymentFailed, (client, event) => this.deals.paymentFailed(client, event));
    on(PaymentEvents.PaymentExpired, (client, event) => this.deals.paymentFailed(client, event));
    on(PaymentEvents.RefundSucceeded, (client, event) => this.deals.refundSucceeded(client, event));
  }
}
