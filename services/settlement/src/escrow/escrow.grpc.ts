import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, requiredUuid } from '@citybase/platform';
import {
  CompleteOrderRequest,
  CompleteOrderResponse,
  GetEscrowOrderRequest,
  GetEscrowOrderResponse,
  GetEscrowPositionsRequest,
  GetEscrowPositionsResponse,
  ListEscrowOrdersRequest,
  ListEscrowOrdersResponse,
  OpenDisputeRequest,
  OpenDisputeResponse,
  RefundOrderRequest,
  RefundOrderResponse,
  ResolveDisputeRequest,
  ResolveDisputeResponse,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { orderToProto, positionToProto } from './escrow.render';
import {
  toCompleteOrderCommand,
  toGetEscrowPositionsQuery,
  toListEscrowOrdersQuery,
  toOpenDisputeCommand,
  toRefundOrderCommand,
  toResolveDisputeCommand,
} from './escrow.requests';
import { EscrowService } from './escrow.service';

/**
 * Transport adapter of escrow orders, disputes and refunds: proto in (validated before anything
 * is read), use case, proto out. Scopes are checked by the platform's guard from the proto.
 */
@Controller()
export class EscrowGrpc {
  constructor(private readonly escrow: EscrowService) {}

  @GrpcMethod('SettlementService', 'getEscrowOrder')
  async getEscrowOrder(req: GetEscrowOrderRequest, metadata: Metadata): Promise<GetEscrowOrderResponse> {
    const orderId = requiredUuid('order_id', req.orderId);
    return { order: orderToProto(await this.escrow.getOrder(claimsOf(metadata), orderId)) };
  }

  @GrpcMethod('SettlementService', 'listEscrowOrders')
  async listEscrowOrders(
    req: ListEscrowOrdersRequest,
    metadata: Metadata,
  ): Promise<ListEscrowOrdersResponse> {
    const q = toListEscrowOrdersQuery(req);
    const { orders, nextPageToken } = await this.escrow.listOrders(claimsOf(metadata), q);
    return { orders: orders.map(orderToProto), page: { nextPageToken } };
  }

  @GrpcMethod('SettlementService', 'completeOrder')
  async completeOrder(req: CompleteOrderRequest, metadata: Metadata): Promise<CompleteOrderResponse> {
    const cmd = toCompleteOrderCommand(req);
    return { order: orderToProto(await this.escrow.completeOrder(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('SettlementService', 'openDispute')
  async openDispute(req: OpenDisputeRequest, metadata: Metadata): Promise<OpenDisputeResponse> {
    const cmd = toOpenDisputeCommand(req);
    return { order: orderToProto(await this.escrow.openDispute(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('SettlementService', 'resolveDispute')
  async resolveDispute(req: ResolveDisputeRequest, metadata: Metadata): Promise<ResolveDisputeResponse> {
    const cmd = toResolveDisputeCommand(req);
    return { order: orderToProto(await this.escrow.resolveDispute(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('SettlementService', 'refundOrder')
  async refundOrder(req: RefundOrderRequest, metadata: Metadata): Promise<RefundOrderResponse> {
    const cmd = toRefundOrderCommand(req);
    return { order: orderToProto(await this.escrow.refundOrder(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('SettlementService', 'getEscrowPositions')
  async getEscrowPositions(
    req: GetEscrowPositionsRequest,
    metadata: Metadata,
  ): Promise<GetEscrowPositionsResponse> {
    const q = toGetEscrowPositionsQuery(req);
    return { positions: (await this.escrow.positions(claimsOf(metadata), q)).map(positionToProto) };
  }
}
