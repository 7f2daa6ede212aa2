import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  EventConsumer,
  EventContext,
  EventSubscriber,
  fromTimestamp,
  PG_POOL,
  Pool,
  PoolClient,
  Subscribe,
} from '@citybase/platform';
import { PaymentEvents } from '@citybase/contracts/events';
import type { PaymentCreated } from '@citybase/contracts/citybase/payment/v1/events';
import { findRecordedPayment, insertRecordedPayment, RecordedPaymentRow } from './recorded-payments.store';

@EventConsumer('settlement.payments')
@Injectable()
export class RecordedPaymentsService implements EventSubscriber {
  subscribe(on: Subscribe): void {
    on(PaymentEvents.PaymentCreated, (client, event, ctx) => this.onPaymentCreated(client, event, ctx));
  }

  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Applies a PaymentCreated event inside the inbox transaction. */
  async onPaymentCreated(client: PoolClient, event: PaymentCreated, ctx: EventContext): Promise<void> {
    if (!event.amount || !event.occurredAt)
      throw new Error(`PaymentCreated ${event.paymentId}: amount and occurred_at are required`);
    await insertRecordedPayment(client, {
      payment_id: event.paymentId,
      operator_id: event.tenancy?.operatorId ?? '',
      project_id: event.tenancy?.projectId ?? '',
      merchant_id: event.merchantId,
      scenario: event.scenario,
      currency: event.amount.currency,
      amount_minor: event.amount.amountMinor,
      channel: event.channel,
      occurred_at: fromTimestamp(event.occurredAt),
      event_id: ctx.envelope.id,
    });
  }

  async get(paymentId: string): Promise<RecordedPaymentRow> {
    const row = await findRecordedPayment(this.pool, paymentId);
    if (!row) throw DomainError.notFound('recorded payment', paymentId, 'RECORDED_PAYMENT_NOT_FOUND');
    return row;
  }
}
