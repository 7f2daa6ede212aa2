import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  ConfirmPayoutRequest,
  ConfirmPayoutResponse,
  ListPayoutsRequest,
  ListPayoutsResponse,
  RunPayoutCycleRequest,
  RunPayoutCycleResponse,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { toConfirmPayoutCommand, toListPayoutsQuery, toRunPayoutCycleCommand } from './payouts.domain';
import { payoutProto } from './payouts.render';
import { PayoutsService } from './payouts.service';

/** Transport adapter of payouts: proto in, use case, proto out. */
@Controller()
export class PayoutsGrpc {
  constructor(private readonly payouts: PayoutsService) {}

  @GrpcMethod('SettlementService', 'runPayoutCycle')
  async runPayoutCycle(req: RunPayoutCycleRequest, metadata: Metadata): Promise<RunPayoutCycleResponse> {
    const cmd = toRunPayoutCycleCommand(req);
    const { batchId, payouts } = await this.payouts.runPayoutCycle(claimsOf(metadata), cmd);
    return { batchId, payouts: payouts.map(payoutProto) };
  }

  @GrpcMethod('SettlementService', 'confirmPayout')
  async confirmPayout(req: ConfirmPayoutRequest, metadata: Metadata): Promise<ConfirmPayoutResponse> {
    const cmd = toConfirmPayoutCommand(req);
    return { payout: payoutProto(await this.payouts.confirmPayout(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('SettlementService', 'listPayouts')
  async listPayouts(req: ListPayoutsRequest, metadata: Metadata): Promise<ListPayoutsResponse> {
    const q = toListPayoutsQuery(req);
    const { payouts, nextPageToken } = await this.payouts.listPayouts(claimsOf(metadata), q);
    return { payouts: payouts.map(payoutProto), page: { nextPageToken } };
  }
}
