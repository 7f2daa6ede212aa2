import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, DomainError, inTenancy, requiredUuid, toTimestamp } from '@citybase/platform';
import {
  GetRecordedPaymentRequest,
  GetRecordedPaymentResponse,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { RecordedPaymentsService } from './recorded-payments.service';

@Controller()
export class RecordedPaymentsGrpc {
  constructor(private readonly recorded: RecordedPaymentsService) {}

  @GrpcMethod('SettlementService', 'getRecordedPayment')
  async getRecordedPayment(
    req: GetRecordedPaymentRequest,
    metadata: Metadata,
  ): Promise<GetRecordedPaymentResponse> {
    const paymentId = requiredUuid('payment_id', req.paymentId);
    const row = await this.recorded.get(paymentId);
    // another tenant's record answers exactly like a missing one
    if (!inTenancy(claimsOf(metadata), { operatorId: row.operator_id, projectId: row.project_id })) {
      throw DomainError.notFound('recorded payment', paymentId, 'RECORDED_PAYMENT_NOT_FOUND');
    }
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
