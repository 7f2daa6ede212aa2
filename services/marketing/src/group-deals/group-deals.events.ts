import { Injectable } from '@nestjs/common';
import { EventConsumer, EventSubscriber, Subscribe } from '@citybase/platform';
import { PaymentScenario } from '@citybase/contracts/citybase/payment/v1/payment';
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
    // a participant's payment is one marketing made, always GROUP_BUY (GroupDealsService.createPayment):
    // every other payment's outcome or refund (which carries its payment's scenario) is declined
    // before any database work
    const groupBuy = {
      only: (e: { scenario: PaymentScenario }) => e.scenario === PaymentScenario.PAYMENT_SCENARIO_GROUP_BUY,
    };
    on(
      PaymentEvents.PaymentSucceeded,
      (client, event) => this.deals.paymentSucceeded(client, event),
      groupBuy,
    );
    on(PaymentEvents.PaymentFailed, (client, event) => this.deals.paymentFailed(client, event), groupBuy);
    on(PaymentEvents.PaymentExpired, (client, event) => this.deals.paymentFailed(client, event), groupBuy);
    on(PaymentEvents.RefundSucceeded, (client, event) => this.deals.refundSucceeded(client, event), groupBuy);
  }
}
