import { randomUUID } from 'crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  DomainError,
  Logger,
  LOGGER,
  Outbox,
  OUTBOX,
  PG_POOL,
  Pool,
  toTimestamp,
  withTransaction,
} from '@citybase/platform';
import { PaymentEvents } from '@citybase/contracts/events';
import { fingerprint, RecordPaymentCommand } from './payments.domain';
import { findById, findByRequestId, insertPayment, PaymentRow } from './payments.store';

@Injectable()
export class PaymentsService {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(OUTBOX) private readonly outbox: Outbox,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Records a payment and its PaymentCreated event in one transaction. Idempotent by request_id:
   * a retry gets the stored payment and publishes nothing new; the same key with a different
   * request is refused.
   */
  async recordPayment(cmd: RecordPaymentCommand): Promise<PaymentRow> {
    const hash = fingerprint(cmd);
    const payment = await withTransaction(this.pool, async (client) => {
      const created = await insertPayment(client, randomUUID(), cmd, hash);
      if (!created) {
        // A concurrent first attempt holds the key until it commits; this read waits for it.
        const existing = await findByRequestId(client, cmd.requestId);
        if (!existing)
          throw DomainError.precondition(
            'REQUEST_IN_FLIGHT',
            'request_id: the first request with this key did not complete; retry',
          );
        if (existing.request_hash !== hash) {
          throw new DomainError(
            'already_exists',
            'REQUEST_ID_REUSED',
            'request_id: already used for a different request',
            { field: 'request_id', rule: 'must identify one request' },
          );
        }
        return existing;
      }
      await this.outbox.enqueue(
        client,
        PaymentEvents.PaymentCreated,
        {
          paymentId: created.payment_id,
          tenancy: {
            operatorId: created.operator_id,
            projectId: created.project_id,
            merchantId: created.merchant_id,
          },
          merchantId: created.merchant_id,
          scenario: created.scenario,
          amount: { currency: created.currency, amountMinor: created.amount_minor },
          channel: created.channel,
          occurredAt: toTimestamp(created.created_at),
        },
        {
          key: created.payment_id,
          subject: created.payment_id,
          tenancy: {
            operatorId: created.operator_id,
            projectId: created.project_id,
            merchantId: created.merchant_id,
          },
        },
      );
      return created;
    });
    this.logger.info(
      { payment_id: payment.payment_id, project_id: payment.project_id, scenario: payment.scenario },
      'payment recorded',
    );
    return payment;
  }

  async getPayment(paymentId: string): Promise<PaymentRow> {
    const row = await findById(this.pool, paymentId);
    if (!row) throw DomainError.notFound('payment', paymentId, 'PAYMENT_NOT_FOUND');
    return row;
  }
}
