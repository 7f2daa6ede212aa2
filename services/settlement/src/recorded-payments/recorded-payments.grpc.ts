import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { requiredUuid, toTimestamp } from '@citybase/platform';
import {
  GetRecordedPaymentRequest,
  GetRecordedPaymentResponse,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { RecordedPaymentsService } from './recorded-payments.service';

@Controller()
export class RecordedPaymentsGrpc {
  constructor(private readonly recorded: RecordedPaymentsService) {}

  @GrpcMethod('SettlementService', 'getRecordedPayment')
  async getRecordedPayment(req: GetRecordedPaymentRequest): Promise<GetRecordedPaymentResponse> {
    const row = await this.recorded.get(requiredUuid('payment_id', req.paymentId));
    return {
      recordedPayment: {
        paymentId: row.payment_id,
        tenancy: { operatorId: row.operator_id, projectId: row.project_id, merchantId: row.merchant_id },
        merchantId: row.merchant_id,
        amount: { currency: row.currency, amountMinor: row.amount_minor },
        recordedAt: toTimestamp(row.recorded_at),
      },
    };
  }
}
