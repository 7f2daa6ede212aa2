import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf, requiredUuid } from '@citybase/platform';
import {
  CompleteOrderRequest,
  CompleteOrderResponse,
  ExportTaxRecordsRequest,
  ExportTaxRecordsResponse,
  GetEscrowOrderRequest,
  GetEscrowOrderResponse,
  GetEscrowPositionsRequest,
  GetEscrowPositionsResponse,
  ListEscrowOrdersRequest,
  ListEscrowOrdersResponse,
  ListSplitRulesRequest,
  ListSplitRulesResponse,
  OpenDisputeRequest,
  OpenDisputeResponse,
  QueryTaxRecordsRequest,
  QueryTaxRecordsResponse,
  RefundOrderRequest,
  RefundOrderResponse,
  ResolveDisputeRequest,
  ResolveDisputeResponse,
  SetSplitRuleRequest,
  SetSplitRuleResponse,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { orderToProto, positionToProto, ruleToProto, taxRecordToProto } from './escrow.render';
import {
  toCompleteOrderCommand,
  toExportTaxRecordsQuery,
  toGetEscrowPositionsQuery,
  toListEscrowOrdersQuery,
  toListSplitRulesQuery,
  toOpenDisputeCommand,
  toQueryTaxRecordsQuery,
  toRefundOrderCommand,
  toResolveDisputeCommand,
  toSetSplitRuleCommand,
} from './escrow.requests';
import { EscrowService } from './escrow.service';
import { SplitRulesService } from './split-rules.service';
import { TaxRecordsService } from './tax-records.service';

/**
 * Transport adapter of escrow, split rules and tax records: proto in (validated before anything
 * is read), use case, proto out. Scopes are checked by the platform's guard from the proto.
 */
@Controller()
export class EscrowGrpc {
  constructor(
    private readonly escrow: EscrowService,
    private readonly rules: SplitRulesService,
    private readonly tax: TaxRecordsService,
  ) {}

  @GrpcMethod('SettlementService', 'setSplitRule')
  async setSplitRule(req: SetSplitRuleRequest, metadata: Metadata): Promise<SetSplitRuleResponse> {
    const cmd = toSetSplitRuleCommand(req);
    return { rule: ruleToProto(await this.rules.setRule(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('SettlementService', 'listSplitRules')
  async listSplitRules(req: ListSplitRulesRequest, metadata: Metadata): Promise<ListSplitRulesResponse> {
    const q = toListSplitRulesQuery(req);
    return { rules: (await this.rules.listRules(claimsOf(metadata), q)).map(ruleToProto) };
  }

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

  @GrpcMethod('SettlementService', 'queryTaxRecords')
  async queryTaxRecords(req: QueryTaxRecordsRequest, metadata: Metadata): Promise<QueryTaxRecordsResponse> {
    const q = toQueryTaxRecordsQuery(req);
    const { records, nextPageToken } = await this.tax.query(claimsOf(metadata), q);
    return { records: records.map(taxRecordToProto), page: { nextPageToken } };
  }

  @GrpcMethod('SettlementService', 'exportTaxRecords')
  async exportTaxRecords(
    req: ExportTaxRecordsRequest,
    metadata: Metadata,
  ): Promise<ExportTaxRecordsResponse> {
    const q = toExportTaxRecordsQuery(req);
    return { csv: await this.tax.exportCsv(claimsOf(metadata), q) };
  }
}
