import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  QueryFundFlowsRequest,
  QueryFundFlowsResponse,
} from '@citybase/contracts/citybase/payment/v1/payment';
import { toFundFlowQuery } from './fund-flows.domain';
import { FundFlowsService } from './fund-flows.service';

/** Transport adapter of fund-flow supervision. */
@Controller()
export class FundFlowsGrpc {
  constructor(private readonly fundFlows: FundFlowsService) {}

  @GrpcMethod('PaymentService', 'queryFundFlows')
  async queryFundFlows(req: QueryFundFlowsRequest, metadata: Metadata): Promise<QueryFundFlowsResponse> {
    const query = toFundFlowQuery(req);
    return this.fundFlows.query(claimsOf(metadata), query);
  }
}
