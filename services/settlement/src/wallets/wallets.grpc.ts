import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { claimsOf } from '@citybase/platform';
import {
  GetWalletRequest,
  GetWalletResponse,
  PayPropertyFeeFromWalletRequest,
  PayPropertyFeeFromWalletResponse,
  WithdrawFromWalletRequest,
  WithdrawFromWalletResponse,
} from '@citybase/contracts/citybase/settlement/v1/settlement';
import { transactionProto } from '../ledger/ledger.service';
import { payoutProto } from '../payouts/payouts.service';
import { toPayPropertyFeeCommand, toWalletRef, toWithdrawCommand } from './wallets.domain';
import { walletProto } from './wallets.render';
import { WalletsService } from './wallets.service';

/** Transport adapter of residents' wallets: proto in, use case, proto out. */
@Controller()
export class WalletsGrpc {
  constructor(private readonly wallets: WalletsService) {}

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
    return { transaction: transactionProto({ tx, entries }), wallet: walletProto(wallet) };
  }
}
