import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, requiredUuid, toTimestamp } from '@citybase/platform';
import {
  GetRefundRequest,
  GetRefundResponse,
  Refund,
  RefundPaymentRequest,
  RefundPaymentResponse,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { toRefundPaymentCommand } from './refunds.domain';
import { RefundsService } from './refunds.service';
import type { RefundRow } from './refunds.store';

/** Transport adapter of refunds: proto in, use case, proto out. */
@Controller()
export class RefundsGrpc {
  constructor(private readonly refunds: RefundsService) {}

  @GrpcMethod('PaymentService', 'refundPayment')
  async refundPayment(req: RefundPaymentRequest, metadata: Metadata): Promise<RefundPaymentResponse> {
    const cmd = toRefundPaymentCommand(req);
    return { refund: toProto(await this.refunds.refundPayment(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('PaymentService', 'getRefund')
  async getRefund(req: GetRefundRequest, metadata: Metadata): Promise<GetRefundResponse> {
    const refundId = requiredUuid('refund_id', req.refundId);
    return { refund: toProto(await this.refunds.getRefund(claimsOf(metadata), refundId)) };
  }
}

function toProto(row: RefundRow): Refund {
  return {
    refundId: row.refund_id,
    paymentId: row.payment_id,
    status: row.status,
    amount: { currency: row.currency, amountMinor: row.amount_minor },
    reason: row.reason,
    channelRefundId: row.channel_refund_id,
    createdAt: toTimestamp(row.created_at),
    completedAt: row.completed_at ? toTimestamp(row.completed_at) : undefined,
    failureReason: row.failure_reason,
  };
}
