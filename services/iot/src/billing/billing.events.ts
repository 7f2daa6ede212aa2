import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, Subscribe } from '@citybase/platform';
import { PaymentEvents } from '@citybase/contracts/events';
import { billedCheckout, billedPayment } from './billing.domain';
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
    const payments = { only: billedPayment };
    const checkouts = { only: billedCheckout };
    on(
      PaymentEvents.PaymentSucceeded,
      (client, e) => this.billing.paymentEnded(client, e, 'SUCCEEDED'),
      payments,
    );
    on(PaymentEvents.PaymentFailed, (client, e) => this.billing.paymentEnded(client, e, 'FAILED'), payments);
    on(
      PaymentEvents.PaymentExpired,
      (client, e) => this.billing.paymentEnded(client, e, 'EXPIRED'),
      payments,
    );
    on(
      PaymentEvents.CheckoutCompleted,
      (client, e) => this.billing.checkoutEnded(client, e, 'SUCCEEDED'),
      checkouts,
    );
    on(
      PaymentEvents.CheckoutReleased,
      (client, e) => this.billing.checkoutEnded(client, e, 'RELEASED'),
      checkouts,
    );
  }
}
