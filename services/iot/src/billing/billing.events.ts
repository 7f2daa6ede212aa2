import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, Subscribe } from '@citybase/platform';
import { PaymentEvents } from '@citybase/contracts/events';
import { BillingService } from './billing.service';

/**
 * Payment's outcomes of iot's parking and charging payments and of its charging checkouts, each
 * applied once per event id in the inbox transaction of consumer `iot.billing`.
 */
@EventConsumer('iot.billing')
@Injectable()
export class BillingEventHandlers implements EventSubscriber {
  constructor(private readonly billing: BillingService) {}

  subscribe(on: Subscribe): void {
    on(PaymentEvents.PaymentSucceeded, (client, e) => this.billing.paymentEnded(client, e, 'SUCCEEDED'));
    on(PaymentEvents.PaymentFailed, (client, e) => this.billing.paymentEnded(client, e, 'FAILED'));
    on(PaymentEvents.PaymentExpired, (client, e) => this.billing.paymentEnded(client, e, 'EXPIRED'));
    on(PaymentEvents.CheckoutCompleted, (client, e) => this.billing.checkoutEnded(client, e, 'SUCCEEDED'));
    on(PaymentEvents.CheckoutReleased, (client, e) => this.billing.checkoutEnded(client, e, 'RELEASED'));
  }
}
