import { Module } from '@nestjs/common';
import { LedgerModule } from '../ledger/ledger.module';
import { PayoutsModule } from '../payouts/payouts.module';
import { WalletsGrpc } from './wallets.grpc';
import { WalletsService } from './wallets.service';

/**
 * Residents' wallets (issue 6 item 5; docs/settlement-payouts.md): GetWallet, WithdrawFromWallet
 * (a payout, through PayoutsService) and PayPropertyFeeFromWallet.
 */
@Module({
  imports: [LedgerModule, PayoutsModule],
  controllers: [WalletsGrpc],
  providers: [WalletsService],
})
export class WalletsModule {}
