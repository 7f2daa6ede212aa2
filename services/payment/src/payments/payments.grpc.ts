import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { assertTenancy, claimsOf, requiredUuid, toTimestamp } from '@citybase/platform';
import {
  ConfirmPaymentRequest,
  ConfirmPaymentResponse,
  CreatePaymentRequest,
  CreatePaymentResponse,
  GetPaymentRequest,
  GetPaymentResponse,
  Payment,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { isFinal, toCreatePaymentCommand } from './payments.domain';
import { PaymentsService } from './payments.service';
import type { PaymentRow } from './payments.store';

/** Transport adapter: proto in, use case, proto out. */
@Controller()
export class PaymentsGrpc {
  constructor(private readonly payments: PaymentsService) {}

  @GrpcMethod('PaymentService', 'createPayment')
  async createPayment(req: CreatePaymentRequest, metadata: Metadata): Promise<CreatePaymentResponse> {
    const cmd = toCreatePaymentCommand(req);
    const claims = claimsOf(metadata);
    assertTenancy(claims, { operatorId: cmd.operatorId, projectId: cmd.projectId });
    return { payment: toProto(await this.payments.createPayment(claims, cmd)) };
  }

  @GrpcMethod('PaymentService', 'getPayment')
  async getPayment(req: GetPaymentRequest, metadata: Metadata): Promise<GetPaymentResponse> {
    const paymentId = requiredUuid('payment_id', req.paymentId);
    return { payment: toProto(await this.payments.getPayment(claimsOf(metadata), paymentId)) };
  }

  @GrpcMethod('PaymentService', 'confirmPayment')
  async confirmPayment(req: ConfirmPaymentRequest, metadata: Metadata): Promise<ConfirmPaymentResponse> {
    const paymentId = requiredUuid('payment_id', req.paymentId);
    return { payment: toProto(await this.payments.confirmPayment(claimsOf(metadata), paymentId)) };
  }
}

export function toProto(row: PaymentRow): Payment {
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
    payUrl: isFinal(row.status) ? '' : row.pay_url,
    channelTransactionId: row.channel_transaction_id,
    expiresAt: toTimestamp(row.expires_at),
    completedAt: row.completed_at ? toTimestamp(row.completed_at) : undefined,
    refunded: { currency: row.currency, amountMinor: row.refunded_minor },
    failureReason: row.failure_reason,
    profitSharing: row.profit_sharing,
    payerRef: row.payer_ref,
  };
}
