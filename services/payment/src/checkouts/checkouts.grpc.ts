import type { Metadata } from '@grpc/grpc-js';
import { Controller, Inject } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, PG_POOL, Pool, requiredUuid } from '@citybase/platform';
import {
  CancelCheckoutRequest,
  CancelCheckoutResponse,
  CreateCheckoutRequest,
  CreateCheckoutResponse,
  GetCheckoutRequest,
  GetCheckoutResponse,
  ListCheckoutsRequest,
  ListCheckoutsResponse,
  RefundCheckoutRequest,
  RefundCheckoutResponse,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { findById as findPayment } from '../payments/payments.store';
import {
  toCancelCheckoutCommand,
  toCreateCheckoutCommand,
  toListCheckoutsQuery,
  toRefundCheckoutCommand,
} from './checkouts.domain';
import { checkoutRefundToProto, checkoutToProto } from './checkouts.render';
import { CheckoutsService } from './checkouts.service';
import type { CheckoutRow } from './checkouts.store';

/** Transport adapter of checkouts: proto in, validated into a command, use case, proto out. */
@Controller()
export class CheckoutsGrpc {
  constructor(
    private readonly checkouts: CheckoutsService,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  @GrpcMethod('PaymentService', 'createCheckout')
  async createCheckout(req: CreateCheckoutRequest, metadata: Metadata): Promise<CreateCheckoutResponse> {
    const cmd = toCreateCheckoutCommand(req);
    return { checkout: await this.render(await this.checkouts.createCheckout(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('PaymentService', 'getCheckout')
  async getCheckout(req: GetCheckoutRequest, metadata: Metadata): Promise<GetCheckoutResponse> {
    const checkoutId = requiredUuid('checkout_id', req.checkoutId);
    return { checkout: await this.render(await this.checkouts.getCheckout(claimsOf(metadata), checkoutId)) };
  }

  @GrpcMethod('PaymentService', 'cancelCheckout')
  async cancelCheckout(req: CancelCheckoutRequest, metadata: Metadata): Promise<CancelCheckoutResponse> {
    const cmd = toCancelCheckoutCommand(req);
    return { checkout: await this.render(await this.checkouts.cancelCheckout(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('PaymentService', 'refundCheckout')
  async refundCheckout(req: RefundCheckoutRequest, metadata: Metadata): Promise<RefundCheckoutResponse> {
    const cmd = toRefundCheckoutCommand(req);
    const { refund, checkout } = await this.checkouts.refundCheckout(claimsOf(metadata), cmd);
    return {
      refund: checkoutRefundToProto(refund, checkout.currency),
      checkout: await this.render(checkout),
    };
  }

  @GrpcMethod('PaymentService', 'listCheckouts')
  async listCheckouts(req: ListCheckoutsRequest, metadata: Metadata): Promise<ListCheckoutsResponse> {
    const q = toListCheckoutsQuery(req);
    const { items, nextPageToken } = await this.checkouts.listCheckouts(claimsOf(metadata), q);
    return { checkouts: items.map((c) => checkoutToProto(c)), page: { nextPageToken } };
  }

  /** With the open payment's pay URL (where the payer pays the money part). */
  private async render(c: CheckoutRow): Promise<ReturnType<typeof checkoutToProto>> {
    const payment =
      c.payment_id !== null && c.status !== 'COMPLETED' && c.status !== 'RELEASED'
        ? await findPayment(this.pool, c.payment_id)
        : undefined;
    return checkoutToProto(c, payment?.pay_url ?? '');
  }
}
