import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { requiredUuid, toTimestamp } from '@citybase/platform';
import {
  GetPaymentRequest,
  GetPaymentResponse,
  Payment,
  RecordPaymentRequest,
  RecordPaymentResponse,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { toRecordPaymentCommand } from './payments.domain';
import { PaymentsService } from './payments.service';
import type { PaymentRow } from './payments.store';

/** Transport adapter: proto in, use case, proto out. */
@Controller()
export class PaymentsGrpc {
  constructor(private readonly payments: PaymentsService) {}

  @GrpcMethod('PaymentService', 'recordPayment')
  async recordPayment(req: RecordPaymentRequest): Promise<RecordPaymentResponse> {
    return { payment: toProto(await this.payments.recordPayment(toRecordPaymentCommand(req))) };
  }

  @GrpcMethod('PaymentService', 'getPayment')
  async getPayment(req: GetPaymentRequest): Promise<GetPaymentResponse> {
    return { payment: toProto(await this.payments.getPayment(requiredUuid('payment_id', req.paymentId))) };
  }
}

function toProto(row: PaymentRow): Payment {
  return {
    paymentId: row.payment_id,
    status: row.status,
    amount: { currency: row.currency, amountMinor: row.amount_minor },
    scenario: row.scenario,
    tenancy: { operatorId: row.operator_id, projectId: row.project_id, merchantId: row.merchant_id },
    merchantId: row.merchant_id,
    createdAt: toTimestamp(row.created_at),
    channel: row.channel,
    description: row.description,
  };
}
