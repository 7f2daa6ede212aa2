import { Module } from '@nestjs/common';
import { HoldExpiryJob } from './hold-expiry.job';
import { PayoutsGrpc } from './payouts.grpc';
import { PayoutsService } from './payouts.service';
import { ReconciliationGrpc } from './reconciliation.grpc';
import { ReconciliationService } from './reconciliation.service';
import { WalletsService } from './wallets.service';

/**
 * Payout cycles, resident wallets, hold expiry and reconciliation (issue 6 items 5-6;
 * docs/settlement-payouts.md): RunPayoutCycle, ConfirmPayout, ListPayouts, GetWallet,
 * WithdrawFromWallet, PayPropertyFeeFromWallet, ImportChannelStatement, GetReconciliationReport, and
 * the worker that expires holds nobody confirmed in time.
 */
@Module({
  controllers: [PayoutsGrpc, ReconciliationGrpc],
  providers: [PayoutsService, WalletsService, ReconciliationService, HoldExpiryJob],
})
export class PayoutsModule {}
