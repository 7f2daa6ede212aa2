import { Module } from '@nestjs/common';
import { FundFlowsGrpc } from './fund-flows.grpc';
import { FundFlowsService } from './fund-flows.service';

/** Fund-flow supervision (QueryFundFlows): read-only totals over payments and refunds. */
@Module({ controllers: [FundFlowsGrpc], providers: [FundFlowsService] })
export class FundFlowsModule {}
