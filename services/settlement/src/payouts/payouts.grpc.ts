import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  ConfirmPayoutRequest,
  ConfirmPayoutResponse,
  GetWalletRequest,
  GetWalletResponse,
  ListPayoutsRequest,
  ListPayoutsResponse,
  PayPropertyFeeFromWalletRequest,
  PayPropertyFeeFromWalletResponse,
  RunPayoutCycleRequest,
  RunPayoutCycleResponse,
  WithdrawFromWalletRequest,
  WithdrawFromWalletResponse,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import {
  toConfirmPayoutCommand,
  toListPayoutsQuery,
  toPayPropertyFeeCommand,
  toRunPayoutCycleCommand,
  toWalletRef,
  toWithdrawCommand,
} from './payouts.domain';
import { payoutProto, transactionProto, walletProto } from './payouts.render';
import { PayoutsService } from './payouts.service';
import { WalletsService } from './wallets.service';

/** Transport adapter of payouts and wallets: proto in, use case, proto out. */
@Controller()
export class PayoutsGrpc {
  constructor(
    private readonly payouts: PayoutsService,
    private readonly wallets: WalletsService,
  ) {}

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

  @GrpcMethod('SettlementService', 'getWallet')
  async getWallet(req: GetWalletRequest, metadata: Metadata): Promise<GetWalletResponse> {
    const ref = toWalletRef(req);
    return { wallet: walletProto(await this.wallets.getWallet(claimsOf(metadata), ref)) };
  }

  @GrpcMethod('SettlementService', 'withdrawFromWallet')
  async withdrawFromWallet(
    req: WithdrawFromWalletRequest,
    metadata: Metadata,
  ): Promise<WithdrawFromWalletResponse> {
    const cmd = toWithdrawCommand(req);
    return { payout: payoutProto(await this.wallets.withdraw(claimsOf(metadata), cmd)) };
  }

  @GrpcMethod('SettlementService', 'payPropertyFeeFromWallet')
  async payPropertyFeeFromWallet(
    req: PayPropertyFeeFromWalletRequest,
    metadata: Metadata,
  ): Promise<PayPropertyFeeFromWalletResponse> {
    const cmd = toPayPropertyFeeCommand(req);
    const { tx, entries, wallet } = await this.wallets.payPropertyFee(claimsOf(metadata), cmd);
    return { transaction: transactionProto(tx, entries), wallet: walletProto(wallet) };
  }
}
